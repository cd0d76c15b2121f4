//! Helpers of the tests that run `arena serve` as a separate process, to kill it.

// Each test binary uses its own share of these.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

pub fn admin_url() -> String {
    std::env::var("ARENA_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".into())
}

/// A fresh PostgreSQL database called `name`, dropped again with [`drop_database`]; its URL
/// and the administrative connection.
pub async fn fresh_database(name: &str) -> (String, DatabaseConnection) {
    let admin_db = Database::connect(admin_url()).await.unwrap();
    admin_db
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await
        .unwrap();
    admin_db
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let mut url = admin_url();
    url = url.replacen("/postgres?", &format!("/{name}?"), 1);
    if !url.contains(name) {
        url = url.replacen("/postgres", &format!("/{name}"), 1);
    }
    (url, admin_db)
}

pub async fn drop_database(admin_db: &DatabaseConnection, name: &str) {
    let _ = admin_db
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
}

/// A running `arena serve` and its address.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `arena serve` on `database_url` with no Arena variables inherited, plus `env`.
pub fn serve(database_url: &str, env: &[(&str, &str)]) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
    for (name, _) in std::env::vars() {
        if name.starts_with("ARENA_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            command.env_remove(name);
        }
    }
    command
        .env("DATABASE_URL", database_url)
        .env("ARENA_BIND", "127.0.0.1:0")
        .env("ARENA_BCRYPT_COST", "4")
        .env("ARENA_AUTH_RATE_PER_MINUTE", "1000000")
        .env("ARENA_DASHBOARD_DIR", "/nonexistent")
        .env("ARENA_TRUSTED_CREATOR_APPROVALS", "0")
        .env("RUST_LOG", "info");
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut line = String::new();
    let mut addr = None;
    while addr.is_none() && Instant::now() < deadline {
        line.clear();
        if log.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("GraphiQL at http://").nth(1) {
            addr = rest.split('/').next().map(str::to_owned);
        }
    }
    let addr = addr.unwrap_or_else(|| panic!("no listening line; last: {line}"));
    // Keep reading, so the server never blocks on a full pipe.
    std::thread::spawn(move || {
        let mut sink = String::new();
        while log.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Server {
        child,
        base: format!("http://{addr}/graphql"),
    }
}

/// The body of a GraphQL answer, or `None` when no answer came.
pub async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Option<Value> {
    let mut request = http
        .post(base)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.ok()?.json().await.ok()
}

/// Registers `name` (an admin when `admin`) and signs in: the access token and the id.
pub async fn account(
    http: &reqwest::Client,
    base: &str,
    db: &DatabaseConnection,
    name: &str,
    admin: bool,
) -> (String, String) {
    let password = format!("{name}-long-password");
    let made = gql(http, base, None, "mutation($i: RegisterInput!) { register(input: $i) { id } }",
        json!({ "i": { "username": name, "email": format!("{name}@example.com"), "password": password } })).await.unwrap();
    let id = made["data"]["register"]["id"].as_str().unwrap().to_owned();
    if admin {
        db.execute_unprepared(&format!(
            "INSERT INTO user_roles (user_id, role_id) SELECT '{id}', id FROM roles WHERE role = 'admin'"
        ))
        .await
        .unwrap();
    }
    let session = gql(
        http,
        base,
        None,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        json!({ "i": { "login": name, "password": password } }),
    )
    .await
    .unwrap();
    (
        session["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned(),
        id,
    )
}

/// The first column of the first row of `sql`, a count.
pub async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap()
    .unwrap()
    .try_get_by_index::<i64>(0)
    .unwrap()
}

/// Creates a content item with `input` as `token`'s caller and publishes it; its id.
pub async fn published(http: &reqwest::Client, base: &str, token: &str, input: Value) -> String {
    let made = gql(
        http,
        base,
        Some(token),
        "mutation($i: CreateContentInput!) { createContent(input: $i) { id } }",
        json!({ "i": input }),
    )
    .await
    .unwrap();
    let id = made["data"]["createContent"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{made}"))
        .to_owned();
    gql(
        http,
        base,
        Some(token),
        "mutation($id: ID!) { publishContent(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await
    .unwrap();
    id
}
