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
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one; see serve.sh);
# ARENA_BENCH_SECONDS sets the length of each scenario (default 10),
# ARENA_BENCH_CONNECTIONS the concurrency (default 200).
set -euo pipefail
source "$(dirname "$0")/serve.sh"
bench_setup bank "${1:-}"
bench_fresh_db
bench_serve 

"$release/arena-bank-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-200}" --seconds "${ARENA_BENCH_SECONDS:-10}"
