# Sourced by the load scripts: `bench_setup NAME [ARENA_BINARY]` builds the release binaries
# and names the database arena_bench_NAME; `bench_fresh_db` makes it anew and migrates it;
# `bench_serve [VAR=VALUE …]` starts `arena` on it (with the extra environment) and waits
# until it is ready on $port. The server stops when the script exits.
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one),
# ARENA_BENCH_REDIS_URL the Redis server.

bench_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/.."
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
  bench_name="arena_bench_$1"
  admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
  db="${admin/\/postgres\?/\/$bench_name?}"
  redis="${ARENA_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"
  cargo build --release -q --bins -p arena-api -p arena-bench
  release="$CARGO_TARGET_DIR/release"
  arena="${2:-$release/arena}"
  pids=()
  trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT
}

bench_fresh_db() {
  psql "$admin" -qc "DROP DATABASE IF EXISTS $bench_name WITH (FORCE)" \
      -c "CREATE DATABASE $bench_name"
  DATABASE_URL="$db" RUST_LOG=warn "$arena" migrate up
}

bench_serve() {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  echo "== serving: $arena"
  env DATABASE_URL="$db" REDIS_URL="$redis" ARENA_REDIS_KEY_PREFIX="arena:bench:$$:" \
      ARENA_BIND="127.0.0.1:$port" ARENA_AUTH_RATE_PER_MINUTE=1000000 RUST_LOG=warn \
      ARENA_DASHBOARD_DIR=/nonexistent ARENA_TRUSTED_CREATOR_APPROVALS=0 "$@" \
      "$arena" serve & pids+=($!)
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done
}
