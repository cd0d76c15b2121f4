#!/usr/bin/env bash
# Play's load figures on the local PostgreSQL and Redis, release build:
#
#   bench/play.sh [ARENA_BINARY]
#
# Makes the database arena_bench_play anew, starts `arena` on it (or ARENA_BINARY) and runs
# `arena-play-load`: the plans of the selection statements, single-row INSERTs by a plain
# client (the database's own rate, the reference), Play among 10,000 servers with 100,000
# friendships, and servers validating and pinging sessions, each beside one client on the
# idle server; then checks every server's count against its live sessions. The server pings
# are an hour apart (the servers are made in the database and ping once); bcrypt runs at
# cost 4 (only the set-up signs in).
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one; see serve.sh);
# ARENA_BENCH_SECONDS sets the length of each scenario (default 10),
# ARENA_BENCH_CONNECTIONS the concurrency (default 200), ARENA_BENCH_PLAY_RATE the pace of the
# paced Play scenario (default 1000 a second).
set -euo pipefail
source "$(dirname "$0")/serve.sh"
bench_setup play "${1:-}"
bench_fresh_db
bench_serve ARENA_BCRYPT_COST=4 ARENA_SERVER_PING_SECONDS=3600 ARENA_SESSION_TIMEOUT_SECONDS=3600

"$release/arena-play-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-200}" --seconds "${ARENA_BENCH_SECONDS:-10}" \
    --play-rate "${ARENA_BENCH_PLAY_RATE:-1000}"
