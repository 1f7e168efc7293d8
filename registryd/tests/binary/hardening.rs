//! What `registryd` refuses or limits as a process: plaintext on a non-loopback address
//! (unless loudly allowed, with a warning at every start), weak bootstrap secrets, tokens
//! without an expiry by default; and serving as a database role that can read and write the
//! registry's tables and nothing else.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
    sync::mpsc,
    time::Duration,
};

use registry_e2e::{admin_url, fresh_database_url};
use registry_proto::v1::{
    CreatePolicyGoalRequest, Pillar, PolicyGoal, WatchChangesRequest,
    change_feed_service_client::ChangeFeedServiceClient, policy_goal_service_client::PolicyGoalServiceClient,
};
use registry_server::domain::token;
use sqlx::Connection;

use crate::helpers::{Bearer, Registryd, TempDir, channel, registryd, run};

#[tokio::test]
async fn plaintext_off_loopback_is_refused_unless_loudly_allowed() {
    let url = fresh_database_url("registry_plain");
    let out = run({
        let mut cmd = registryd();
        cmd.args(["serve", "--listen", "0.0.0.0:0", "--database-url", &url]);
        cmd
    })
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to serve plaintext") && err.contains("--insecure-plaintext-off-loopback"),
        "{err}"
    );

    // Dev mode too (it serves plaintext only), before it starts any PostgreSQL.
    let dir = TempDir::new("registry-dev-plain");
    let out = run({
        let mut cmd = registryd();
        cmd.args(["dev", "--listen", "0.0.0.0:0", "--data-dir"])
            .arg(dir.0.join("pg"));
        cmd
    })
    .await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("refusing to serve plaintext"));
    assert!(!dir.0.join("pg").exists(), "no cluster was created");

    // Allowed explicitly: it serves, and says so as a warning in its log.
    let mut child = registryd()
        .args([
            "serve",
            "--listen",
            "0.0.0.0:0",
            "--insecure-plaintext-off-loopback",
            "--database-url",
            &url,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start registryd");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let warned = loop {
        match lines.recv_timeout(crate::helpers::STARTUP_TIMEOUT) {
            Ok(line) if line.contains("INSECURE") => break line,
            Ok(_) => {}
            Err(e) => panic!("no warning about plaintext: {e}"),
        }
    };
    assert!(warned.contains("WARN"), "{warned}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test]
async fn weak_bootstrap_secrets_are_refused() {
    let url = fresh_database_url("registry_weak");
    let dir = TempDir::new("registry-weak-token");
    let file = dir.0.join("token");
    for weak in [
        format!("rgy_abcdefghijkl_{}", "a".repeat(43)),
        format!("rgy_abcdefghijkl_{}", "0123456789".repeat(4)),
    ] {
        std::fs::write(&file, &weak).unwrap();
        let out = run({
            let mut cmd = registryd();
            cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", &url])
                .arg("--bootstrap-admin-token-file")
                .arg(&file);
            cmd
        })
        .await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("too weak"), "{err}");
        assert!(!err.contains(&weak[17..]), "the secret is not echoed: {err}");
    }
}

/// The whitespace-separated `-` cells of `registryd token list`'s line for `id`.
fn dashes(listed: &str, id: &str) -> usize {
    let line = listed.lines().find(|l| l.starts_with(id)).expect("the token is listed");
    line.split_whitespace().filter(|c| *c == "-").count()
}

#[tokio::test]
async fn tokens_expire_by_default() {
    let url = fresh_database_url("registry_expiry");
    let create = |extra: &[&str]| {
        let mut cmd = registryd();
        cmd.args(["token", "create", "--role", "viewer", "--database-url", &url])
            .args(extra);
        cmd
    };
    let default = String::from_utf8(run(create(&[])).await.stdout).unwrap();
    let forever = String::from_utf8(run(create(&["--no-expiry"])).await.stdout).unwrap();
    let listed = run({
        let mut cmd = registryd();
        cmd.args(["token", "list", "--database-url", &url]);
        cmd
    })
    .await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    // EXPIRES and REVOKED: only REVOKED is empty for the default token.
    assert_eq!(dashes(&listed, token::parse(default.trim()).unwrap()), 1, "{listed}");
    assert_eq!(dashes(&listed, token::parse(forever.trim()).unwrap()), 2, "{listed}");
}

/// `url` connecting as `role`.
fn as_role(url: &str, role: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}user={role}")
}

/// The roles of the compose deployment, made by its postgres init script on a fresh
/// database; dropped with [`Roles::drop_all`].
struct Roles {
    db_url: String,
    owner: String,
    app: String,
}

