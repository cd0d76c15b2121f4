#!/usr/bin/env bash
# Crawler benchmarks against the simulator and the local PostgreSQL, release build.
#
#   bench/crawler.sh limited R K      K application ids, each limited to R requests/s by the
#                                     simulator; K workers; about 60 s of work. Target:
#                                     accounts/s >= 95% of 100*R*K, zero rate-limit answers.
#   bench/crawler.sh unlimited [IDS]  no limit; a coordinator and two worker processes over
#                                     IDS account ids (default 1,000,000). Reports accounts/s
#                                     to committed rows, the coordinator's peak memory, and
#                                     the share of the crawl spent writing.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one); the database
# arena_bench on it is dropped and made anew.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
mode="${1:?usage: bench/crawler.sh limited R K | unlimited [IDS]}"
admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="${admin/\/postgres\?/\/arena_bench?}"

cargo build --release -q -p arena-crawler
bin="$CARGO_TARGET_DIR/release/arena-crawler"
psql "$admin" -qc "DROP DATABASE IF EXISTS arena_bench WITH (FORCE)" -c "CREATE DATABASE arena_bench"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
sim_port=$(free_port)
coord_port=$(free_port)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

export DATABASE_URL="$db" RUST_LOG=warn
export ARENA_CRAWLER_API_URL="http://127.0.0.1:$sim_port/"
export ARENA_CRAWLER_BIND="127.0.0.1:$coord_port"
export ARENA_CRAWLER_COORDINATOR_URL="ws://127.0.0.1:$coord_port/ws"
export ARENA_CRAWLER_TOKEN=bench ARENA_CRAWLER_PS_RANGE=off ARENA_CRAWLER_DATE=2026-11-01

case "$mode" in
limited)
    rps="${2:?R}"; keys="${3:?K}"
    "$bin" simulate-api --bind "127.0.0.1:$sim_port" --rate-limit "$rps" & pids+=($!)
    ids=$((100 * rps * keys * 60))
    export ARENA_CRAWLER_XBOX_RANGE="1-$ids"
    export ARENA_CRAWLER_APP_IDS="$(seq -s, -f "key%g:$rps" 1 "$keys")"
    sleep 0.5
    echo "limited: R=$rps K=$keys target $((100 * rps * keys)) accounts/s over $ids ids"
    "$bin" run --workers "$keys"
    ;;
unlimited)
    ids="${2:-1000000}"
    # Each process reports its CPU time and peak memory when it ends (GNU time).
    timed() { /usr/bin/time -f "cpu $1: %U s user + %S s system, peak %M KiB" "${@:2}"; }
    timed simulator "$bin" simulate-api --bind "127.0.0.1:$sim_port" & sim=$!
    export ARENA_CRAWLER_XBOX_RANGE="1-$ids" ARENA_CRAWLER_APP_IDS="w1:100000,w2:100000"
    sleep 0.5
    echo "unlimited: $ids ids, coordinator and two worker processes"
    # Busy CPU of the whole machine (/proc/stat, in ticks of 1/100 s).
    busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
    busy_before=$(busy)
    timed coordinator "$bin" coordinator & coord=$!
    sleep 1
    timed worker-1 "$bin" worker & w1=$!
    timed worker-2 "$bin" worker & w2=$!
    wait "$coord" "$w1" "$w2"
    echo "simulator: $(curl -s "http://127.0.0.1:$sim_port/stats")"
    pkill -INT -f "simulate-api --bind 127.0.0.1:$sim_port"
    wait "$sim" || true
    echo "cpu machine, all processes (PostgreSQL is what the lines above do not account for): $(( ($(busy) - busy_before) / 100 )) s"
    psql "$db" -qAtc "SELECT 'rows committed: ' || (SELECT count(*) FROM battle_players) || ' players, ' || (SELECT count(*) FROM battle_totals) || ' totals, ' || (SELECT count(*) FROM battle_diffs) || ' diffs'"
    exit 0
    ;;
*) echo "unknown mode $mode" >&2; exit 2 ;;
esac
echo "simulator: $(curl -s "http://127.0.0.1:$sim_port/stats")"
