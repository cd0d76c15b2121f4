//! Every field of the schema states who may call it. This walks the schema by introspection
//! and calls each root field with type-correct dummy arguments: fields off the public list
//! must refuse anonymous callers, and fields off the signed-in list must refuse a plain
//! member. A new field that forgets its guard fails here.

use std::collections::BTreeMap;

use arena_tests::{TestApp, UserBuilder, WsEvent, WsProtocol};
use serde_json::{Map, Value, json};

/// Fields anyone may call.
const PUBLIC: &[&str] = &[
    "Query.serverInfo",
    "Query.user",
    "Query.userByName",
    "Mutation.register",
    "Mutation.login",
    "Mutation.refreshToken",
    "Mutation.requestReactivation",
    "Mutation.activateAccount",
    "Mutation.requestPasswordReset",
    "Mutation.resetPassword",
    "Mutation.deactivateAccount",
    "Mutation.exportData",
    "Subscription.serverClock",
    "Query.battlePlayer",
    "Query.battlePlayers",
    "Query.battleDailyActivity",
    "Query.battleTopPlayers",
    "Query.followers",
    "Query.following",
    "Query.content",
    "Query.contents",
    "Query.categories",
    "Query.game",
    "Query.currencies",
    "Query.conversions",
    "Query.listings",
    "Query.servers",
    "Query.playerStats",
    "Query.leaderboard",
    "Query.leaderboards",
    "Subscription.leaderboardUpdated",
    "Subscription.playerStatsUpdated",
    "Query.quests",
];

/// Fields for game servers and provisioning hosts: a user's token is no credential there,
/// so a member is as unauthenticated as an anonymous caller.
const MACHINE: &[&str] = &[
    "Mutation.pingHost",
    "Mutation.pingServer",
    "Mutation.validateSession",
    "Mutation.pingSession",
];

/// Fields any signed-in caller may call; every other field needs a privilege.
const SIGNED_IN: &[&str] = &[
    "Query.me",
    "Query.sessions",
    "Mutation.logout",
    "Mutation.logoutEverywhere",
    "Mutation.updateProfile",
    "Mutation.changePassword",
    "Mutation.requestEmailVerification",
    "Mutation.requestDeactivation",
    "Mutation.requestDataExport",
    "Mutation.deleteAccount",
    "Mutation.beginTotpEnrolment",
    "Mutation.confirmTotpEnrolment",
    "Mutation.disableTotp",
    "Query.friends",
    "Query.friendRequests",
    "Query.blockedPlayers",
    "Mutation.requestFriend",
    "Mutation.acceptFriend",
    "Mutation.declineFriend",
    "Mutation.cancelFriendRequest",
    "Mutation.removeFriend",
    "Mutation.follow",
    "Mutation.unfollow",
    "Mutation.block",
    "Mutation.unblock",
    "Subscription.relationshipChanged",
    "Subscription.rankChanged",
    "Subscription.questProgress",
    "Query.myQuests",
    "Mutation.claimQuestReward",
    "Mutation.createContent",
    "Mutation.updateContent",
    "Mutation.publishContent",
    "Mutation.deleteContent",
    "Mutation.vote",
    "Mutation.favorite",
    "Mutation.comment",
    "Mutation.relateContent",
    "Mutation.unrelateContent",
    "Mutation.reportContent",
    "Mutation.updateGame",
    "Query.asset",
    "Mutation.uploadAsset",
    "Mutation.createAssetUpload",
    "Mutation.attachAsset",
    "Mutation.detachAsset",
    "Mutation.deleteAsset",
    "Query.balances",
    "Query.ledger",
    "Mutation.transfer",
    "Mutation.transferLinked",
    "Mutation.convert",
    "Query.inventory",
    "Query.ownershipChain",
    "Mutation.setPrice",
    "Mutation.purchase",
    "Mutation.holdTransfer",
    "Mutation.postTransfer",
    "Mutation.voidTransfer",
    "Mutation.listForResale",
    "Query.trades",
    "Query.trade",
    "Mutation.offerTrade",
    "Mutation.openTrade",
    "Mutation.confirmTrade",
    "Mutation.rejectTrade",
    "Mutation.cancelTrade",
    "Query.characters",
    "Mutation.createCharacter",
    "Mutation.setCharacterProperty",
    "Mutation.wearItem",
    "Query.myServers",
    "Query.playSessions",
    "Query.plays",
    "Mutation.registerServer",
    "Mutation.setServerActive",
    "Mutation.shutDownServer",
    "Mutation.play",
    "Mutation.endSession",
];

