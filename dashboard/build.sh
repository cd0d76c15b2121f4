#!/usr/bin/env bash
# Builds the dashboard into dashboard/dist (served by Arena under /admin): the wasm
# library, its JS glue from wasm-bindgen, and the static files. Installs the wasm target
# and the wasm-bindgen CLI (the exact version Cargo.lock holds) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-target}"
wanted=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if [ "$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2)" != "$wanted" ]; then
  # Without --locked: the CLI's own lockfile names a crate version the registry lacks.
  cargo install wasm-bindgen-cli --version "$wanted"
fi

cargo build --release -p arena-dashboard --target wasm32-unknown-unknown
rm -rf dashboard/dist
mkdir -p dashboard/dist
wasm-bindgen --target web --no-typescript --out-dir dashboard/dist \
  "$target_dir/wasm32-unknown-unknown/release/arena_dashboard.wasm"
cp dashboard/index.html dashboard/style.css dashboard/dist/
echo "dashboard built into dashboard/dist"
