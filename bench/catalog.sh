#!/usr/bin/env bash
# The catalog's load figures on the local PostgreSQL and Redis, release build:
#
#   bench/catalog.sh [ARENA_BINARY]
#
# Fills a fresh database with 1,000,000 published contents of every type (one approved
# revision each, vote counts spread so `best` and `hot` differ, and a rendered thumbnail each:
# a derived item holding a PNG asset, related as `visual`) by 1,000 creators, under a
# category tree, starts `arena` on it (or ARENA_BINARY), and runs `arena-catalog-load`: the
# public listing of 50 items with their creators, categories and thumbnails, ordered by
# best, in one category's subtree, anonymous (from the public cache, and computed each time)
# and signed in. Beside it, in the same run: one
# client on the idle server, and a plain database client running the same statements the
# api sends for that page.
#
# ARENA_BENCH_DATABASE_URL picks the PostgreSQL server (default the local one); the database
# arena_bench_catalog on it is dropped and made anew (set ARENA_BENCH_KEEP=1 to keep a filled
# one). ARENA_BENCH_SECONDS sets the length of each scenario (default 10),
# ARENA_BENCH_CONNECTIONS the concurrency (default 32).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/arena-target}"
admin="${ARENA_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
db="${admin/\/postgres\?/\/arena_bench_catalog?}"
redis="${ARENA_BENCH_REDIS_URL:-redis://127.0.0.1:6379}"

cargo build --release -q --bins -p arena-api -p arena-bench
release="$CARGO_TARGET_DIR/release"
arena="${1:-$release/arena}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

filled=$(psql "$db" -qAtc "SELECT count(*) FROM assets" 2>/dev/null || echo 0)
if [[ "${ARENA_BENCH_KEEP:-0}" != 1 || "$filled" != 1000000 ]]; then
    psql "$admin" -qc "DROP DATABASE IF EXISTS arena_bench_catalog WITH (FORCE)" \
        -c "CREATE DATABASE arena_bench_catalog"
    DATABASE_URL="$db" RUST_LOG=warn "$arena" migrate up
    echo "== filling: 1,000 creators, 1,000,000 contents with a revision each"
    psql "$db" -v ON_ERROR_STOP=1 -q <<'SQL'
INSERT INTO users (id, username, email, password, display_name)
SELECT gen_random_uuid(), 'creator' || n, 'creator' || n || '@example.com', 'x', 'Creator ' || n
FROM generate_series(1, 1000) AS g(n);
CREATE TEMP TABLE creators AS SELECT row_number() OVER (ORDER BY id) - 1 AS slot, id FROM users;

INSERT INTO content_categories (id, category, parent_id) VALUES
  (1, 'Wearables', NULL), (2, 'Hats', 1), (3, 'Body', 1), (4, 'Tools', 1),
  (5, 'Creations', NULL), (6, 'Models', 5), (7, 'Media', 5), (8, 'Play', NULL);
SELECT setval('content_categories_id_seq', 8) \g /dev/null
INSERT INTO content_category_types (category_id, content_type) VALUES
  (2, 'hat'), (2, 'accessory'), (3, 'front'), (3, 'back'), (3, 'character'), (4, 'tool'),
  (6, 'mesh'), (6, 'gameobject'), (6, 'animation'), (7, 'texture'), (7, 'sound'),
  (8, 'game'), (8, 'world'), (8, 'content'), (8, 'set');

CREATE TEMP TABLE kinds (k int, kind text);
INSERT INTO kinds VALUES (0,'content'),(1,'set'),(2,'character'),(3,'hat'),(4,'accessory'),
  (5,'front'),(6,'back'),(7,'tool'),(8,'mesh'),(9,'texture'),(10,'gameobject'),(11,'sound'),
  (12,'animation'),(13,'game'),(14,'world');

INSERT INTO contents (id, name, description, user_id, published, privacy, type, live_revision_id,
                      listed, up_votes, down_votes, published_at, created_by, created_at, updated_at)
