//! `arena-catalog-load`: the catalog listing under load. 50 items with their creators,
//! categories and thumbnails, ordered by best, in one category's subtree, by many concurrent
//! clients: anonymous (answered from the public cache), anonymous computed each time, and
//! signed in. Beside it, one client on the idle server and a plain database client running
//! the statements the api sends for that page. The service's own p99 comes from the server's
//! latency histogram. `bench/catalog.sh` fills the database, starts the server and runs this.

use anyhow::{Context, bail};
use arena_bench::{Target, accounts, drive, metrics, post, server_percentile, sql, statements};
use clap::Parser;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

/// Load against one Arena server.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    target: Target,
    /// The category whose subtree is listed.
    #[arg(long, default_value = "Wearables")]
    category: String,
}

const PAGE: &str = "query CatalogPage($c: ID!) { contents(filter: { categoryId: $c }, orderBy: BEST, first: 50) \
    { edges { cursor node { id name type score upVotes downVotes favoriteCount \
    creator { id username } categories { name } thumbnail { url } } } } }";

/// Who asks for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// Anyone: the answer may come from the public cache.
    Anonymous,
    /// Anyone, with a variable that makes each request distinct: computed each time.
    Fresh,
    /// A signed-in player, whose listing adds friends' items; never cached.
    Signed(String),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let graphql = format!("{}/graphql", args.target.url.trim_end_matches('/'));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.target.connections)
        .build()?;
    let db = arena_api::db::connect_url(&args.target.database_url, 10).await?;
    let backend = db.get_database_backend();
    let (c, s) = (args.target.connections, args.target.seconds);
    let category: i32 = db
        .query_one_raw(Statement::from_string(
            backend,
            format!(
                "SELECT id FROM content_categories WHERE category = '{}'",
                args.category.replace('\'', "")
            ),
        ))
        .await?
        .context("no such category")?
        .try_get("", "id")?;
    let body = json!({ "query": PAGE, "variables": { "c": category.to_string() }, "operationName": "CatalogPage" });
    let answer = post(&http, &graphql, None, &body)
        .await
        .context("the page query fails")?;
    let edges = answer["data"]["contents"]["edges"]
        .as_array()
        .context("no edges")?;
    println!(
        "{c} connections, {s} s per scenario; category {} (id {category}); a page holds {} items",
        args.category,
        edges.len()
    );

    // The statements the api sends for one page, counted by the server.
    let before = statements(&http, &args.target.url).await?;
    for n in 0..100 {
        // Distinct variables: the public cache answers none of these.
        let mut fresh = body.clone();
        fresh["variables"]["nonce"] = json!(format!("count-{n}"));
        post(&http, &graphql, None, &fresh).await.context("page")?;
    }
    let per_page = (statements(&http, &args.target.url).await? - before) / 100.0;
    println!("statements per page request: {per_page:.2} (server's count over 100 requests)");

    // The same reads by a plain client: the listing, the creators, the thumbnails.
    let types: Vec<String> = db
        .query_all_raw(Statement::from_string(
            backend,
            format!(
                "WITH RECURSIVE below(id) AS (SELECT {category} UNION ALL \
                 SELECT c.id FROM content_categories c JOIN below b ON c.parent_id = b.id) \
                 SELECT DISTINCT content_type FROM content_category_types WHERE category_id IN (SELECT id FROM below)"
            ),
        ))
        .await?
        .iter()
        .filter_map(|r| r.try_get::<String>("", "content_type").ok())
        .map(|t| format!("'{t}'"))
        .collect();
    let listing = format!(
        "SELECT * FROM contents WHERE (listed OR privacy = 'friends') AND listed AND type IN ({}) \
         ORDER BY best DESC, id DESC LIMIT 51",
        types.join(", ")
    );
    let rows = db
        .query_all_raw(Statement::from_string(backend, listing.clone()))
        .await?;
    let ids: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<i32>("", "id").ok())
        .map(|id| id.to_string())
        .collect();
    let creators: Vec<String> = rows
        .iter()
        .filter_map(|r| r.try_get::<uuid::Uuid>("", "user_id").ok())
        .map(|id| format!("'{id}'"))
        .collect();
    let ids = ids.join(", ");
    // The api reads the category tree from its cache; these are the page's statements.
    let statements_sql = vec![
        listing,
        format!(
            "SELECT * FROM users WHERE id IN ({}) AND deleted_at IS NULL",
            creators.join(", ")
        ),
        format!(
            "SELECT r.first_content_id AS owner, a.* FROM content_relations r \
             JOIN contents c ON c.id = r.second_content_id AND c.derived AND c.deleted_at IS NULL \
             JOIN object_assets o ON o.revision_id = c.live_revision_id \
             JOIN assets a ON a.id = o.asset_id AND a.deleted_at IS NULL \
             WHERE r.first_content_id IN ({ids}) AND r.relation = 'visual' AND r.relation_name = 'thumbnail' \
             ORDER BY r.id DESC, o.\"index\", o.id"
        ),
    ];
    let plain = {
        let db = db.clone();
        move |(): ()| {
            let (db, statements) = (db.clone(), statements_sql.clone());
            async move {
                for one in &statements {
                    if !sql(&db, one).await {
                        return (false, ());
                    }
                }
                (true, ())
            }
        }
    };
    // `Fresh` callers add a variable the query ignores, unique per request: the public
    // cache never holds their answer, so every request is computed.
    let nonce = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let page = {
        let (http, graphql, body) = (http.clone(), graphql.clone(), body.clone());
        move |caller: Caller| {
            let (http, graphql, mut body) = (http.clone(), graphql.clone(), body.clone());
            let nonce = nonce.clone();
            async move {
                if caller == Caller::Fresh {
                    let n = nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    body["variables"]["nonce"] = json!(n);
                }
                let token = match &caller {
                    Caller::Signed(token) => Some(token.as_str()),
                    _ => None,
                };
                let ok = post(&http, &graphql, token, &body).await.is_some();
                (ok, caller)
            }
        }
    };

    drive(s, vec![Caller::Fresh], page.clone())
        .await
        .report("idle: one client, catalog page, computed each time");
    drive(s, vec![(); c], plain)
        .await
        .report("plain SQL: the page's statements");
    // Under full load, and again with as many clients as the machine has cores, where
    // requests do not queue behind each other.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    // Signed-in readers also see their friends' items: the listing adds that condition.
    let tokens: Vec<Caller> = accounts(&http, &graphql, c)
        .await?
        .into_iter()
        .map(|(access, _)| Caller::Signed(access))
        .collect();
    let mut failed = 0;
    for (name, callers) in [
        (
            "api: catalog page (50 items), anonymous",
            vec![Caller::Anonymous; c],
        ),
        (
            "api: same, one client per core",
            vec![Caller::Anonymous; cores],
        ),
        (
            "api: same, anonymous, computed each time",
            vec![Caller::Fresh; c],
        ),
        (
            "api: same, computed each time, one client per core",
            vec![Caller::Fresh; cores],
        ),
        ("api: same, signed in (never reused)", tokens),
    ] {
        let clients = callers.len();
        let before = metrics(&http, &args.target.url).await?;
        let loaded = drive(s, callers, page.clone()).await;
        let after = metrics(&http, &args.target.url).await?;
        loaded.report(name);
        failed += loaded.errors;
        let bound = |p| {
            server_percentile(&before, &after, "CatalogPage", p)
                .map_or_else(|| "n/a".to_owned(), |b| format!("{:.1} ms", b * 1000.0))
        };
        println!(
            "  in the service, {clients} clients (server histogram, bucket bound): p50 <= {}, p99 <= {}",
            bound(0.5),
            bound(0.99)
        );
    }
    if failed > 0 {
        bail!("some requests failed");
    }
    Ok(())
}
