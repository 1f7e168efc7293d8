//! The container deployment, checked without a Docker engine: docker-compose.yml is parsed
//! (merge keys applied, as Compose does) and its wiring checked against the Dockerfile and
//! .env.example. `.ci/run` additionally runs `docker compose config -q` where Compose is
//! installed.

use std::{collections::BTreeSet, path::PathBuf};

use serde_norway::Value;

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn compose() -> Value {
    let mut v: Value = serde_norway::from_str(&repo_file("docker-compose.yml")).expect("docker-compose.yml is YAML");
    v.apply_merge().expect("merge keys");
    v
}

fn service<'a>(c: &'a Value, name: &str) -> &'a Value {
    c.get("services")
        .and_then(|s| s.get(name))
        .unwrap_or_else(|| panic!("service {name} is missing"))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for key in path {
        cur = cur.get(*key).unwrap_or_else(|| panic!("{path:?}: no {key}"));
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string: {cur:?}"))
}

/// A list of strings, or a string (shell form) as one element.
fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Sequence(items)) => items.iter().map(|i| i.as_str().unwrap().to_owned()).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        None => vec![],
        Some(other) => panic!("expected a string or a list: {other:?}"),
    }
}

/// `environment` as (key, value) pairs, from the map or the `KEY=value` list form.
fn env(svc: &Value) -> Vec<(String, String)> {
    match svc.get("environment") {
        Some(Value::Mapping(m)) => m
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => panic!("environment value {other:?}"),
                };
                (k.as_str().unwrap().to_owned(), v)
            })
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|i| {
                let (k, v) = i.as_str().unwrap().split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => vec![],
    }
}

fn env_var(svc: &Value, key: &str) -> String {
    env(svc)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("environment {key} is not set"))
}

fn healthcheck_test(svc: &Value) -> String {
    strings(svc.get("healthcheck").and_then(|h| h.get("test"))).join(" ")
}

fn depends_condition(svc: &Value, on: &str) -> String {
    str_at(svc, &["depends_on", on, "condition"]).to_owned()
}

/// Container ports of `ports` entries (`[host_ip:]host:container[/proto]`).
fn container_ports(svc: &Value) -> BTreeSet<u16> {
    strings(svc.get("ports"))
        .iter()
        .map(|p| {
            let p = p.split('/').next().unwrap();
            p.rsplit(':').next().unwrap().parse().expect("container port")
        })
        .collect()
}

fn port_of(addr: &str) -> u16 {
    addr.rsplit(':').next().unwrap().trim_end_matches('/').parse().unwrap()
}

#[test]
fn postgres_is_the_official_image_with_a_volume_and_pg_isready() {
    let c = compose();
    let pg = service(&c, "postgres");
    assert!(str_at(pg, &["image"]).starts_with("postgres:15"));
    let volumes = strings(pg.get("volumes"));
    let data = volumes
        .iter()
        .find(|v| v.contains(":/var/lib/postgresql/data"))
        .expect("a volume for the data directory");
    let name = data.split(':').next().unwrap();
    assert!(
        c.get("volumes").and_then(|v| v.get(name)).is_some(),
        "volume {name} is declared"
    );
    assert!(healthcheck_test(pg).contains("pg_isready"));
    assert!(pg.get("ports").is_none(), "the database is not published");
}

#[test]
fn registryd_waits_for_postgres_and_is_health_checked() {
    let c = compose();
    let pg = service(&c, "postgres");
    let r = service(&c, "registryd");
    assert_eq!(str_at(r, &["build", "dockerfile"]), "Dockerfile");
    assert_eq!(str_at(r, &["build", "context"]), ".");
    assert_eq!(depends_condition(r, "postgres"), "service_healthy");
    assert_eq!(depends_condition(r, "migrate"), "service_completed_successfully");
    assert!(matches!(
        str_at(r, &["restart"]),
        "unless-stopped" | "always" | "on-failure"
    ));
    assert_eq!(strings(r.get("command")), ["registryd", "serve"]);

    // The database URL names the postgres service with the app role and the database.
    let url = env_var(r, "DATABASE_URL");
    assert!(url.starts_with("postgres://"), "{url}");
    assert!(url.contains("@postgres:5432/"), "{url}");
    let pg_env = env(pg);
    for (key, value) in pg_env
        .iter()
        .filter(|(k, _)| k == "REGISTRY_APP_USER" || k == "REGISTRY_APP_PASSWORD" || k == "POSTGRES_DB")
    {
        assert!(url.contains(value.as_str()), "{key}={value} is not in {url}");
    }

    // Listen addresses, published ports and the health check agree.
    let grpc = port_of(&env_var(r, "REGISTRY_LISTEN"));
    let metrics = port_of(&env_var(r, "REGISTRY_METRICS_LISTEN"));
    assert!(env_var(r, "REGISTRY_LISTEN").starts_with("0.0.0.0:"));
    assert_eq!(container_ports(r), BTreeSet::from([grpc, metrics]));
    let check = healthcheck_test(r);
    assert!(check.contains("registryd healthcheck"), "{check}");
    let dockerfile = repo_file("Dockerfile");
    let hc_endpoint = dockerfile
        .split_whitespace()
        .find_map(|w| w.strip_prefix("REGISTRY_HEALTHCHECK_ENDPOINT="))
        .expect("the image sets REGISTRY_HEALTHCHECK_ENDPOINT");
    assert_eq!(port_of(hc_endpoint), grpc, "the health check reaches the gRPC port");
}