const SCHEMA: &str = r"{
  __schema {
    types {
      name kind
      fields { name description args { name type { ...Ref } } type { ...Ref } }
      inputFields { name defaultValue type { ...Ref } }
      enumValues { name }
    }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

struct Schema {
    types: BTreeMap<String, Value>,
}

impl Schema {
    async fn load(app: &TestApp) -> Self {
        let response = app.gql(SCHEMA, json!({})).await;
        let types = response.data()["__schema"]["types"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_owned(), t.clone()))
            .collect();
        Self { types }
    }

    fn fields(&self, root: &str) -> Vec<Value> {
        self.types[root]["fields"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The type as written in a variable declaration: `[String!]!`.
    fn written(ty: &Value) -> String {
        match ty["kind"].as_str().unwrap() {
            "NON_NULL" => format!("{}!", Self::written(&ty["ofType"])),
            "LIST" => format!("[{}]", Self::written(&ty["ofType"])),
            _ => ty["name"].as_str().unwrap().to_owned(),
        }
    }

    /// A value the type accepts.
    fn dummy(&self, ty: &Value) -> Value {
        self.dummy_with(ty, "dummy", false)
    }

    /// A value of the type whose every `String` (in input objects too, optional fields
    /// included when `every_field`) is `text`.
    fn dummy_with(&self, ty: &Value, text: &str, every_field: bool) -> Value {
        match ty["kind"].as_str().unwrap() {
            "NON_NULL" => self.dummy_with(&ty["ofType"], text, every_field),
            "LIST" => json!([self.dummy_with(&ty["ofType"], text, every_field)]),
            "ENUM" => {
                let name = ty["name"].as_str().unwrap();
                self.types[name]["enumValues"][0]["name"].clone()
            }
            "INPUT_OBJECT" => {
                let name = ty["name"].as_str().unwrap();
                let mut object = Map::new();
                for field in self.types[name]["inputFields"].as_array().unwrap() {
                    let required =
                        field["type"]["kind"] == "NON_NULL" && field["defaultValue"].is_null();
                    if required || every_field {
                        object.insert(
                            field["name"].as_str().unwrap().to_owned(),
                            self.dummy_with(&field["type"], text, every_field),
                        );
                    }
                }
                Value::Object(object)
            }
            _ => match ty["name"].as_str().unwrap() {
                "Int" => json!(1),
                "Float" => json!(1.5),
                "Boolean" => json!(true),
                "DateTime" => json!("2030-01-01T00:00:00Z"),
                "NaiveDate" => json!("2030-01-01"),
                "ID" => json!("00000000-0000-0000-0000-000000000001"),
                "String" => json!(text),
                _ => json!("dummy"),
            },
        }
    }

    fn is_leaf(&self, ty: &Value) -> bool {
        match ty["kind"].as_str().unwrap() {
            "NON_NULL" | "LIST" => self.is_leaf(&ty["ofType"]),
            kind => kind == "SCALAR" || kind == "ENUM",
        }
    }

    /// `mutation($a: T!) { field(a: $a) { __typename } }` and its variables.
    fn call(&self, operation: &str, field: &Value) -> (String, Value) {
        self.call_with(operation, field, None)
    }

    /// Like [`Self::call`]; with `text`, every argument is passed, each `String` in it is
    /// `text`.
    fn call_with(&self, operation: &str, field: &Value, text: Option<&str>) -> (String, Value) {
        let name = field["name"].as_str().unwrap();
        let mut declarations = Vec::new();
        let mut arguments = Vec::new();
        let mut variables = Map::new();
        for arg in field["args"].as_array().unwrap() {
            if arg["type"]["kind"] != "NON_NULL" && text.is_none() {
                continue;
            }
            let arg_name = arg["name"].as_str().unwrap();
            declarations.push(format!("${arg_name}: {}", Self::written(&arg["type"])));
            arguments.push(format!("{arg_name}: ${arg_name}"));
            let value = match text {
                Some(text) => self.dummy_with(&arg["type"], text, true),
                None => self.dummy(&arg["type"]),
            };
            variables.insert(arg_name.to_owned(), value);
        }
        let declared = if declarations.is_empty() {
            String::new()
        } else {
            format!("({})", declarations.join(", "))
        };
        let passed = if arguments.is_empty() {
            String::new()
        } else {
            format!("({})", arguments.join(", "))
        };
        let selection = if self.is_leaf(&field["type"]) {
            ""
        } else {
            " { __typename }"
        };
        (
            format!("{operation}{declared} {{ {name}{passed}{selection} }}"),
            Value::Object(variables),
        )
    }
}

fn first_code(response: &arena_tests::GqlResponse) -> String {
    response.body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no error>")
        .to_owned()
}

#[tokio::test]
async fn every_non_public_field_refuses_anonymous_callers_and_privileged_fields_refuse_members() {
    let app = TestApp::spawn().await;
    let member = UserBuilder::new("plain").create(&app).await;
    let schema = Schema::load(&app).await;
    let mut walked = Vec::new();
    for (root, operation) in [("Query", "query"), ("Mutation", "mutation")] {
        for field in schema.fields(root) {
            let qualified = format!("{root}.{}", field["name"].as_str().unwrap());
            if PUBLIC.contains(&qualified.as_str()) {
                continue;
            }
            let (query, variables) = schema.call(operation, &field);
            // A file argument (`$file: Upload!`) travels as a multipart request.
            let uploads = query.contains("$file: Upload!");
            let send = |token: Option<String>| {
                let (app, query, variables) = (&app, query.clone(), variables.clone());
                async move {
                    if uploads {
                        let file = ("a.png", "image/png", b"\x89PNG".to_vec());
                        app.upload_from(token.as_deref(), &query, variables, file)
                            .await
                    } else if let Some(token) = token {
                        app.gql_as(&token, &query, variables).await
                    } else {
                        app.gql(&query, variables).await
                    }
                }
            };
            let anonymous = send(None).await;
            assert_eq!(
                first_code(&anonymous),
                "UNAUTHENTICATED",
                "{qualified} as anonymous: {:#}",
                anonymous.body
            );
            if !SIGNED_IN.contains(&qualified.as_str()) {
                let as_member = send(Some(member.access.clone())).await;
                let expected = if MACHINE.contains(&qualified.as_str()) {
                    "UNAUTHENTICATED"
                } else {
                    "FORBIDDEN"
                };
                assert_eq!(
                    first_code(&as_member),
                    expected,
                    "{qualified} as member: {:#}",
                    as_member.body
                );
            }
            walked.push(qualified);
        }
    }

    let mut subscriptions = 0;
    for field in schema.fields("Subscription") {
        let qualified = format!("Subscription.{}", field["name"].as_str().unwrap());
        if PUBLIC.contains(&qualified.as_str()) {
            continue;
        }
        let (query, variables) = schema.call("subscription", &field);
        let anonymous = app.ws(WsProtocol::TransportWs).await;
        let as_member = app.ws_as(&member.access).await;
        let expected = if SIGNED_IN.contains(&qualified.as_str()) {
            vec![(anonymous, "UNAUTHENTICATED")]
        } else {
            vec![(anonymous, "UNAUTHENTICATED"), (as_member, "FORBIDDEN")]
        };
        for (mut ws, code) in expected {
            ws.subscribe("s", &query, variables.clone()).await;
            let errors = match ws.next_event().await {
                WsEvent::Next { payload, .. } => payload["errors"].clone(),
                WsEvent::Error { payload, .. } => payload,
                other => panic!("{qualified}: {other:?}"),
            };
            assert_eq!(errors[0]["extensions"]["code"], code, "{qualified}");
        }
        subscriptions += 1;
        walked.push(qualified);
    }
    assert!(subscriptions > 0, "no guarded subscription was walked");
    assert!(
        SIGNED_IN.iter().all(|f| walked.iter().any(|w| w == f)),
        "{walked:?}"
    );
    assert!(
        walked.len() > SIGNED_IN.len(),
        "privileged fields were walked: {walked:?}"
    );
}

/// How a test reaches an object of each type that has private fields: a query taking the
/// owning account's `$id`. A new type with private fields needs a line here.
const PRIVATE_PATHS: &[(&str, &str)] = &[("User", "user(id: $id)")];

#[tokio::test]
async fn every_private_field_of_every_type_shows_only_to_its_owner_and_privileged_readers() {
    let app = TestApp::spawn().await;
    let owner = UserBuilder::new("owner").create(&app).await;
    // Every private field of the owner has a value.
    app.gql_as(
        &owner.access,
        "mutation { updateProfile(input: { phone: \"+358401234567\" }) { id } }",
        json!({}),
    )
    .await
    .data();
    let other = UserBuilder::new("other").create(&app).await;
    let reader = UserBuilder::new("reader")
        .with_role("moderator")
        .create(&app)
        .await;
    let schema = Schema::load(&app).await;
    let mut walked = Vec::new();
    for (name, ty) in &schema.types {
        if name.starts_with("__") || ty["kind"] != "OBJECT" {
            continue;
        }
        let private: Vec<&str> = ty["fields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| {
                f["description"]
                    .as_str()
                    .is_some_and(|d| d.contains("(private)"))
            })
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        if private.is_empty() {
            continue;
        }
        let path = PRIVATE_PATHS
            .iter()
            .find(|(t, _)| t == name)
            .map(|(_, path)| *path)
            .unwrap_or_else(|| panic!("{name} has private fields {private:?}: add a path"));
        for field in private {
            let query = format!("query($id: ID!) {{ it: {path} {{ {field} }} }}");
            let variables = json!({ "id": owner.id });
            let value = |response: arena_tests::GqlResponse| response.data()["it"][field].clone();
            assert_eq!(
                value(app.gql(&query, variables.clone()).await),
                Value::Null,
                "{name}.{field} as anonymous"
            );
            assert_eq!(
                value(app.gql_as(&other.access, &query, variables.clone()).await),
                Value::Null,
                "{name}.{field} as another member"
            );
            for (who, token) in [
                ("the owner", &owner.access),
                ("a moderator", &reader.access),
            ] {
                let shown = value(app.gql_as(token, &query, variables.clone()).await);
                assert_ne!(shown, Value::Null, "{name}.{field} as {who}");
            }
            walked.push(format!("{name}.{field}"));
        }
    }
    for expected in [
        "User.email",
        "User.loginAt",
        "User.roles",
        "User.privileges",
    ] {
        assert!(
            walked.iter().any(|w| w == expected),
            "{expected}: {walked:?}"
        );
    }
}

#[tokio::test]
async fn the_lists_name_only_fields_that_exist() {
    let app = TestApp::spawn().await;
    let schema = Schema::load(&app).await;
    for listed in PUBLIC.iter().chain(SIGNED_IN) {
        let (root, field) = listed.split_once('.').unwrap();
        assert!(
            schema.fields(root).iter().any(|f| f["name"] == field),
            "{listed} is listed but not in the schema"
        );
    }
}

/// Whether the value holds `text` somewhere.
fn holds(value: &Value, text: &str) -> bool {
    match value {
        Value::String(s) => s == text,
        Value::Array(items) => items.iter().any(|v| holds(v, text)),
        Value::Object(fields) => fields.values().any(|v| holds(v, text)),
        _ => false,
    }
}

#[tokio::test]
async fn every_string_argument_refuses_nul_at_the_edge() {
    let app = TestApp::spawn().await;
    let member = UserBuilder::new("plain").create(&app).await;
    let schema = Schema::load(&app).await;
    let nul = "du\u{0}mmy";
    let mut walked = 0;
    for (root, operation) in [
        ("Query", "query"),
        ("Mutation", "mutation"),
        ("Subscription", "subscription"),
    ] {
        for field in schema.fields(root) {
            let qualified = format!("{root}.{}", field["name"].as_str().unwrap());
            let (query, variables) = schema.call_with(operation, &field, Some(nul));
            if !holds(&variables, nul) {
                continue;
            }
            // Signed in, so that no guard answers first.
            let refused = app.gql_as(&member.access, &query, variables).await;
            assert_eq!(
                (
                    first_code(&refused).as_str(),
                    refused.body["errors"][0]["extensions"]["reason"].as_str()
                ),
                ("BAD_USER_INPUT", Some("CONTROL_CHARACTER")),
                "{qualified}: {:#}",
                refused.body
            );
            walked += 1;
        }
    }
    assert!(walked > 20, "only {walked} fields take text");
}
