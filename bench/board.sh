#!/usr/bin/env bash
# One leaderboard of 1,000,000 players on the local PostgreSQL and Redis, release build:
#
#   bench/board.sh [ARENA_BINARY]
#
# Makes the database arena_bench_board anew, starts `arena` on it (or ARENA_BINARY) and runs
# `arena-board-load`: the records written by plain SQL (the reference), the rank index built
# from them, a player's rank, the players around one and the top 100 timed in the service,
# rank queries over GraphQL beside `{ __typename }`, and score writes through ingestEvents
# beside plain SQL updates of as many records.
#
# ARENA_BENCH_PLAYERS sets the board's size (default 1000000), ARENA_BENCH_SECONDS each
# scenario's length (default 10), ARENA_BENCH_CONNECTIONS the clients (default 8).
set -euo pipefail
source "$(dirname "$0")/serve.sh"
bench_setup board "${1:-}"
bench_fresh_db
bench_serve ARENA_BCRYPT_COST=4 ARENA_ANALYTICS_RATE_PER_MINUTE=100000000

"$release/arena-board-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --redis-url "$redis" --redis-prefix "arena:bench:$$:" \
    --players "${ARENA_BENCH_PLAYERS:-1000000}" \
    --connections "${ARENA_BENCH_CONNECTIONS:-8}" --seconds "${ARENA_BENCH_SECONDS:-10}"
