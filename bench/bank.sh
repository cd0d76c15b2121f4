#!/usr/bin/env bash
# The economy's load figures on the local PostgreSQL and Redis, release build:
#
#   bench/bank.sh [ARENA_BINARY]
#
# Makes the database arena_bench_bank anew, starts `arena` on it (or ARENA_BINARY) and runs
# `arena-bank-load`: single-row INSERTs by a plain client (the database's own rate, the
# reference), transfers through GraphQL among 50 players, and gifts of one unlimited item
# (each a purchase), each beside one client on the idle server; then checks that the books
# balance.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one);
# ARENA_BENCH_SECONDS sets the length of each scenario (default 10),
# ARENA_BENCH_CONNECTIONS the concurrency (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="${admin/\/postgres\?/\/arena_bench_bank?}"
redis="${ARENA_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

cargo build --release -q --bins -p arena-api -p arena-bench
release="$CARGO_TARGET_DIR/release"
arena="${1:-$release/arena}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

psql "$admin" -qc "DROP DATABASE IF EXISTS arena_bench_bank WITH (FORCE)" \
    -c "CREATE DATABASE arena_bench_bank"
DATABASE_URL="$db" RUST_LOG=warn "$arena" migrate up

port=$(free_port)
echo "== serving: $arena"
DATABASE_URL="$db" REDIS_URL="$redis" ARENA_REDIS_KEY_PREFIX="arena:bench:$$:" \
    ARENA_BIND="127.0.0.1:$port" ARENA_AUTH_RATE_PER_MINUTE=1000000 RUST_LOG=warn \
    ARENA_DASHBOARD_DIR=/nonexistent ARENA_TRUSTED_CREATOR_APPROVALS=0 \
    "$arena" serve & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done

"$release/arena-bank-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-200}" --seconds "${ARENA_BENCH_SECONDS:-10}"
