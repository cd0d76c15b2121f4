#!/usr/bin/env bash
# The event pipeline's load figures on the local PostgreSQL and Redis, release build:
#
#   bench/events.sh [ARENA_BINARY [LOAD_OPTIONS...]]
#
# Makes the database arena_bench_events anew, starts `arena` on it (or ARENA_BINARY) and runs
# `arena-events-load`: the raw bulk INSERT of the events' rows (the reference), then ingest
# to committed effects (statistics, a +1 board, an ELO board, a quest paying through the
# ledger) and the checks that they add up; then live pushes of a board's top to 1,000 and
# 10,000 websocket subscribers at 1,000 events a second, beside one subscriber at ten.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one; see serve.sh);
# ARENA_BENCH_SECONDS sets the length of each scenario (default 10), ARENA_BENCH_CONNECTIONS
# the ingesting clients (default 4), ARENA_BENCH_SUBSCRIBERS the live scenarios (default
# 1000,10000).
set -euo pipefail
source "$(dirname "$0")/serve.sh"
bench_setup events "${1:-}"
bench_fresh_db
bench_serve ARENA_BCRYPT_COST=4 ARENA_WS_MAX_PER_ADDRESS=20000 ARENA_WS_MAX_TOTAL=20000

"$release/arena-events-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-4}" --seconds "${ARENA_BENCH_SECONDS:-10}" \
    --subscribers "${ARENA_BENCH_SUBSCRIBERS:-1000,10000}" "${@:2}"
