//! A page costs what it holds: nested fields load through DataLoader (a constant number of
//! statements whatever the page size), `totalCount` is counted only when selected, and
//! keyset cursors walk every row once in order, forward and back.

use arena_tests::{TestApp, UserBuilder, on_both_backends};
use serde_json::{Value, json};

use crate::battles::crawl;

const BANS: &str = "query($n: Int) { bans(first: $n) { edges { node {
    id privileges user { username roles privileges twoFactorEnabled } admin { username } } } } }";
const AUDIT: &str =
    "query($n: Int) { auditLog(first: $n) { edges { node { action actor { username } } } } }";

on_both_backends! {
    async fn pages_of_bans_and_audit_entries_cost_the_same_whatever_their_size(app) {
        let admin = UserBuilder::new("root").with_role("admin").create(&app).await;
        let moderator = UserBuilder::new("mod").with_role("moderator").create(&app).await;
        for n in 0..50 {
            let user = UserBuilder::new(&format!("player{n:02}")).create(&app).await;
            // Half the bans take privileges, half are full; two moderators place them.
            let (by, privileges) = if n % 2 == 0 {
                (&admin.access, json!(["dashboard.access"]))
            } else {
                (&moderator.access, Value::Null)
            };
            app.gql_as(
                by,
                "mutation($input: BanUserInput!) { banUser(input: $input) { id } }",
                json!({ "input": { "userId": user.id, "reason": "r", "privileges": privileges } }),
            )
            .await
            .data();
        }
        // Warm the callers' cache so only the page itself is counted.
        app.gql_as(&admin.access, BANS, json!({ "n": 1 })).await.data();

        let mut costs = Vec::new();
        for n in [5, 50] {
            let (cost, page) =
                app.least_statements(|| app.gql_as(&admin.access, BANS, json!({ "n": n }))).await;
            let edges = page.data()["bans"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len(), n);
            let partial = edges.iter().find(|e| e["node"]["privileges"].is_array()).unwrap();
            assert_eq!(partial["node"]["privileges"], json!(["dashboard.access"]));
            assert_eq!(partial["node"]["admin"]["username"], "root");
            assert_eq!(partial["node"]["user"]["roles"], json!(["member"]));
            costs.push(cost);
        }
        assert_eq!(costs[0], costs[1], "bans: {costs:?}");
        // The page, then users, privileges, roles, two-factor and banned privileges.
        assert!(costs[1] <= 6, "bans: {costs:?}");

        let mut costs = Vec::new();
        for n in [5, 50] {
            let (cost, page) =
                app.least_statements(|| app.gql_as(&admin.access, AUDIT, json!({ "n": n }))).await;
            let edges = page.data()["auditLog"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len(), n);
            assert!(edges.iter().all(|e| e["node"]["actor"]["username"].is_string()));
            costs.push(cost);
        }
        assert_eq!(costs[0], costs[1], "audit: {costs:?}");
        assert!(costs[1] <= 2, "audit: {costs:?}");
    }
}

const PLAYERS: &str = r#"query($n: Int, $order: BattlePlayerSort!, $asc: Boolean!, $after: String, $before: String, $last: Int) {
  battlePlayers(first: $n, last: $last, after: $after, before: $before, orderBy: $order, ascending: $asc) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id winRate statistics { battles } } }
  }
}"#;

const WITH_HISTORY: &str = r#"query($n: Int) {
  battlePlayers(first: $n) { edges { node { id
    history(from: "2026-11-01", to: "2026-11-07") { day total { battles } diff { battles } }
  } } }
}"#;

