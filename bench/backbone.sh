#!/usr/bin/env bash
# The backbone's load figures on the local PostgreSQL and Redis, release build:
#
#   bench/backbone.sh [ARENA_BINARY]
#
# Fills a fresh database with about 100,000 battle players and seven days of history (seven
# crawls of the simulator, one per day), starts `arena` on it (or ARENA_BINARY, to measure
# another build against the same data), and runs `arena-load`: a query that reads nothing
# (the floor of the HTTP and GraphQL path), a public 20-row page, the same page with 7 days
# of history per player, the signed-in page, statements per signed-in request, and token
# refreshes per second; each beside the rate a plain database client gets for the same SQL
# in the same run, and one client's latency on the idle server.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one); the database
# arena_bench_backbone on it is dropped and made anew. ARENA_BENCH_SECONDS sets the length of
# each scenario (default 10), ARENA_BENCH_CONNECTIONS the concurrency (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="${admin/\/postgres\?/\/arena_bench_backbone?}"
redis="${ARENA_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

cargo build --release -q --bins -p arena-api -p arena-crawler -p arena-bench
release="$CARGO_TARGET_DIR/release"
arena="${1:-$release/arena}"
psql "$admin" -qc "DROP DATABASE IF EXISTS arena_bench_backbone WITH (FORCE)" \
    -c "CREATE DATABASE arena_bench_backbone"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

echo "== filling: 7 daily crawls of 117,700 ids"
for day in 1 2 3 4 5 6 7; do
    sim_port=$(free_port)
    "$release/arena-crawler" simulate-api --bind "127.0.0.1:$sim_port" --day "$((day - 1))" & sim=$!
    sleep 0.3
    DATABASE_URL="$db" RUST_LOG=warn ARENA_CRAWLER_API_URL="http://127.0.0.1:$sim_port/" \
        ARENA_CRAWLER_BIND="127.0.0.1:$(free_port)" ARENA_CRAWLER_TOKEN=bench \
        ARENA_CRAWLER_XBOX_RANGE=1-117700 ARENA_CRAWLER_PS_RANGE=off ARENA_CRAWLER_GROWTH_STEP=0 \
        ARENA_CRAWLER_APP_IDS="w1:100000,w2:100000" ARENA_CRAWLER_DATE="2026-11-0$day" \
        "$release/arena-crawler" run --workers 2 > /dev/null
    kill "$sim"; wait "$sim" 2>/dev/null || true
done
psql "$db" -qAtc "SELECT count(*) || ' players, ' || (SELECT count(*) FROM battle_totals) || ' daily totals, ' || (SELECT count(*) FROM battle_diffs) || ' daily diffs' FROM battle_players"
psql "$db" -qc "VACUUM ANALYZE"

port=$(free_port)
echo "== serving: $arena"
DATABASE_URL="$db" REDIS_URL="$redis" ARENA_REDIS_KEY_PREFIX="arena:bench:$$:" \
    ARENA_BIND="127.0.0.1:$port" ARENA_AUTH_RATE_PER_MINUTE=1000000 RUST_LOG=warn \
    ARENA_DASHBOARD_DIR=/nonexistent "$arena" serve & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done

"$release/arena-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-32}" --seconds "${ARENA_BENCH_SECONDS:-10}"