SELECT n, 'Item ' || n, 'generated item number ' || n || ' of kind ' || k.kind,
       c.id, true, 'public', k.kind, n, (n % 20 <> 0),
       (n::bigint * 7919) % 500, (n::bigint * 104729) % 100,
       now() - make_interval(secs => n), c.id, now() - make_interval(secs => n), now()
FROM generate_series(1, 1000000) AS g(n)
JOIN kinds k ON k.k = n % 15
JOIN creators c ON c.slot = n % 1000;
UPDATE contents SET
  best = CASE WHEN up_votes + down_votes = 0 THEN 0 ELSE
    ((up_votes::float8 / (up_votes + down_votes)) + 1.959964^2 / (2 * (up_votes + down_votes))
     - 1.959964 * sqrt(((up_votes::float8 / (up_votes + down_votes)) * (1 - up_votes::float8 / (up_votes + down_votes))
       + 1.959964^2 / (4 * (up_votes + down_votes))) / (up_votes + down_votes)))
    / (1 + 1.959964^2 / (up_votes + down_votes)) END,
  hot = sign(up_votes - down_votes) * log(greatest(abs(up_votes - down_votes), 1))
        + (extract(epoch FROM published_at) - 1700000000) / 45000;
SELECT setval('contents_id_seq', 1000000) \g /dev/null
INSERT INTO content_revisions (id, content_id, name, description, status, created_by)
SELECT id, id, name, description, 'approved', user_id FROM contents;
-- Thumbnails as rendering makes them (their source files are left out: the page reads
-- only the thumbnails).
INSERT INTO contents (id, name, description, user_id, parent_id, published, privacy, type,
                      live_revision_id, listed, derived, comments_enabled, published_at,
                      created_at, updated_at)
SELECT id + 1000000, 'Thumbnail of ' || name, '', user_id, id, true, 'unlisted', 'texture',
       id + 1000000, false, true, false, published_at, created_at, now()
FROM contents;
SELECT setval('contents_id_seq', 2000000) \g /dev/null
INSERT INTO content_revisions (id, content_id, name, description, status)
SELECT id, id, name, '', 'approved' FROM contents WHERE derived;
SELECT setval('content_revisions_id_seq', 2000000) \g /dev/null
INSERT INTO assets (id, user_id, kind, asset_tag, source_uri, source, originalname, mimetype,
                    filesize, public)
SELECT md5('thumbnail ' || id)::uuid, user_id, 'image', 'thumbnail', 'assets/bench-' || id,
       'render', 'thumbnail.png', 'image/png', 2048, true
FROM contents WHERE derived;
INSERT INTO object_assets (content_id, revision_id, asset_id, type, type_name, "index")
SELECT id, id, md5('thumbnail ' || id)::uuid, 'image', 'thumbnail', 0 FROM contents WHERE derived;
INSERT INTO content_relations (first_content_id, second_content_id, relation, relation_name)
SELECT parent_id, id, 'visual', 'thumbnail' FROM contents WHERE derived;
VACUUM ANALYZE;
SQL
fi
psql "$db" -qAtc "SELECT count(*) || ' contents (' || count(*) FILTER (WHERE listed) || ' listed), ' || (SELECT count(*) FROM content_revisions) || ' revisions, ' || (SELECT count(*) FROM content_categories) || ' categories' FROM contents"

port=$(free_port)
echo "== serving: $arena"
DATABASE_URL="$db" REDIS_URL="$redis" ARENA_REDIS_KEY_PREFIX="arena:bench:$$:" \
    ARENA_BIND="127.0.0.1:$port" ARENA_AUTH_RATE_PER_MINUTE=1000000 RUST_LOG=warn \
    ARENA_DASHBOARD_DIR=/nonexistent \
    "$arena" serve & pids+=($!)
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done

"$release/arena-catalog-load" --url "http://127.0.0.1:$port" --database-url "$db" \
    --connections "${ARENA_BENCH_CONNECTIONS:-32}" --seconds "${ARENA_BENCH_SECONDS:-10}"
