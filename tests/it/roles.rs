//! The role tree, privilege grants, forced logout and the audit log.

use arena_tests::{Backend, TestApp, TestUser, UserBuilder, on_both_backends};
use futures_util::future::join_all;
use serde_json::{Value, json};

const ROLES: &str = "{ roles { id name parent { name } privileges effectivePrivileges } }";
const ME_PRIVILEGES: &str = "{ me { roles privileges } }";

async fn admin(app: &TestApp) -> TestUser {
    UserBuilder::new("root")
        .with_role("admin")
        .create(app)
        .await
}

fn role_id(roles: &Value, name: &str) -> String {
    roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("role {name}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn audit_actions(app: &TestApp, token: &str) -> Vec<String> {
    let log = app
        .gql_as(
            token,
            "{ auditLog { edges { node { action actor { username } } } } }",
            json!({}),
        )
        .await;
    log.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends! {
    async fn seeded_tree_gives_admins_everything_moderators_have(app) {
        let root = admin(&app).await;
        let roles = app.gql_as(&root.access, ROLES, json!({})).await;
        let list = roles.data()["roles"].as_array().unwrap().clone();
        let names: Vec<&str> = list.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["member", "moderator", "admin"]);
        assert_eq!(list[2]["parent"]["name"], "moderator");
        let effective = list[2]["effectivePrivileges"].as_array().unwrap();
        for held in ["dashboard.access", "user.ban", "role.manage"] {
            assert!(effective.contains(&json!(held)), "{held}");
        }
        let me = app.gql_as(&root.access, ME_PRIVILEGES, json!({})).await;
        assert_eq!(me.data()["me"]["roles"], json!(["member", "admin"]));
        assert!(me.data()["me"]["privileges"].as_array().unwrap().contains(&json!("audit.read")));
    }
}

on_both_backends! {
    async fn created_role_grants_reach_holders_and_are_audited(app) {
        let root = admin(&app).await;
        let ann = UserBuilder::new("ann").create(&app).await;
        let roles = app.gql_as(&root.access, ROLES, json!({})).await;
        let member = role_id(roles.data(), "member");
        let created = app
            .gql_as(
                &root.access,
                "mutation($p: ID) { createRole(name: \"game-master\", parentId: $p, reason: \"events\") { id name parent { name } } }",
                json!({ "p": member }),
            )
            .await;
        let gm = created.data()["createRole"]["id"].as_str().unwrap().to_owned();
        assert_eq!(created.data()["createRole"]["parent"]["name"], "member");
        app.gql_as(
            &root.access,
            "mutation($r: ID) { grantPrivilege(input: { privilege: \"quest.manage\", roleId: $r }) }",
            json!({ "r": gm }),
        )
        .await
        .data();
        app.gql_as(
            &root.access,
            "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r, reason: \"runs events\") }",
            json!({ "u": ann.id, "r": gm }),
        )
        .await
        .data();
        let me = app.gql_as(&ann.access, ME_PRIVILEGES, json!({})).await;
        assert_eq!(me.data()["me"]["privileges"], json!(["quest.manage"]));

        let actions = audit_actions(&app, &root.access).await;
        assert_eq!(actions[..3], ["role.assign", "privilege.grant", "role.create"]);
    }
}

#[tokio::test]
async fn a_role_cannot_move_under_its_own_descendant() {
    let app = TestApp::spawn().await;
    let root = admin(&app).await;
    let roles = app.gql_as(&root.access, ROLES, json!({})).await;
    let (member, admin_role) = (
        role_id(roles.data(), "member"),
        role_id(roles.data(), "admin"),
    );
    let moved = app
        .gql_as(
            &root.access,
            "mutation($id: ID!, $p: ID) { moveRole(id: $id, parentId: $p) { id } }",
            json!({ "id": member, "p": admin_role }),
        )
        .await;
    assert_eq!(moved.codes(), ["BAD_USER_INPUT"], "{:#}", moved.body);
    let after = app.gql_as(&root.access, ROLES, json!({})).await;
    assert_eq!(after.body, roles.body, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_moves_never_build_a_cycle() {
    for backend in [Backend::Postgres, Backend::Sqlite] {
        racing_moves_on(TestApp::spawn_on(backend).await).await;
    }
}

async fn racing_moves_on(app: TestApp) {
    let root = admin(&app).await;
    let create = "mutation($n: String!) { createRole(name: $n) { id } }";
    let a = app
        .gql_as(&root.access, create, json!({ "n": "team-a" }))
        .await
        .data()["createRole"]["id"]
        .clone();
    let b = app
        .gql_as(&root.access, create, json!({ "n": "team-b" }))
        .await
        .data()["createRole"]["id"]
        .clone();
    let mv = "mutation($id: ID!, $p: ID) { moveRole(id: $id, parentId: $p) { id } }";
    let moves = (0..10).map(|i| {
        let (id, parent) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        app.gql_as(&root.access, mv, json!({ "id": id, "p": parent }))
    });
    let results = join_all(moves).await;
    let moved: Vec<_> = results
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .collect();
    assert!(!moved.is_empty());
    for refused in results.iter().filter(|r| r.body.get("errors").is_some()) {
        assert_eq!(refused.codes(), ["BAD_USER_INPUT"], "{:#}", refused.body);
    }
    // Exactly one of the two is now under the other, never both.
    let roles = app.gql_as(&root.access, ROLES, json!({})).await;
    let parent_of = |name: &str| {
        roles.data()["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["parent"]
            .clone()
    };
    let (pa, pb) = (parent_of("team-a"), parent_of("team-b"));
    assert!(pa.is_null() != pb.is_null(), "a: {pa}, b: {pb}");
}

#[tokio::test]
async fn nobody_hands_out_privileges_they_do_not_hold() {
    let app = TestApp::spawn().await;
    let root = admin(&app).await;
    // A manager with role.manage but nothing else of the admin's.
    let manager = UserBuilder::new("manager").create(&app).await;
    app.gql_as(
        &root.access,
        "mutation($u: ID) { grantPrivilege(input: { privilege: \"role.manage\", userId: $u }) }",
        json!({ "u": manager.id }),
    )
    .await
    .data();
    let bob = UserBuilder::new("bob").create(&app).await;
    let grant = app
        .gql_as(
            &manager.access,
            "mutation($u: ID) { grantPrivilege(input: { privilege: \"bank.mint\", userId: $u }) }",
            json!({ "u": bob.id }),
        )
        .await;
    assert_eq!(grant.codes(), ["FORBIDDEN"]);
    let roles = app.gql_as(&root.access, ROLES, json!({})).await;
    let assign = app
        .gql_as(
            &manager.access,
            "mutation($u: ID!, $r: ID!) { assignRole(userId: $u, roleId: $r) }",
            json!({ "u": bob.id, "r": role_id(roles.data(), "admin") }),
        )
        .await;
    assert_eq!(assign.codes(), ["FORBIDDEN"]);
    let bob_now = app.gql_as(&bob.access, ME_PRIVILEGES, json!({})).await;
    assert_eq!(bob_now.data()["me"]["privileges"], json!([]));
}

#[tokio::test]
async fn role_management_needs_role_manage() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let member = UserBuilder::new("mem").create(&app).await;
    let create = "mutation { createRole(name: \"x-role\") { id } }";
    assert_eq!(
        app.gql_as(&moderator.access, create, json!({}))
            .await
            .codes(),
        ["FORBIDDEN"]
    );
    assert_eq!(
        app.gql_as(&member.access, create, json!({})).await.codes(),
        ["FORBIDDEN"]
    );
    assert_eq!(
        app.gql(create, json!({})).await.codes(),
        ["UNAUTHENTICATED"]
    );
    // Moderators see the tree (the dashboard shows it), members do not.
    app.gql_as(&moderator.access, ROLES, json!({})).await.data();
    assert_eq!(
        app.gql_as(&member.access, ROLES, json!({})).await.codes(),
        ["FORBIDDEN"]
    );
}

#[tokio::test]
async fn forced_logout_ends_every_sign_in_and_is_audited() {
    let app = TestApp::spawn().await;
    let moderator = UserBuilder::new("mod")
        .with_role("moderator")
        .create(&app)
        .await;
    let target = UserBuilder::new("target").create(&app).await;
    let revoked = app
        .gql_as(
            &moderator.access,
            "mutation($u: ID!) { logoutUser(userId: $u, reason: \"stolen account\") }",
            json!({ "u": target.id }),
        )
        .await;
    assert_eq!(revoked.data()["logoutUser"], 1);
    let me = app.gql_as(&target.access, "{ me { id } }", json!({})).await;
    assert_eq!(me.codes(), ["UNAUTHENTICATED"]);
    let log = app
        .gql_as(
            &moderator.access,
            "{ auditLog(filter: { action: \"user.logout\" }) { totalCount edges { node { reason targetId actor { username } } } } }",
            json!({}),
        )
        .await;
    let entry = &log.data()["auditLog"]["edges"][0]["node"];
    assert_eq!(log.data()["auditLog"]["totalCount"], 1);
    assert_eq!(entry["reason"], "stolen account");
    assert_eq!(entry["targetId"], target.id.as_str());
    assert_eq!(entry["actor"]["username"], "mod");
}

#[tokio::test]
async fn audit_log_pages_and_filters() {
    let app = TestApp::spawn().await;
    let root = admin(&app).await;
    for i in 0..5 {
        app.gql_as(
            &root.access,
            "mutation($n: String!) { createRole(name: $n) { id } }",
            json!({ "n": format!("role-{i}") }),
        )
        .await
        .data();
    }
    let page = "query($after: String, $last: Int, $before: String) {
        auditLog(filter: { action: \"role.create\" }, first: 2, after: $after) {
            totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
            edges { node { details } }
        }
        older: auditLog(last: $last, before: $before) { edges { node { action } } }
    }";
    let first = app.gql_as(&root.access, page, json!({ "last": 1 })).await;
    let log = &first.data()["auditLog"];
    assert_eq!(log["totalCount"], 5);
    assert_eq!(log["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        log["edges"][0]["node"]["details"]["name"], "role-4",
        "newest first"
    );
    let cursor = log["pageInfo"]["endCursor"].clone();
    let second = app
        .gql_as(&root.access, page, json!({ "after": cursor, "last": 1 }))
        .await;
    let names: Vec<&str> = second.data()["auditLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["details"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["role-2", "role-1"]);
    assert_eq!(
        second.data()["auditLog"]["pageInfo"]["hasPreviousPage"],
        true
    );
    // `last: 1` with no cursor reaches the oldest entry: the first role's creation.
    assert_eq!(
        first.data()["older"]["edges"][0]["node"]["action"],
        "role.create"
    );

    let member = UserBuilder::new("mem").create(&app).await;
    let refused = app
        .gql_as(&member.access, "{ auditLog { totalCount } }", json!({}))
        .await;
    assert_eq!(refused.codes(), ["FORBIDDEN"]);
}

#[tokio::test]
async fn create_admin_bootstraps_a_verified_admin() {
    let app = TestApp::spawn().await;
    let made = arena_api::auth::create_admin(
        &app.ctx.db,
        &app.ctx.auth.passwords,
        "boss",
        "boss@example.com",
        "a strong password",
    )
    .await
    .unwrap();
    assert!(made.verified);
    let session = arena_tests::login(&app, "boss", "a strong password").await;
    let token = session["accessToken"].as_str().unwrap();
    let me = app.gql_as(token, ME_PRIVILEGES, json!({})).await;
    assert_eq!(me.data()["me"]["roles"], json!(["member", "admin"]));
    let again = arena_api::auth::create_admin(
        &app.ctx.db,
        &app.ctx.auth.passwords,
        "boss",
        "b2@example.com",
        "a strong password",
    )
    .await;
    assert!(again.is_err());
}

on_both_backends! {
    async fn the_privileges_the_code_names_are_the_ones_seeded(app) {
        use arena_entity::auth::privilege;
        use sea_orm::EntityTrait;
        let mut seeded: Vec<String> = privilege::Entity::find()
            .all(&app.ctx.db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.privilege)
            .collect();
        seeded.sort();
        let mut named: Vec<String> =
            arena_api::auth::privileges::ALL.iter().map(|p| p.to_string()).collect();
        named.sort();
        assert_eq!(named, seeded);
    }
}