#[test]
fn bootstrap_tokens_come_from_secrets() {
    let c = compose();
    let r = service(&c, "registryd");
    let secrets = strings(r.get("secrets"));
    assert_eq!(secrets, ["registry_admin_token", "registry_editor_token"]);
    for (var, secret) in [
        ("REGISTRY_BOOTSTRAP_ADMIN_TOKEN_FILE", "registry_admin_token"),
        ("REGISTRY_BOOTSTRAP_EDITOR_TOKEN_FILE", "registry_editor_token"),
    ] {
        assert_eq!(env_var(r, var), format!("/run/secrets/{secret}"));
        assert!(
            str_at(&c, &["secrets", secret, "file"]).contains(secret),
            "the secret is a file"
        );
    }
    assert!(
        env(r).iter().all(|(k, _)| k != "REGISTRY_BOOTSTRAP_ADMIN_TOKEN"),
        "never the token itself in the environment"
    );
}

#[test]
fn seed_imports_with_the_same_image_and_an_editor_token_once_registryd_is_healthy() {
    let c = compose();
    let r = service(&c, "registryd");
    let s = service(&c, "seed");
    assert_eq!(s.get("image"), r.get("image"), "the same image");
    assert_eq!(s.get("build"), r.get("build"), "built the same way");
    assert_eq!(depends_condition(s, "registryd"), "service_healthy");
    assert_eq!(str_at(s, &["restart"]), "no", "a one-shot job");
    let run = [strings(s.get("entrypoint")), strings(s.get("command"))]
        .concat()
        .join(" ");
    assert!(run.contains("registryctl import /seeds"), "{run}");
    assert!(
        strings(s.get("volumes"))
            .iter()
            .any(|v| v.starts_with("./seeds:/seeds"))
    );
    // It reaches registryd by service name on its gRPC port, with the EDITOR secret only.
    let grpc = port_of(&env_var(r, "REGISTRY_LISTEN"));
    assert_eq!(env_var(s, "REGISTRY_ENDPOINT"), format!("http://registryd:{grpc}"));
    assert_eq!(strings(s.get("secrets")), ["registry_editor_token"]);
    assert_eq!(env_var(s, "REGISTRY_TOKEN_FILE"), "/run/secrets/registry_editor_token");
    assert_eq!(
        env_var(r, "REGISTRY_BOOTSTRAP_EDITOR_TOKEN_FILE"),
        "/run/secrets/registry_editor_token",
        "registryd registers that secret as an EDITOR token"
    );
    assert_eq!(
        s.get("healthcheck").and_then(|h| h.get("disable")),
        Some(&Value::Bool(true)),
        "the server's health check does not apply to the job"
    );
}

