#!/usr/bin/env bash
# The sign-in storm's figures on the local PostgreSQL and Redis, release build:
#
#   bench/storm.sh [ARENA_BINARY]
#
# Starts `arena` (or ARENA_BINARY) on a fresh database with the production bcrypt cost and
# its default pool and queue, and runs `arena-storm`: 200 clients signing in at once, each
# waiting as long as a RATE_LIMITED answer's retry hint says, while a probe sends a cheap
# signed-in query every 20 ms. It prints sign-ins per second beside the machine's bcrypt
# limit (cores ÷ the time of one hash, measured first), every answer by code, and the cheap
# query's p99 beside its p99 on the idle server. Exits non-zero if any answer was not a session or
# RATE_LIMITED.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one); the database
# arena_bench_storm on it is dropped and made anew. ARENA_BENCH_SECONDS sets the counted
# time (default 20), ARENA_BENCH_CLIENTS the clients (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="${admin/\/postgres\?/\/arena_bench_storm?}"
redis="${ARENA_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

cargo build --release -q --bins -p arena-api -p arena-bench
release="$CARGO_TARGET_DIR/release"
arena="${1:-$release/arena}"
psql "$admin" -qc "DROP DATABASE IF EXISTS arena_bench_storm WITH (FORCE)" \
    -c "CREATE DATABASE arena_bench_storm"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
echo "== serving: $arena"
DATABASE_URL="$db" REDIS_URL="$redis" ARENA_REDIS_KEY_PREFIX="arena:bench:$$:" \
    ARENA_BIND="127.0.0.1:$port" ARENA_AUTH_RATE_PER_MINUTE=1000000 RUST_LOG=warn \
    ARENA_DASHBOARD_DIR=/nonexistent "$arena" serve & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done

"$release/arena-storm" --url "http://127.0.0.1:$port" --server-pid "${pids[0]}" \
    --clients "${ARENA_BENCH_CLIENTS:-200}" --seconds "${ARENA_BENCH_SECONDS:-20}"
