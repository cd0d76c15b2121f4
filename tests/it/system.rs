//! `serverInfo` and the `serverClock` subscription.

use arena_tests::{Backend, TestApp, WsEvent, WsProtocol, on_both_backends};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

const SERVER_INFO: &str = "{ serverInfo { version databaseBackend redisConnected startedAt } }";
const CLOCK: &str = "subscription Clock($ms: Int!) { serverClock(everyMs: $ms) { sequence at } }";

on_both_backends! {
    async fn server_info_reports_the_running_backend(app) {
        let before = Utc::now();
        let info = app.gql(SERVER_INFO, json!({})).await.data()["serverInfo"].clone();
        let expected = match app.backend {
            Backend::Postgres => "POSTGRES",
            Backend::Sqlite => "SQLITE",
        };
        assert_eq!(info["databaseBackend"], expected);
        assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
        // The test harness gives PostgreSQL apps Redis and SQLite apps none, as deployed.
        assert_eq!(info["redisConnected"], app.backend == Backend::Postgres);
        let started = DateTime::parse_from_rfc3339(info["startedAt"].as_str().expect("string"))
            .expect("RFC 3339");
        assert!(started <= before, "started {started}, asked at {before}");
    }
}

async fn clock_ticks_in_order(protocol: WsProtocol) {
    let app = TestApp::spawn().await;
    let mut ws = app.ws(protocol).await;
    ws.subscribe("c1", CLOCK, json!({ "ms": 100 })).await;
    let mut previous = None;
    for expected in 1..=3 {
        let tick = ws.next_data().await["serverClock"].clone();
        assert_eq!(tick["sequence"], expected);
        let at = DateTime::parse_from_rfc3339(tick["at"].as_str().expect("at")).expect("time");
        if let Some(previous) = previous {
            assert!(previous < at, "{previous} then {at}");
        }
        previous = Some(at);
    }
    ws.unsubscribe("c1").await;
    // A second subscription on the same socket starts its own count.
    ws.subscribe("c2", CLOCK, json!({ "ms": 100 })).await;
    loop {
        match ws.next_event().await {
            WsEvent::Next { id, payload } if id == "c2" => {
                assert_eq!(payload["data"]["serverClock"]["sequence"], 1);
                break;
            }
            // Ticks of c1 already in flight when it was stopped.
            WsEvent::Next { id, .. } | WsEvent::Complete { id } if id == "c1" => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn clock_ticks_over_graphql_transport_ws() {
    clock_ticks_in_order(WsProtocol::TransportWs).await;
}

#[tokio::test]
async fn clock_ticks_over_legacy_graphql_ws() {
    clock_ticks_in_order(WsProtocol::LegacyWs).await;
}

/// The errors of the first event of a subscription that fails, whichever way it arrives.
async fn subscription_errors(protocol: WsProtocol, query: &str, variables: Value) -> Vec<Value> {
    let app = TestApp::spawn().await;
    let mut ws = app.ws(protocol).await;
    ws.subscribe("bad", query, variables).await;
    match ws.next_event().await {
        WsEvent::Next { payload, .. } => payload["errors"].as_array().cloned().expect("errors"),
        WsEvent::Error { payload, .. } => payload.as_array().cloned().expect("errors"),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn clock_refuses_an_interval_out_of_range_on_both_protocols() {
    for protocol in [WsProtocol::TransportWs, WsProtocol::LegacyWs] {
        let errors = subscription_errors(protocol, CLOCK, json!({ "ms": 5 })).await;
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{protocol:?}"
        );
        assert_eq!(errors[0]["extensions"]["field"], "everyMs");
    }
}

#[tokio::test]
async fn unknown_subscription_field_gets_a_validation_code_on_both_protocols() {
    for protocol in [WsProtocol::TransportWs, WsProtocol::LegacyWs] {
        let errors = subscription_errors(protocol, "subscription { nope }", json!({})).await;
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{protocol:?}"
        );
        assert_eq!(errors[0]["extensions"]["reason"], "VALIDATION_FAILED");
    }
}
