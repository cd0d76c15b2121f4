//! `TestApp`: one real Arena server per test.

use std::net::SocketAddr;

use arena_api::{
    context::AppContext,
    settings::{Secret, Settings},
    startup::Application,
};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::{
    db::{self, Backend, TestDb},
    ws::{WsClient, WsProtocol},
};

/// A running Arena on 127.0.0.1 with a database and Redis prefix of its own.
pub struct TestApp {
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The backend it runs on.
    pub backend: Backend,
    /// The settings it started with.
    pub settings: Settings,
    /// An HTTP client for it.
    pub http: reqwest::Client,
    /// The server's own context (database, settings), for fixtures and checks.
    pub ctx: AppContext,
    stop: CancellationToken,
    server: Option<JoinHandle<()>>,
    db: TestDb,
    /// Keys to delete at the end; only the instance that owns the prefix does.
    redis_prefix: Option<String>,
    /// The stored files' directory, removed with the first instance.
    _assets: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// One GraphQL answer: HTTP status and JSON body.
#[derive(Debug)]
pub struct GqlResponse {
    /// HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Value,
}

/// Checks a refusal before any resolver ran: HTTP `status`, one `BAD_USER_INPUT` error with
/// `reason`, no data.
pub fn assert_refused(response: &GqlResponse, status: u16, reason: &str) {
    assert_eq!(response.status, status, "{:#}", response.body);
    assert_eq!(response.codes(), ["BAD_USER_INPUT"], "{:#}", response.body);
    assert_eq!(
        response.extensions()["reason"],
        reason,
        "{:#}",
        response.body
    );
    assert!(response.body["data"].is_null(), "{:#}", response.body);
}

/// Settings that trust a proxy on 127.0.0.1, so tests can be any client address through
/// [`TestApp::gql_from`].
pub fn behind_local_proxy(settings: &mut Settings) {
    settings.trusted_proxies = vec!["127.0.0.1".into()];
}

/// Settings that publish a creator's items without moderation and queue many sign-ins:
/// for tests of what players do with published items.
pub fn trusting(settings: &mut Settings) {
    settings.trusted_creator_approvals = 0;
    settings.bcrypt_queue = 1024;
}

/// Checks a race: exactly one of `results` succeeded and every other was refused with
/// `loser_code`.
pub fn assert_one_wins(results: &[GqlResponse], loser_code: &str, context: &str) {
    let won = results
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .count();
    assert_eq!(won, 1, "{context}: {won} succeeded");
    for lost in results.iter().filter(|r| r.body.get("errors").is_some()) {
        assert_eq!(lost.codes(), [loser_code], "{context}: {:#}", lost.body);
    }
}

impl GqlResponse {
    /// `data`, failing the test when there are errors.
    pub fn data(&self) -> &Value {
        assert!(
            self.body.get("errors").is_none(),
            "expected no errors, got {:#}",
            self.body
        );
        &self.body["data"]
    }

    /// The errors, failing the test when there are none.
    pub fn errors(&self) -> &Vec<Value> {
        self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("expected errors, got {:#}", self.body))
    }

    /// `extensions.code` of every error.
    pub fn codes(&self) -> Vec<&str> {
        self.errors()
            .iter()
            .map(|err| err["extensions"]["code"].as_str().unwrap_or("<none>"))
            .collect()
    }

    /// The first error's `extensions`.
    pub fn extensions(&self) -> &Value {
        &self.errors()[0]["extensions"]
    }
}

impl TestApp {
    /// On the backend `ARENA_TEST_BACKEND` names.
    pub async fn spawn() -> Self {
        Self::spawn_with(Backend::from_env(), |_| {}).await
    }

    /// On the backend `ARENA_TEST_BACKEND` names, after `configure` adjusts the settings.
    pub async fn spawn_configured(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_with(Backend::from_env(), configure).await
    }

