//! `docker-compose.yml` and the `Dockerfile` agree with the code: no Docker engine runs here,
//! so the files are read against what the settings loader and binary expect.

use std::collections::BTreeSet;

use arena_api::settings::ENV_VARS;
use yaml_rust2::{Yaml, YamlLoader};

fn repo_file(name: &str) -> String {
    let path = format!("{}/../{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn compose() -> Yaml {
    let mut docs = YamlLoader::load_from_str(&repo_file("docker-compose.yml"))
        .expect("docker-compose.yml is YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

/// `environment:` as a map or as a list of `NAME=value`.
fn environment(service: &Yaml) -> Vec<(String, String)> {
    match &service["environment"] {
        Yaml::Hash(map) => map
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => panic!("unexpected value {other:?}"),
                };
                (k.as_str().expect("name").to_owned(), value)
            })
            .collect(),
        Yaml::Array(items) => items
            .iter()
            .map(|item| {
                let (k, v) = item
                    .as_str()
                    .expect("NAME=value")
                    .split_once('=')
                    .expect("=");
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        Yaml::BadValue => Vec::new(),
        other => panic!("unexpected environment {other:?}"),
    }
}

#[test]
fn compose_sets_only_variables_the_settings_read() {
    let compose = compose();
    let known: BTreeSet<&str> = ENV_VARS.iter().map(|(name, _)| *name).collect();
    let api = &compose["services"]["api"];
    assert!(!api.is_badvalue(), "an api service");
    let env = environment(api);
    assert!(!env.is_empty());
    for (name, _) in &env {
        assert!(known.contains(name.as_str()), "{name} is not read by Arena");
    }
    let value = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("api sets {name}"))
    };
    assert!(value("DATABASE_URL").starts_with("postgres://"));
    assert!(value("DATABASE_URL").contains("@postgres:5432/"));
    assert_eq!(value("REDIS_URL"), "redis://redis:6379");
    assert!(
        value("ARENA_BIND").starts_with("0.0.0.0:"),
        "reachable from outside"
    );
}

#[test]
fn compose_services_exist_and_the_api_waits_for_them() {
    let compose = compose();
    let services = compose["services"].as_hash().expect("services");
    let names: BTreeSet<&str> = services.keys().filter_map(Yaml::as_str).collect();
    for needed in ["postgres", "redis", "api"] {
        assert!(names.contains(needed), "service {needed}");
    }
    for (name, service) in services {
        assert!(
            !service["image"].is_badvalue() || !service["build"].is_badvalue(),
            "{name:?} has an image or a build"
        );
    }
    let depends = compose["services"]["api"]["depends_on"]
        .as_hash()
        .expect("api depends_on with conditions");
    for (dependency, condition) in depends {
        let dependency = dependency.as_str().expect("name");
        assert!(names.contains(dependency), "{dependency} exists");
        assert_eq!(condition["condition"].as_str(), Some("service_healthy"));
        assert!(
            !compose["services"][dependency]["healthcheck"].is_badvalue(),
            "{dependency} has a healthcheck to wait on"
        );
    }
    // The port published is the port the api binds.
    let bind = environment(&compose["services"]["api"])
        .into_iter()
        .find(|(k, _)| k == "ARENA_BIND")
        .map(|(_, v)| v)
        .expect("ARENA_BIND");
    let port = bind.rsplit(':').next().expect("port");
    let ports = compose["services"]["api"]["ports"].as_vec().expect("ports");
    assert!(
        ports
            .iter()
            .filter_map(Yaml::as_str)
            .any(|mapping| mapping.ends_with(&format!(":{port}"))),
        "publishes {port}"
    );
}

#[test]
fn crawler_services_set_only_variables_the_crawler_reads_and_agree() {
    let compose = compose();
    let known: BTreeSet<&str> = arena_crawler::settings::ENV_VARS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    let service = |name: &str| {
        let service = &compose["services"][name];
        assert!(!service.is_badvalue(), "service {name}");
        assert_eq!(
            service["entrypoint"][0].as_str(),
            Some("/usr/local/bin/arena-crawler")
        );
        environment(service)
    };
    let value = |env: &[(String, String)], name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name} is set"))
    };
    let coordinator = service("crawler-coordinator");
    let workers = [service("crawler-worker-1"), service("crawler-worker-2")];
    for env in workers.iter().chain([&coordinator]) {
        for (name, _) in env {
            assert!(
                known.contains(name.as_str()),
                "{name} is not read by arena-crawler"
            );
        }
    }
    assert_eq!(
        compose["services"]["crawler-coordinator"]["command"][0].as_str(),
        Some("coordinator")
    );
    assert!(value(&coordinator, "DATABASE_URL").contains("@postgres:5432/"));
    let port = value(&coordinator, "ARENA_CRAWLER_BIND")
        .rsplit(':')
        .next()
        .map(str::to_owned)
        .expect("port");
    for worker in &workers {
        assert_eq!(
            value(worker, "ARENA_CRAWLER_COORDINATOR_URL"),
            format!("ws://crawler-coordinator:{port}/ws")
        );
        assert_eq!(
            value(worker, "ARENA_CRAWLER_TOKEN"),
            value(&coordinator, "ARENA_CRAWLER_TOKEN")
        );
    }
    // The demo simulator listens where the coordinator's default API URL points.
    let simulator = &compose["services"]["wg-simulator"];
    assert_eq!(simulator["profiles"][0].as_str(), Some("demo"));
    let args: Vec<&str> = simulator["command"]
        .as_vec()
        .expect("command")
        .iter()
        .filter_map(Yaml::as_str)
        .collect();
    assert_eq!(args[0], "simulate-api");
    let bind = args[args.iter().position(|a| *a == "--bind").expect("--bind") + 1];
    let sim_port = bind.rsplit(':').next().expect("port");
    assert!(
        value(&coordinator, "ARENA_CRAWLER_API_URL")
            .contains(&format!("http://wg-simulator:{sim_port}/"))
    );
    assert!(repo_file("Dockerfile").contains("/usr/local/bin/arena-crawler"));
}

#[test]
fn dockerfile_builds_and_runs_the_arena_binary() {
    let dockerfile = repo_file("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.trim_start().to_uppercase().starts_with("FROM "))
        .count();
    assert!(stages >= 2, "multi-stage");
    assert!(dockerfile.contains("cargo build --release"));
    assert!(dockerfile.contains("--bin arena"));
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/arena\"]"));
    // The dashboard is built and shipped, and the variable that points at it is Arena's.
    assert!(dockerfile.contains("dashboard/build.sh"));
    assert!(dockerfile.contains("ARENA_DASHBOARD_DIR=/usr/share/arena/dashboard"));
    assert!(
        ENV_VARS
            .iter()
            .any(|(name, _)| *name == "ARENA_DASHBOARD_DIR")
    );
    let compose = compose();
    assert_eq!(
        compose["services"]["api"]["build"]["dockerfile"].as_str(),
        Some("Dockerfile")
    );
}
