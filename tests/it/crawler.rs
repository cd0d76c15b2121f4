//! The WG API simulator and the crawler's client, against each other over loopback.

use std::{net::SocketAddr, num::NonZeroU32, time::Duration};

use arena_crawler::{
    client::{ClientConfig, FetchError, WgClient},
    simulator::{self, SimulatorConfig},
    wg::Player,
};
use futures_util::future::join_all;
use serde_json::Value;

async fn simulator(config: SimulatorConfig) -> SocketAddr {
    simulator::spawn("127.0.0.1:0".parse().unwrap(), config)
        .await
        .unwrap()
        .0
}

fn client(addr: SocketAddr, rps: u32) -> WgClient {
    let mut config = ClientConfig::new(
        format!("http://{addr}").parse().unwrap(),
        "app-1",
        NonZeroU32::new(rps).unwrap(),
    );
    config.timeout = Duration::from_millis(500);
    config.backoff_base = Duration::from_millis(10);
    config.backoff_cap = Duration::from_millis(200);
    config.max_attempts = 30;
    WgClient::new(config).unwrap()
}

async fn stats(addr: SocketAddr) -> simulator::SimulatorStats {
    simulator::fetch_stats(addr).await.unwrap()
}

async fn raw(addr: SocketAddr, query: &str) -> Value {
    reqwest::get(format!("http://{addr}/wotx/account/info/?{query}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_simulator_answers_in_the_real_format_with_its_errors() {
    let addr = simulator(SimulatorConfig {
        seed: 3,
        day: 2,
        ..Default::default()
    })
    .await;
    let ids: Vec<String> = (1000..1100).map(|i| i.to_string()).collect();
    let ok = raw(
        addr,
        &format!(
            "application_id=a&account_id={}&fields=account_id,statistics.all.battles",
            ids.join(",")
        ),
    )
    .await;
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["meta"]["count"], 100);
    let data = ok["data"].as_object().unwrap();
    assert_eq!(data.len(), 100);
    assert!(
        data.values().any(Value::is_null),
        "some ids have no account"
    );
    let player = data.values().find(|p| !p.is_null()).unwrap();
    assert!(player["statistics"]["all"]["battles"].is_i64());
    assert!(
        player.get("nickname").is_none(),
        "only the fields asked for"
    );

    let cases = [
        ("account_id=1", "APPLICATION_ID_NOT_SPECIFIED", 402),
        ("application_id=a", "ACCOUNT_ID_NOT_SPECIFIED", 402),
        ("application_id=a&account_id=1,x", "INVALID_ACCOUNT_ID", 407),
    ];
    for (query, message, code) in cases {
        let refused = raw(addr, query).await;
        assert_eq!(refused["status"], "error", "{query}");
        assert_eq!(refused["error"]["message"], message);
        assert_eq!(refused["error"]["code"], code);
    }
    let too_many: Vec<String> = (1..=101).map(|i| i.to_string()).collect();
    let refused = raw(
        addr,
        &format!("application_id=a&account_id={}", too_many.join(",")),
    )
    .await;
    assert_eq!(
        refused["error"]["message"],
        "ACCOUNT_ID_LIST_LIMIT_EXCEEDED"
    );
    let missing: Value = reqwest::get(format!("http://{addr}/wotx/nothing/"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(missing["error"]["message"], "METHOD_NOT_FOUND");
}

#[tokio::test]
async fn the_simulator_limits_each_application_id() {
    let addr = simulator(SimulatorConfig {
        rate_limit: NonZeroU32::new(5),
        ..Default::default()
    })
    .await;
    let burst = (0..20).map(|_| raw(addr, "application_id=busy&account_id=1"));
    let answers = join_all(burst).await;
    let limited = answers
        .iter()
        .filter(|a| a["error"]["message"] == "REQUEST_LIMIT_EXCEEDED")
        .count();
    assert!(
        limited >= 10,
        "a burst of 20 against 5/s is mostly refused: {limited}"
    );
    // Another application id has its own budget.
    assert_eq!(
        raw(addr, "application_id=other&account_id=1").await["status"],
        "ok"
    );
}

#[tokio::test]
async fn the_client_fetches_typed_players_and_empty_ids() {
    let addr = simulator(SimulatorConfig {
        seed: 9,
        day: 1,
        ..Default::default()
    })
    .await;
    let ids: Vec<i64> = (5_000..5_100).collect();
    let fetched = client(addr, 50).account_info(&ids).await.unwrap();
    assert_eq!(fetched.players.len() + fetched.empty.len(), 100);
    assert!(!fetched.empty.is_empty());
    let expected: Vec<Player> = ids
        .iter()
        .filter_map(|id| simulator::player(9, 1, *id))
        .collect();
    let mut got = fetched.players.clone();
    got.sort_by_key(|p| p.account_id);
    assert_eq!(got, expected, "every field survives the trip");
    assert!(fetched.retries.is_empty());
    assert!(matches!(
        client(addr, 50)
            .account_info(&(0..101).collect::<Vec<_>>())
            .await,
        Err(FetchError::TooManyIds(101))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_at_the_allowed_rate_is_never_refused() {
    let addr = simulator(SimulatorConfig {
        rate_limit: NonZeroU32::new(20),
        ..Default::default()
    })
    .await;
    let client = client(addr, 20);
    let batches: Vec<Vec<i64>> = (0..40)
        .map(|b| (b * 100..b * 100 + 100).collect())
        .collect();
    let results = join_all(batches.iter().map(|ids| client.account_info(ids))).await;
    assert!(results.iter().all(Result::is_ok));
    let stats = stats(addr).await;
    assert_eq!(stats.rate_limited, 0, "{stats:?}");
    assert_eq!(stats.ok, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_retried_until_the_data_matches_a_clean_run() {
    let faulty = simulator(SimulatorConfig {
        seed: 5,
        day: 3,
        fault_rate: 0.4,
        slow_for: Duration::from_secs(1),
        ..Default::default()
    })
    .await;
    let client = client(faulty, 200);
    let batches: Vec<Vec<i64>> = (0..30)
        .map(|b| (b * 100 + 1..=b * 100 + 100).collect())
        .collect();
    let results = join_all(batches.iter().map(|ids| client.account_info(ids))).await;
    let mut retried = std::collections::BTreeSet::new();
    for (ids, result) in batches.iter().zip(results) {
        let fetched = result.expect("every batch arrives in the end");
        retried.extend(fetched.retries.keys().copied());
        let mut got = fetched.players;
        got.sort_by_key(|p| p.account_id);
        let clean: Vec<Player> = ids
            .iter()
            .filter_map(|id| simulator::player(5, 3, *id))
            .collect();
        assert_eq!(got, clean);
    }
    let stats = stats(faulty).await;
    assert!(stats.faults > 0, "{stats:?}");
    for kind in ["source_unavailable", "http", "malformed", "timeout"] {
        assert!(
            retried.contains(kind),
            "{kind} was met and retried: {retried:?}"
        );
    }
}

#[tokio::test]
async fn a_refused_application_id_is_final() {
    // The simulator's own refusals are final, unlike rate limits and outages.
    let addr = simulator(SimulatorConfig::default()).await;
    let mut config = ClientConfig::new(
        format!("http://{addr}").parse().unwrap(),
        "",
        NonZeroU32::new(10).unwrap(),
    );
    config.max_attempts = 3;
    let client = WgClient::new(config).unwrap();
    match client.account_info(&[1, 2]).await {
        Err(FetchError::Refused { message, code }) => {
            assert_eq!(
                (message.as_str(), code),
                ("APPLICATION_ID_NOT_SPECIFIED", 402)
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