    /// On `backend`, with default test settings.
    pub async fn spawn_on(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// On `backend`, after `configure` adjusts the settings. PostgreSQL apps use Redis,
    /// like production; SQLite apps run without, like `cargo run`.
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let (db, database_url) = TestDb::create(backend).await;
        let assets = tempfile::tempdir().expect("a directory for stored files");
        let mut settings = Settings {
            assets_dir: assets.path().to_owned(),
            database_url: Secret::new(database_url),
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            redis_url: (backend == Backend::Postgres).then(|| Secret::new(db::redis_url())),
            redis_key_prefix: format!("arena:test:{}:", uuid::Uuid::new_v4().simple()),
            shutdown_grace_seconds: 5,
            database_max_connections: 5,
            // Production cost is covered by its own test; the rest need not wait for it.
            bcrypt_cost: 4,
            dashboard_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../dashboard/dist").into(),
            auth_rate_per_minute: 10_000,
            analytics_rate_per_minute: 10_000,
            // Statement counts must not depend on how busy the machine is: gather every key
            // of a page into one batch even when tests run side by side.
            dataloader_delay_ms: 25,
            // Fixtures write rows directly, past the change bus that empties the cache;
            // the cache's own tests turn it on.
            public_cache_seconds: 0,
            // A sweep's statements would land in other tests' statement counts; the tests
            // of expiry sweep often.
            expiry_sweep_ms: 3_600_000,
            // So is the outbox relay's; the tests of quests relay often.
            event_relay_ms: 3_600_000,
            ..Settings::default()
        };
        configure(&mut settings);
        let prefix = settings
            .redis_url
            .as_ref()
            .map(|_| settings.redis_key_prefix.clone());
        Self::start(backend, settings, db, prefix, Some(assets.into())).await
    }

    async fn start(
        backend: Backend,
        settings: Settings,
        db: TestDb,
        redis_prefix: Option<String>,
        assets: Option<std::sync::Arc<tempfile::TempDir>>,
    ) -> Self {
        let app = Application::build(settings.clone())
            .await
            .expect("test app starts");
        let addr = app.local_addr();
        let ctx = app.context().clone();
        let stop = CancellationToken::new();
        let server = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        Self {
            addr,
            backend,
            settings,
            http: reqwest::Client::new(),
            ctx,
            stop,
            server: Some(server),
            db,
            redis_prefix,
            _assets: assets,
        }
    }

    /// A second instance on this one's database and Redis prefix, as a load-balanced
    /// deployment runs; declare it after this one, so it stops first.
    pub async fn another_instance(&self) -> Self {
        self.another_instance_with(|_| {}).await
    }

