//! Bad requests: each gets a GraphQL error with a stable code, never a panic or an HTML page.

use arena_tests::{TestApp, assert_refused, on_both_backends};
use serde_json::json;

/// GraphiQL's introspection query (graphiql 3), which must fit the default limits.
const INTROSPECTION: &str = r"
query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name
    ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
";

on_both_backends! {
    async fn unknown_field_is_a_validation_failure(app) {
        let response = app.gql("{ serverInfo { version nope } }", json!({})).await;
        assert_refused(&response, 200, "VALIDATION_FAILED");
        assert!(response.errors()[0]["message"].as_str().unwrap().contains("nope"));
    }
}

#[tokio::test]
async fn query_syntax_error_is_a_parse_failure() {
    let app = TestApp::spawn().await;
    let response = app.gql("{ serverInfo { version ", json!({})).await;
    assert_refused(&response, 200, "PARSE_FAILED");
}

#[tokio::test]
async fn malformed_json_body_is_refused_as_json() {
    let app = TestApp::spawn().await;
    let response = app.post_raw("application/json", "{\"query\": ").await;
    assert_refused(&response, 400, "MALFORMED_REQUEST");
}

#[tokio::test]
async fn body_without_a_query_is_refused() {
    let app = TestApp::spawn().await;
    let response = app.post_graphql(None, &json!({ "variables": {} })).await;
    assert_refused(&response, 400, "MALFORMED_REQUEST");
}

#[tokio::test]
async fn unsupported_content_type_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .post_raw("text/plain", "{ serverInfo { version } }")
        .await;
    assert_refused(&response, 415, "MALFORMED_REQUEST");
}

#[tokio::test]
async fn oversized_body_is_refused_with_its_own_reason() {
    let app = TestApp::spawn_configured(|s| s.body_limit_bytes = 2048).await;
    let padding = " ".repeat(4096);
    let response = app
        .post_graphql(
            None,
            &json!({ "query": format!("{{ serverInfo {{ version }} {padding}}}") }),
        )
        .await;
    assert_refused(&response, 413, "BODY_TOO_LARGE");
    // A request under the limit still works on the same server.
    let small = app.gql("{ serverInfo { version } }", json!({})).await;
    assert!(small.data()["serverInfo"]["version"].is_string());
}

#[tokio::test]
async fn too_deep_query_is_refused_and_shallow_ones_pass() {
    let app = TestApp::spawn_configured(|s| s.graphql_depth_limit = 3).await;
    let deep = app
        .gql(
            "{ __schema { types { fields { type { name } } } } }",
            json!({}),
        )
        .await;
    assert_refused(&deep, 200, "DEPTH_LIMIT");
    let shallow = app.gql("{ serverInfo { version } }", json!({})).await;
    assert!(shallow.data()["serverInfo"]["version"].is_string());
}

#[tokio::test]
async fn too_complex_query_is_refused() {
    let app = TestApp::spawn_configured(|s| s.graphql_complexity_limit = 4).await;
    let aliases: String = (0..5)
        .map(|i| format!("a{i}: serverInfo {{ version }} "))
        .collect();
    let complex = app.gql(&format!("{{ {aliases} }}"), json!({})).await;
    assert_refused(&complex, 200, "COMPLEXITY_LIMIT");
    let simple = app.gql("{ serverInfo { version } }", json!({})).await;
    assert!(simple.data()["serverInfo"]["version"].is_string());
}

#[tokio::test]
async fn default_limits_admit_graphiqls_introspection_query() {
    let app = TestApp::spawn().await;
    let response = app.gql(INTROSPECTION, json!({})).await;
    let schema = &response.data()["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["subscriptionType"]["name"], "Subscription");
}

#[tokio::test]
async fn wrong_variable_type_gets_a_code() {
    let app = TestApp::spawn().await;
    let response = app
        .gql(
            "query($ms: Int!) { serverInfo { version } }",
            json!({ "ms": "fast" }),
        )
        .await;
    assert_eq!(response.codes(), ["BAD_USER_INPUT"], "{:#}", response.body);
}

#[tokio::test]
async fn batches_run_each_entry_and_oversized_batches_are_refused() {
    let app = TestApp::spawn().await;
    let entry = json!({ "query": "{ serverInfo { databaseBackend } }" });
    let response = app.post_graphql(None, &json!([entry, entry])).await;
    assert_eq!(response.status, 200);
    let results = response.body.as_array().expect("a batch answer");
    assert_eq!(results.len(), 2);
    assert!(results.iter().all(|r| r["data"]["serverInfo"].is_object()));

    let too_many = json!(vec![entry; 11]);
    assert_refused(
        &app.post_graphql(None, &too_many).await,
        400,
        "MALFORMED_REQUEST",
    );
}

#[tokio::test]
async fn get_runs_queries_and_refuses_mutations() {
    let app = TestApp::spawn().await;
    let query = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ serverInfo { databaseBackend } }")])
        .send()
        .await
        .unwrap();
    let query = TestApp::read(query).await;
    assert!(query.data()["serverInfo"]["databaseBackend"].is_string());

    let mutation = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { anything }")])
        .send()
        .await
        .unwrap();
    assert_refused(&TestApp::read(mutation).await, 405, "MALFORMED_REQUEST");
}
