//! The `arena` binary as an operator runs it.

// Tests fail loudly on anything unexpected, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use arena_migration::{Migrator, MigratorTrait};

/// `arena` with no Arena variables inherited, run in `dir`.
fn arena(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_arena"));
    command.current_dir(dir);
    for (name, _) in std::env::vars() {
        if name.starts_with("ARENA_") || name == "DATABASE_URL" || name == "REDIS_URL" {
            command.env_remove(name);
        }
    }
    command.env("RUST_LOG", "info");
    command
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn export_schema_prints_the_live_sdl() {
    let dir = tempfile::tempdir().unwrap();
    let output = arena(dir.path()).arg("export-schema").output().unwrap();
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        arena_api::graphql::sdl()
    );
    assert!(!dir.path().join("arena.db").exists(), "needs no database");
}

#[test]
fn unreachable_database_fails_with_one_line_naming_the_url_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = arena(dir.path())
        .env("DATABASE_URL", "postgres://arena:hunter2@127.0.0.1:1/arena")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "arena: cannot connect to the database at postgres://arena:***@127.0.0.1:1/arena"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn configured_but_unreachable_redis_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = arena(dir.path())
        .env("REDIS_URL", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(
        stderr.contains("arena: REDIS_URL is set but Redis at redis://127.0.0.1:1"),
        "{stderr}"
    );
}

#[test]
fn invalid_setting_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = arena(dir.path())
        .env("ARENA_GRAPHQL_DEPTH_LIMIT", "deep")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr_of(&output).contains("ARENA_GRAPHQL_DEPTH_LIMIT"));

    let missing = arena(dir.path())
        .args(["--config", "nowhere.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr_of(&missing).contains("nowhere.toml does not exist"));
}

#[test]
fn migrate_up_status_and_down_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let total = Migrator::migrations().len();
    let status = |dir: &Path| {
        let output = arena(dir).args(["migrate", "status"]).output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(status(dir.path()), format!("0 applied, {total} pending"));
    let up = arena(dir.path()).args(["migrate", "up"]).output().unwrap();
    assert!(up.status.success(), "{}", stderr_of(&up));
    assert_eq!(status(dir.path()), format!("{total} applied, 0 pending"));
    let down = arena(dir.path())
        .args(["migrate", "down", "--steps", "1"])
        .output()
        .unwrap();
    assert!(down.status.success(), "{}", stderr_of(&down));
    let reverted = usize::from(total > 0);
    assert_eq!(
        status(dir.path()),
        format!("{} applied, {reverted} pending", total - reverted)
    );
}

#[test]
fn create_admin_takes_the_password_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str| {
        arena(dir.path())
            .args(["create-admin", "--username", "boss", "--email", email])
            .env("ARENA_ADMIN_PASSWORD", "a strong password")
            .env("ARENA_BCRYPT_COST", "4")
            .output()
            .unwrap()
    };
    let made = create("boss@example.com");
    assert!(made.status.success(), "{}", stderr_of(&made));
    assert!(String::from_utf8_lossy(&made.stdout).starts_with("created admin boss ("));
    let again = create("other@example.com");
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr_of(&again).contains("arena: that username is taken"),
        "{}",
        stderr_of(&again)
    );
}

/// Posts a GraphQL query over a plain socket and returns the raw HTTP answer.
fn post(addr: &str, query: &str) -> String {
    let body = format!("{{\"query\":\"{query}\"}}");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nhost: arena\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn serve_with_no_configuration_runs_on_sqlite_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Port 0 is the one setting given, so parallel runs do not collide on 8000.
    let mut child = arena(dir.path())
        .env("ARENA_BIND", "127.0.0.1:0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut log = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut line = String::new();
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

    let answer = post(&addr, "{ serverInfo { databaseBackend redisConnected } }");
    assert!(
        answer.contains(
            r#"{"data":{"serverInfo":{"databaseBackend":"SQLITE","redisConnected":false}}}"#
        ),
        "{answer}"
    );
    assert!(
        dir.path().join("arena.db").exists(),
        "the embedded default file"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "arena did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    let mut rest = String::new();
    log.read_to_string(&mut rest).unwrap();
    assert!(
        rest.contains("shutting down") && rest.contains("stopped"),
        "{rest}"
    );
}