/// Every player in `order`, walked page by page with `after` cursors.
async fn walk_forward(app: &TestApp, order: &str, asc: bool, size: i64) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let vars = json!({ "n": size, "order": order, "asc": asc, "after": after });
        let page = app.gql(PLAYERS, vars).await;
        let connection = page.data()["battlePlayers"].clone();
        seen.extend(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if connection["pageInfo"]["hasNextPage"] != true {
            return seen;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
}

/// The same, from the end with `before` cursors, put back in order.
async fn walk_backward(app: &TestApp, order: &str, asc: bool, size: i64) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut before = Value::Null;
    loop {
        let vars = json!({ "last": size, "order": order, "asc": asc, "before": before });
        let page = app.gql(PLAYERS, vars).await;
        let connection = page.data()["battlePlayers"].clone();
        pages.push(
            connection["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<_>>(),
        );
        if connection["pageInfo"]["hasPreviousPage"] != true {
            return pages.into_iter().rev().flatten().collect();
        }
        before = connection["pageInfo"]["startCursor"].clone();
    }
}

on_both_backends! {
    async fn keyset_pages_walk_every_player_once_in_order_and_history_costs_the_same(app) {
        crawl(&app, 0, "2026-11-01", 50).await;
        crawl(&app, 1, "2026-11-02", 50).await;
        let everyone = app.gql("{ battlePlayers { totalCount } }", json!({})).await;
        let total = everyone.data()["battlePlayers"]["totalCount"].as_u64().unwrap() as usize;
        assert!(total > 100, "{total}");

        for (order, asc) in [("ID", false), ("BATTLES", false), ("WIN_RATE", false), ("WIN_RATE", true)] {
            let forward = walk_forward(&app, order, asc, 37).await;
            let ids: std::collections::HashSet<i64> =
                forward.iter().map(|p| p["id"].as_i64().unwrap()).collect();
            assert_eq!(ids.len(), forward.len(), "{order}: a player came twice");
            let key = |p: &Value| match order {
                "BATTLES" => p["statistics"]["battles"].as_f64().unwrap(),
                "WIN_RATE" => p["winRate"].as_f64().unwrap(),
                _ => p["id"].as_f64().unwrap(),
            };
            let sorted = forward.windows(2).all(|w| {
                let (a, b) = ((key(&w[0]), w[0]["id"].as_i64()), (key(&w[1]), w[1]["id"].as_i64()));
                if asc { a <= b } else { a >= b }
            });
            assert!(sorted, "{order} asc={asc}: out of order");
            if order != "WIN_RATE" {
                assert_eq!(forward.len(), total, "{order}");
            }
            assert_eq!(walk_backward(&app, order, asc, 37).await, forward, "{order} backward");
        }

        // Without totalCount the page is one statement; with it, two.
        let page = "{ battlePlayers(first: 20) { edges { node { id } } } }";
        let (cost, _) = app.least_statements(|| app.gql(page, json!({}))).await;
        assert_eq!(cost, 1);
        let counted = "{ battlePlayers(first: 20) { totalCount edges { node { id } } } }";
        let (cost, _) = app.least_statements(|| app.gql(counted, json!({}))).await;
        assert_eq!(cost, 2);

        let mut costs = Vec::new();
        for n in [5, 50] {
            let (cost, page) =
                app.least_statements(|| app.gql(WITH_HISTORY, json!({ "n": n }))).await;
            let edges = page.data()["battlePlayers"]["edges"].as_array().unwrap().clone();
            assert_eq!(edges.len(), n);
            assert!(edges.iter().all(|e| !e["node"]["history"].as_array().unwrap().is_empty()));
            costs.push(cost);
        }
        assert_eq!(costs, [3, 3], "page, totals and diffs");

        let bad = app
            .gql("{ battlePlayers(after: \"garbage\") { totalCount } }", json!({}))
            .await;
        assert_eq!(bad.codes(), ["BAD_USER_INPUT"]);
        // A cursor of one order is refused by another.
        let by_id = app.gql(PLAYERS, json!({ "n": 1, "order": "ID", "asc": false })).await;
        let cursor = by_id.data()["battlePlayers"]["pageInfo"]["endCursor"].clone();
        let other = app
            .gql(PLAYERS, json!({ "n": 1, "order": "WIN_RATE", "asc": false, "after": cursor }))
            .await;
        assert_eq!(other.codes(), ["BAD_USER_INPUT"]);
    }
}