impl Roles {
    async fn create() -> Roles {
        let suffix = token::generate().id;
        let (owner, app, db) = (
            format!("registry_owner_{suffix}"),
            format!("registry_app_{suffix}"),
            format!("registry_roles_{suffix}"),
        );
        let admin: sqlx::postgres::PgConnectOptions = admin_url().parse().unwrap();
        let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/postgres-init/10-registry-roles.sh"
        );
        let out = run({
            let mut cmd = std::process::Command::new("sh");
            cmd.arg(script)
                .env("PGHOST", admin.get_host())
                .env("PGPORT", admin.get_port().to_string())
                .env("POSTGRES_USER", admin.get_username())
                .env("POSTGRES_DB", &db)
                .env("REGISTRY_OWNER_USER", &owner)
                .env("REGISTRY_OWNER_PASSWORD", "unused-with-trust-auth")
                .env("REGISTRY_APP_USER", &app)
                .env("REGISTRY_APP_PASSWORD", "unused-with-trust-auth");
            cmd
        })
        .await;
        assert!(out.status.success(), "the postgres init script runs");
        Roles {
            db_url: registryd::pg::with_database(&admin_url(), &db).unwrap(),
            owner,
            app,
        }
    }

    async fn drop_all(self) {
        let db = self
            .db_url
            .rsplit('/')
            .next()
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_owned();
        let mut conn = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
        for sql in [
            format!("DROP DATABASE {db} WITH (FORCE)"),
            format!("DROP ROLE {}", self.app),
            format!("DROP ROLE {}", self.owner),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }
}

#[tokio::test]
async fn serve_needs_only_a_dml_role_after_migrate_grants_it() {
    let roles = Roles::create().await;
    let (url, role) = (as_role(&roles.db_url, &roles.owner), roles.app.clone());
    // The owner migrates and grants; the server runs as the role, without migrating.
    let migrated = run({
        let mut cmd = registryd();
        cmd.args(["migrate", "--database-url", &url, "--grant-to", &role]);
        cmd
    })
    .await;
    assert!(migrated.status.success());
    let app_url = as_role(&roles.db_url, &role);
    let admin_token = token::generate();
    let dir = TempDir::new("registry-dml");
    let file = dir.0.join("token");
    std::fs::write(&file, &admin_token.secret).unwrap();
    let mut proc = Registryd::spawn({
        let mut cmd = registryd();
        cmd.args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--no-migrate",
            "--database-url",
            &app_url,
        ])
        .arg("--bootstrap-admin-token-file")
        .arg(&file);
        cmd
    });
    let line = proc.wait_for("registryd listening on");
    let addr = line.split_whitespace().next().unwrap().to_owned();
    let ch = channel(&addr).await;
    let mut watch = ChangeFeedServiceClient::with_interceptor(ch.clone(), Bearer::new(&admin_token.secret))
        .watch_changes(WatchChangesRequest::default())
        .await
        .expect("watch as the DML role")
        .into_inner();
    watch.message().await.unwrap();
    PolicyGoalServiceClient::with_interceptor(ch.clone(), Bearer::new(&admin_token.secret))
        .create_policy_goal(CreatePolicyGoalRequest {
            policy_goal_id: "least-privilege".into(),
            policy_goal: Some(PolicyGoal {
                title: "Written by a DML-only role".into(),
                pillar: Pillar::IndustrialResurgence.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("the DML role writes");
    let change = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let m = watch.message().await.unwrap().unwrap();
            if let Some(registry_proto::v1::watch_changes_response::Event::Change(c)) = m.event {
                return c;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(change.resource_name, "policyGoals/least-privilege");
    assert!(proc.terminate().await.success());

    // The role can do nothing else: no DDL, no TRUNCATE, no superuser.
    let mut app = sqlx::PgConnection::connect(&app_url).await.unwrap();
    for ddl in [
        "CREATE TABLE intruder (x int)",
        "DROP TABLE policy_goals",
        "ALTER TABLE policy_goals ADD COLUMN x int",
        "TRUNCATE change_log",
        "DELETE FROM _sqlx_migrations",
        "CREATE EXTENSION IF NOT EXISTS hstore",
    ] {
        let err = sqlx::query(ddl).execute(&mut app).await.unwrap_err();
        assert!(
            err.to_string().contains("permission denied") || err.to_string().contains("must be owner"),
            "{ddl}: {err}"
        );
    }
    let superuser: bool = sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        .fetch_one(&mut app)
        .await
        .unwrap();
    assert!(!superuser);
    // Nor can the owner's migrations be run by it.
    let refused = run({
        let mut cmd = registryd();
        cmd.args(["migrate", "--database-url", &app_url]);
        cmd
    })
    .await;
    assert!(!refused.status.success());
    app.close().await.unwrap();
    roles.drop_all().await;
}

#[tokio::test]
async fn help_shows_no_secret_values() {
    for sub in ["serve", "migrate"] {
        let out = run({
            let mut cmd = registryd();
            cmd.args([sub, "--help"])
                .env("DATABASE_URL", "postgres://registry:hunter2-db-password@db/registry")
                .env(
                    "REGISTRY_BOOTSTRAP_ADMIN_TOKEN",
                    "rgy_abcdefghijkl_hunter2hunter2hunter2hunter2hunter2hunter2xyz",
                );
            cmd
        })
        .await;
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("DATABASE_URL"), "{help}");
        assert!(!help.contains("hunter2"), "{sub} --help prints a secret: {help}");
    }
}