#[test]
fn least_privilege_roles_and_containers() {
    let c = compose();
    let pg = service(&c, "postgres");
    let m = service(&c, "migrate");
    let r = service(&c, "registryd");
    // Three roles: the superuser (the image's, for its init script only), the owner that
    // migrates, the app role registryd connects as.
    let superuser = env_var(pg, "POSTGRES_USER");
    let owner = env_var(pg, "REGISTRY_OWNER_USER");
    let app = env_var(pg, "REGISTRY_APP_USER");
    assert!(superuser != owner && owner != app && app != superuser);
    assert!(env_var(m, "DATABASE_URL").starts_with(&format!("postgres://{owner}:")));
    assert!(env_var(r, "DATABASE_URL").starts_with(&format!("postgres://{app}:")));
    assert_eq!(
        strings(m.get("command")),
        ["registryd", "migrate", "--grant-to", app.as_str()]
    );
    assert_eq!(str_at(m, &["restart"]), "no", "a one-shot job");
    assert_eq!(depends_condition(m, "postgres"), "service_healthy");
    assert_eq!(env_var(r, "REGISTRY_NO_MIGRATE"), "true", "the app role cannot migrate");
    // The roles come from the init script, which reads the same variables.
    assert!(
        strings(pg.get("volumes"))
            .iter()
            .any(|v| v == "./deploy/postgres-init:/docker-entrypoint-initdb.d:ro")
    );
    let script = repo_file("deploy/postgres-init/10-registry-roles.sh");
    for var in [
        "REGISTRY_OWNER_USER",
        "REGISTRY_OWNER_PASSWORD",
        "REGISTRY_APP_USER",
        "REGISTRY_APP_PASSWORD",
    ] {
        assert!(script.contains(var), "the init script uses {var}");
    }
    assert!(script.contains("NOSUPERUSER"));
    // Every container: no capabilities beyond what it needs, no privilege escalation; the
    // registry's own read-only.
    for name in ["migrate", "registryd", "seed"] {
        let svc = service(&c, name);
        assert_eq!(svc.get("read_only"), Some(&Value::Bool(true)), "{name}");
        assert_eq!(strings(svc.get("cap_drop")), ["ALL"], "{name}");
        assert!(svc.get("cap_add").is_none(), "{name}");
        assert_eq!(strings(svc.get("security_opt")), ["no-new-privileges:true"], "{name}");
    }
    assert_eq!(strings(pg.get("cap_drop")), ["ALL"]);
    assert_eq!(strings(pg.get("security_opt")), ["no-new-privileges:true"]);
    assert_eq!(pg.get("read_only"), Some(&Value::Bool(true)));
}

#[test]
fn plaintext_is_a_stated_choice() {
    let c = compose();
    let r = service(&c, "registryd");
    // registryd listens beyond loopback without TLS in the compose network: only with the
    // explicit flag, and the host port is published on loopback by default.
    assert!(env(r).iter().all(|(k, _)| !k.starts_with("REGISTRY_TLS_")));
    assert_eq!(env_var(r, "REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK"), "true");
    assert!(
        strings(r.get("ports"))
            .iter()
            .all(|p| p.starts_with("${REGISTRY_GRPC_BIND:-127.0.0.1}")
                || p.starts_with("${REGISTRY_METRICS_BIND:-127.0.0.1}")),
    );
    // The image chooses neither: it refuses plaintext off loopback unless told.
    let dockerfile = repo_file("Dockerfile");
    let instructions: String = dockerfile
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    assert!(!instructions.contains("REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK"));
    assert!(
        dockerfile.contains("REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK"),
        "and says why"
    );
}

#[test]
fn env_example_has_no_usable_password() {
    let example = repo_file(".env.example");
    let passwords: Vec<(&str, &str)> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .filter(|(k, _)| k.ends_with("PASSWORD"))
        .collect();
    assert_eq!(passwords.len(), 3, "{passwords:?}");
    assert!(passwords.iter().all(|(_, v)| v.trim().is_empty()), "{passwords:?}");
    // Compose refuses to start without them (`:?`).
    let compose = repo_file("docker-compose.yml");
    for (k, _) in passwords {
        assert!(compose.contains(&format!("${{{k}:?")), "{k} is required");
    }
}

#[test]
fn dockerfile_is_multi_stage_slim_non_root_with_both_binaries() {
    let d = repo_file("Dockerfile");
    let froms: Vec<&str> = d.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(froms.len() >= 3, "{froms:?}");
    let runtime = froms.last().unwrap();
    assert!(runtime.contains("debian:${DEBIAN_RELEASE}-slim") && d.contains("ARG DEBIAN_RELEASE=bookworm"));
    // Dependencies are cooked from the recipe before the sources are copied in.
    let cook = d.find("cargo chef cook").expect("cargo-chef dependency layer");
    let copy_all = d.rfind("COPY . .").unwrap();
    assert!(cook < copy_all);
    assert!(d.contains("-p registryd -p registry-cli --bin registryd --bin registryctl"));
    let user = d.lines().rev().find_map(|l| l.strip_prefix("USER ")).expect("USER");
    assert!(!user.starts_with('0') && !user.starts_with("root"), "{user}");
    assert!(d.contains("HEALTHCHECK") && d.contains(r#"CMD ["registryd", "healthcheck""#));
}

#[test]
fn env_example_documents_every_variable() {
    let text = repo_file("docker-compose.yml");
    let mut used = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("${") {
        let escaped = i > 0 && rest.as_bytes()[i - 1] == b'$';
        let after = &rest[i + 2..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !escaped {
            used.insert(name);
        }
        rest = after;
    }
    assert!(used.contains("POSTGRES_PASSWORD"));
    let example = repo_file(".env.example");
    let documented: BTreeSet<String> = example
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim().to_owned()))
        .collect();
    let missing: Vec<&String> = used.difference(&documented).collect();
    assert!(missing.is_empty(), "not in .env.example: {missing:?}");
}