    /// [`Self::another_instance`] with settings of its own.
    pub async fn another_instance_with(&self, configure: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..self.settings.clone()
        };
        configure(&mut settings);
        Self::start(self.backend, settings, TestDb::Borrowed, None, None).await
    }

    /// Creates a content item with `input` as `token`'s caller and publishes it; its id.
    pub async fn published_item(&self, token: &str, input: Value) -> String {
        let made = self
            .gql_as(
                token,
                "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
                json!({ "i": input }),
            )
            .await;
        let id = made.data()["createContent"]["id"]
            .as_str()
            .expect("an item id")
            .to_owned();
        self.gql_as(
            token,
            "mutation($id: ID!) { publishContent(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await
        .data();
        id
    }

    /// Runs `query` as a GraphQL multipart request with one file as variable `$file`.
    pub async fn upload(
        &self,
        token: &str,
        query: &str,
        variables: Value,
        file: (&str, &str, Vec<u8>),
    ) -> GqlResponse {
        self.upload_from(Some(token), query, variables, file).await
    }

    /// [`Self::upload`], signed in or not.
    pub async fn upload_from(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
        (name, content_type, bytes): (&str, &str, Vec<u8>),
    ) -> GqlResponse {
        let mut variables = variables;
        variables["file"] = Value::Null;
        let operations = json!({ "query": query, "variables": variables });
        let form = reqwest::multipart::Form::new()
            .text("operations", operations.to_string())
            .text("map", json!({ "0": ["variables.file"] }).to_string())
            .part(
                "0",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name.to_owned())
                    .mime_str(content_type)
                    .expect("a content type"),
            );
        let mut request = self.http.post(self.url("/graphql")).multipart(form);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::read(request.send().await.expect("POST /graphql")).await
    }

    /// Statements this server sent to the database while `work` ran, and its result.
    pub async fn statements_during<T>(&self, work: impl Future<Output = T>) -> (u64, T) {
        let count = || self.ctx.metrics.statements.get();
        let before = count();
        let out = work.await;
        (count() - before, out)
    }

    /// The fewest statements any of three runs of `work` sent, and the last run's result:
    /// what a read costs by itself. The server's periodic tasks (sweeps every 30 s or more)
    /// share the counter and can land in one run, never in all three.
    pub async fn least_statements<T, F: Future<Output = T>>(
        &self,
        mut work: impl FnMut() -> F,
    ) -> (u64, T) {
        let (mut least, mut out) = self.statements_during(work()).await;
        for _ in 0..2 {
            let (cost, again) = self.statements_during(work()).await;
            (least, out) = (least.min(cost), again);
        }
        (least, out)
    }

    /// The text `GET {path}` answers.
    pub async fn text(&self, path: &str) -> String {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("a GET is answered")
            .text()
            .await
            .expect("a text body")
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Drops this app's PostgreSQL database under the running server (a database outage).
    pub async fn lose_database(&self) {
        let name = self.db.postgres_name().expect("a PostgreSQL app");
        db::drop_database(name).await;
    }

    /// Runs a GraphQL operation anonymously.
    pub async fn gql(&self, query: &str, variables: Value) -> GqlResponse {
        self.post_graphql(None, &json!({ "query": query, "variables": variables }))
            .await
    }

    /// Runs a GraphQL operation with `Authorization: Bearer {token}`.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> GqlResponse {
        self.post_graphql(
            Some(token),
            &json!({ "query": query, "variables": variables }),
        )
        .await
    }

    /// Runs an operation as a client at `ip`, seen through a proxy on 127.0.0.1 (the app
    /// must trust it: `settings.trusted_proxies = vec!["127.0.0.1".into()]`).
    pub async fn gql_from(
        &self,
        ip: &str,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> GqlResponse {
        let mut request = self
            .http
            .post(self.url("/graphql"))
            .header("x-forwarded-for", ip)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::read(request.send().await.expect("POST /graphql")).await
    }

    /// Posts any JSON body to `/graphql`.
    pub async fn post_graphql(&self, token: Option<&str>, body: &Value) -> GqlResponse {
        let mut request = self.http.post(self.url("/graphql")).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::read(request.send().await.expect("POST /graphql")).await
    }

    /// Posts raw `body` to `/graphql` as `content_type`.
    pub async fn post_raw(&self, content_type: &str, body: &str) -> GqlResponse {
        let response = self
            .http
            .post(self.url("/graphql"))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("POST /graphql");
        Self::read(response).await
    }

    /// Reads a GraphQL HTTP answer, which must be JSON whatever the status.
    pub async fn read(response: reqwest::Response) -> GqlResponse {
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|err| panic!("status {status}: body is not JSON ({err}): {text}"));
        GqlResponse { status, body }
    }

    /// A websocket to `/graphql/ws` speaking `protocol`, past `connection_init`.
    pub async fn ws(&self, protocol: WsProtocol) -> WsClient {
        WsClient::connect(
            &format!("ws://{}/graphql/ws", self.addr),
            protocol,
            json!({}),
        )
        .await
    }

    /// A `graphql-transport-ws` connection signed in with `token` in `connection_init`.
    pub async fn ws_as(&self, token: &str) -> WsClient {
        WsClient::connect(
            &format!("ws://{}/graphql/ws", self.addr),
            WsProtocol::TransportWs,
            json!({ "authorization": format!("Bearer {token}") }),
        )
        .await
    }

    /// Begins a graceful shutdown without waiting; the handle resolves when stopped.
    pub fn begin_shutdown(&mut self) -> Option<JoinHandle<()>> {
        self.stop.cancel();
        self.server.take()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(server) = self.server.take() {
            server.abort();
        }
        let database = self.db.postgres_name().map(str::to_owned);
        let prefix = self.redis_prefix.take();
        // Async cleanup cannot run in Drop on the test's runtime; a thread with its own can.
        let cleanup = std::thread::spawn(move || {
            if let Some(prefix) = prefix {
                delete_redis_keys(&prefix);
            }
            if let Some(name) = database {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("cleanup runtime")
                    .block_on(db::drop_database(&name));
            }
        });
        let _ = cleanup.join();
    }
}

fn delete_redis_keys(prefix: &str) {
    let Ok(client) = redis::Client::open(db::redis_url()) else {
        return;
    };
    let Ok(mut conn) = client.get_connection() else {
        return;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query(&mut conn)
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
    }
}
