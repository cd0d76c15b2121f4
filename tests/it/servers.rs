//! Host bans: placed and lifted by `server.manage` with audit rows, refused to others and for
//! bad input, and found for every address they cover while in force.

use std::net::IpAddr;

use arena_tests::UserBuilder;
use serde_json::json;

const BAN: &str = "mutation($i: HostBanInput!) { banHost(input: $i) { id network reason user { username } expiresAt liftedAt } }";

arena_tests::on_both_backends! {
    async fn host_bans_cover_their_network_until_lifted(app) {
        let admin = UserBuilder::new("admin").with_role("admin").create(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let ban = |address: &str, reason: &str, expires: Option<&str>| {
            json!({ "i": { "address": address, "reason": reason, "userId": ann.id, "expiresAt": expires } })
        };

        assert_eq!(app.gql_as(&ann.access, BAN, ban("203.0.113.7", "spam", None)).await.codes(), ["FORBIDDEN"]);
        for (address, reason, expires) in [
            ("not an address", "spam", None),
            ("10.0.0.0/4", "too wide", None),
            ("203.0.113.7", " ", None),
            ("203.0.113.7", "late", Some("2001-01-01T00:00:00Z")),
        ] {
            let refused = app.gql_as(&admin.access, BAN, ban(address, reason, expires)).await;
            assert_eq!(refused.codes(), ["BAD_USER_INPUT"], "{address}: {:#}", refused.body);
        }

        let placed = app.gql_as(&admin.access, BAN, ban("198.51.100.77/24", "open proxy farm", None)).await;
        let placed = placed.data()["banHost"].clone();
        assert_eq!(placed["network"], "198.51.100.0/24");
        assert_eq!(placed["user"]["username"], "ann");
        let id = placed["id"].as_str().unwrap().to_owned();

        let covered = |ip: &str| {
            let (db, ip) = (app.ctx.db.clone(), ip.parse::<IpAddr>().unwrap());
            async move { arena_api::servers::covering(&db, ip).await.unwrap().len() }
        };
        assert_eq!(covered("198.51.100.200").await, 1);
        assert_eq!(covered("198.51.101.1").await, 0);

        let list = "query($a: Boolean) { hostBans(active: $a) { network liftReason } }";
        assert_eq!(app.gql_as(&ann.access, list, json!({})).await.codes(), ["FORBIDDEN"]);
        let live = app.gql_as(&admin.access, list, json!({ "a": true })).await;
        assert_eq!(live.data()["hostBans"].as_array().unwrap().len(), 1);

        let lift = "mutation($id: ID!, $r: String!) { liftHostBan(id: $id, reason: $r) { liftedAt liftReason } }";
        let lifted = app.gql_as(&admin.access, lift, json!({ "id": id, "r": "cleaned up" })).await;
        assert_eq!(lifted.data()["liftHostBan"]["liftReason"], "cleaned up");
        assert_eq!(covered("198.51.100.200").await, 0);
        let again = app.gql_as(&admin.access, lift, json!({ "id": id, "r": "twice" })).await;
        assert_eq!(again.data()["liftHostBan"]["liftReason"], "cleaned up");
        let ended = app.gql_as(&admin.access, list, json!({ "a": false })).await;
        assert_eq!(ended.data()["hostBans"][0]["liftReason"], "cleaned up");

        let audited = app
            .gql_as(&admin.access, "{ auditLog(first: 20) { edges { node { action reason } } } }", json!({}))
            .await;
        let actions: Vec<&str> = audited.data()["auditLog"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions.iter().filter(|a| a.starts_with("host_ban.")).count(), 2, "{actions:?}");
    }
}
