//! The HTTP surface around GraphQL: health, readiness, metrics, GraphiQL, request ids, CORS,
//! and graceful shutdown.

use std::time::Duration;

use arena_tests::{Backend, TestApp, WsEvent, WsProtocol, on_both_backends};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn get_json(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.http.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn metrics_text(app: &TestApp) -> String {
    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text")
    );
    response.text().await.unwrap()
}

on_both_backends! {
    async fn health_and_readiness_answer(app) {
        assert_eq!(get_json(&app, "/healthz").await, (200, json!({ "status": "ok" })));
        let (status, body) = get_json(&app, "/readyz").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["database"], "ok");
        let redis = if app.backend == Backend::Postgres { "ok" } else { "disabled" };
        assert_eq!(body["redis"], redis);
    }
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_lost_but_liveness_holds() {
    let app = TestApp::spawn_on(Backend::Postgres).await;
    app.lose_database().await;
    let (status, body) = get_json(&app, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "down");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(get_json(&app, "/healthz").await.0, 200);
}

#[tokio::test]
async fn metrics_count_operations_errors_and_pool_connections() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        app.gql("query Info { serverInfo { version } }", json!({}))
            .await
            .data();
    }
    app.gql("{ nope }", json!({})).await.errors();
    let text = metrics_text(&app).await;
    assert!(
        text.contains(r#"arena_graphql_requests_total{operation="Info",kind="query"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"arena_graphql_request_duration_seconds_count{operation="Info",kind="query"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"arena_graphql_errors_total{code="BAD_USER_INPUT"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"arena_graphql_errors_total{code="INTERNAL"} 0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"arena_db_pool_connections{state="idle"}"#),
        "{text}"
    );
    assert!(text.contains("arena_db_pool_max_connections 5"), "{text}");
}

#[tokio::test]
async fn graphiql_is_served_with_its_assets_from_arena_itself() {
    let app = TestApp::spawn().await;
    let page = app.text("/graphiql").await;
    assert!(page.contains("/graphql/ws"), "subscriptions are wired");
    let sources: Vec<&str> = page
        .split(['"', '\''])
        .filter(|part| part.starts_with("/graphiql/assets/"))
        .collect();
    assert_eq!(sources.len(), 4, "{sources:?}");
    assert!(
        !page.contains("unpkg") && !page.contains("https://"),
        "no CDN"
    );
    for source in sources {
        let response = app.http.get(app.url(source)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{source}");
        let kind = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/javascript") || kind.starts_with("text/css"));
        assert!(response.bytes().await.unwrap().len() > 5000, "{source}");
    }
    let missing = app
        .http
        .get(app.url("/graphiql/assets/x.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_keeps_a_plain_one() {
    let app = TestApp::spawn().await;
    let id_for = async |sent: Option<&str>| {
        let mut request = app.http.get(app.url("/healthz"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", sent);
        }
        let response = request.send().await.unwrap();
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let fresh = id_for(None).await;
    assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "a UUID: {fresh}");
    assert_eq!(id_for(Some("lb-1234.abcd")).await, "lb-1234.abcd");
    let replaced = id_for(Some("evil value\twith spaces")).await;
    assert!(
        uuid::Uuid::parse_str(&replaced).is_ok(),
        "replaced: {replaced}"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> Option<String> {
    let response = app
        .http
        .request(reqwest::Method::OPTIONS, app.url("/graphql"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .unwrap();
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn cors_admits_only_configured_origins() {
    let app = TestApp::spawn_configured(|s| {
        s.cors_allowed_origins = vec!["https://dash.example".into()];
    })
    .await;
    assert_eq!(
        preflight(&app, "https://dash.example").await.as_deref(),
        Some("https://dash.example")
    );
    assert_eq!(preflight(&app, "https://evil.example").await, None);

    let closed = TestApp::spawn().await;
    assert_eq!(preflight(&closed, "https://dash.example").await, None);
}

#[tokio::test]
async fn shutdown_finishes_in_flight_requests_and_closes_websockets() {
    let mut app = TestApp::spawn().await;
    let mut ws = app.ws(WsProtocol::TransportWs).await;
    ws.subscribe(
        "clock",
        "subscription { serverClock(everyMs: 100) { sequence } }",
        json!({}),
    )
    .await;
    assert_eq!(ws.next_data().await["serverClock"]["sequence"], 1);

    // A request whose body is still arriving when the stop begins.
    let body = json!({ "query": "{ serverInfo { databaseBackend } }" }).to_string();
    let (head, tail) = body.split_at(10);
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nhost: arena\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{head}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    let stopped = app.begin_shutdown().expect("server running");
    tokio::time::sleep(Duration::from_millis(200)).await;
    stream.write_all(tail.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let backend = match app.backend {
        Backend::Postgres => "POSTGRES",
        Backend::Sqlite => "SQLITE",
    };
    assert!(
        answer.contains(&format!(r#""databaseBackend":"{backend}""#)),
        "{answer}"
    );

    // The subscription's socket is closed with "going away", not dropped.
    loop {
        match ws.next_event().await {
            WsEvent::Next { .. } => {}
            WsEvent::Closed { code, reason } => {
                assert_eq!(code, Some(1001), "{reason}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(10), stopped)
        .await
        .expect("the server stops within its grace period")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(app.addr).await.is_err(),
        "no new connections after shutdown"
    );
}

#[tokio::test]
async fn static_assets_are_gzipped_for_clients_that_accept_it() {
    let app = TestApp::spawn().await;
    // A client that shows the encoding as sent (reqwest would otherwise undo gzip itself).
    let http = reqwest::Client::builder().no_gzip().build().unwrap();
    // The dashboard's wasm needs dashboard/build.sh, which the README's test command runs.
    for path in [
        "/graphiql/assets/graphiql.min.js",
        "/admin/assets/arena_dashboard_bg.wasm",
    ] {
        let plain = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none());
        let plain_len = plain.bytes().await.unwrap().len();
        let zipped = http
            .get(app.url(path))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(zipped.headers()["content-encoding"], "gzip", "{path}");
        let zipped_len = zipped.bytes().await.unwrap().len();
        assert!(
            zipped_len * 2 < plain_len,
            "{path}: {zipped_len} of {plain_len} bytes"
        );
    }
}
