//! Faults: `kill -9` of registryd under concurrent writers, and a PostgreSQL outage under
//! load. Nothing acknowledged may be lost, nothing half-applied may remain, and the server
//! must fail fast while the database is away and recover when it is back.

use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use registry_proto::v1::{
    BatchGetPolicyGoalsRequest, CreatePolicyGoalRequest, ListPolicyGoalsRequest, Pillar, PolicyGoal,
    policy_goal_service_client::PolicyGoalServiceClient,
};
use registry_server::{ServerOptions, Store, StoreOptions, domain::token};
use registryd::pg;
use sqlx::Connection;
use tonic::{Code, service::interceptor::InterceptedService, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::helpers::{Bearer, Registryd, TempDir, channel, registryd};

type Goals = PolicyGoalServiceClient<InterceptedService<Channel, Bearer>>;

fn create(id: &str) -> CreatePolicyGoalRequest {
    CreatePolicyGoalRequest {
        policy_goal_id: id.into(),
        policy_goal: Some(PolicyGoal {
            title: format!("Goal {id}"),
            pillar: Pillar::IndustrialResurgence.into(),
            ..Default::default()
        }),
        request_id: format!("req-{id}"),
        validate_only: false,
    }
}

/// `registryd serve` on `url` with the bootstrap admin token in `secret_file`, and its address.
fn serve(url: &str, secret_file: &std::path::Path) -> (Registryd, String) {
    let mut cmd = registryd();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--bootstrap-admin-token-file")
        .arg(secret_file)
        .env("RUST_LOG", "warn");
    let mut proc = Registryd::spawn(cmd);
    let line = proc.wait_for("registryd listening on");
    let addr = line.split_whitespace().next().unwrap().to_owned();
    (proc, addr)
}

#[tokio::test]
async fn kill_9_under_concurrent_writers_loses_no_acknowledged_write() {
    let admin_url = registry_e2e::admin_url();
    let db = format!("registry_kill_{}", uuid::Uuid::new_v4().simple());
    let url = pg::with_database(&admin_url, &db).unwrap();
    let dir = TempDir::new("registry-kill");
    let admin = token::generate();
    let secret_file = dir.0.join("admin-token");
    std::fs::write(&secret_file, &admin.secret).unwrap();

    let (mut proc, addr) = serve(&url, &secret_file);
    let goals = PolicyGoalServiceClient::with_interceptor(channel(&addr).await, Bearer::new(&admin.secret));

    // 16 writers create goals continuously; every acknowledged name is recorded.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (goals, acked, stop) = (goals.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("w{w}-{n}");
                n += 1;
                match goals.clone().create_policy_goal(create(&id)).await {
                    Ok(r) => acked.lock().unwrap().push(r.into_inner().name),
                    // The server is gone: this writer is done.
                    Err(_) => break,
                }
            }
        }));
    }
    // Kill once a good number of writes were acknowledged, while the writers keep going.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.lock().unwrap().len() < 300 {
        assert!(Instant::now() < deadline, "writers too slow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proc.child.kill().expect("SIGKILL registryd");
    let _ = proc.child.wait();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let acked: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    println!("{} writes acknowledged before kill -9", acked.len());

    // Restart on the same database: every acknowledged write is there.
    let (proc, addr) = serve(&url, &secret_file);
    let mut goals = PolicyGoalServiceClient::with_interceptor(channel(&addr).await, Bearer::new(&admin.secret));
    let names: Vec<String> = acked.iter().cloned().collect();
    for chunk in names.chunks(1000) {
        let got = goals
            .batch_get_policy_goals(BatchGetPolicyGoalsRequest {
                names: chunk.to_vec(),
                allow_missing: false,
            })
            .await
            .expect("every acknowledged goal is readable")
            .into_inner()
            .policy_goals;
        assert_eq!(got.len(), chunk.len());
    }
    // Nothing half-applied: every stored goal has exactly its one CREATED change and its
    // request id with a response; every logged goal exists.
    let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
    let (goals_n, created_n, orphans, unlogged, unanswered): (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM policy_goals),
                (SELECT count(*) FROM change_log WHERE resource_name LIKE 'policyGoals/%'),
                (SELECT count(*) FROM change_log c WHERE resource_name LIKE 'policyGoals/%'
                   AND NOT EXISTS (SELECT 1 FROM policy_goals g WHERE 'policyGoals/' || g.id = c.resource_name)),
                (SELECT count(*) FROM policy_goals g WHERE NOT EXISTS
                   (SELECT 1 FROM change_log c WHERE c.resource_name = 'policyGoals/' || g.id AND c.change_kind = 'CREATED')),
                (SELECT count(*) FROM request_ids WHERE response IS NULL)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(goals_n >= acked.len() as i64);
    assert_eq!(
        (created_n, orphans, unlogged, unanswered),
        (goals_n, 0, 0, 0),
        "change log and resources agree"
    );
    // Sequence numbers are drawn before commit, so a write the kill cut off leaves a hole in
    // the numbering (never a missing change: readers stop at the settled point). At most one
    // hole per writer in flight at the kill.
    let (min, max, count): (Option<i64>, Option<i64>, i64) =
        sqlx::query_as("SELECT min(sequence), max(sequence), count(*) FROM change_log")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let holes = max.unwrap() - min.unwrap() + 1 - count;
    assert!((0..=16).contains(&holes), "{holes} holes in the change-log numbering");
    // A retried create of an acknowledged goal replays its answer.
    let first = names.first().unwrap().trim_start_matches("policyGoals/").to_owned();
    let replay = goals.create_policy_goal(create(&first)).await.unwrap().into_inner();
    assert_eq!(replay.name, format!("policyGoals/{first}"));
    assert!(proc.terminate().await.success());
    conn.close().await.ok();
    let mut admin_conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
    )))
    .execute(&mut admin_conn)
    .await;
}

async fn health(ch: &Channel) -> Option<i32> {
    HealthClient::new(ch.clone())
        .check(HealthCheckRequest { service: String::new() })
        .await
        .ok()
        .map(|r| r.into_inner().status)
}

/// Polls `check` until it holds or `limit` passes; returns how long it took.
async fn within<F, Fut>(limit: Duration, what: &str, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn database_outage_fails_fast_and_recovers() {
    let mut pg = pg::discover(pg::Policy::Private).await.expect("a private PostgreSQL");
    let url = pg::with_database(pg.url(), "registry").unwrap();
    let store = Store::connect(
        &url,
        StoreOptions {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(2),
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let (_, secret) = store
        .create_token(
            registry_server::domain::enums::Role::Admin,
            "faults",
            None,
            &registry_server::store::WriteCtx {
                actor: registry_server::domain::Actor::system(),
                request_id: None,
                validate_only: false,
            },
        )
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(registry_server::serve(
        store,
        listener,
        ServerOptions {
            health_probe_interval: Duration::from_millis(200),
            request_timeout: Duration::from_secs(10),
            ..ServerOptions::default()
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    let ch = channel(&addr).await;
    let mut goals = PolicyGoalServiceClient::with_interceptor(ch.clone(), Bearer::new(&secret));
    goals.create_policy_goal(create("before-outage")).await.unwrap();
    // A call that needs the database: a List (a Get of a goal read before may be answered
    // by the read cache while the change feed is fresh, see docs/scaling.md).
    let get = |goals: &Goals| {
        let mut goals = goals.clone();
        async move {
            goals
                .list_policy_goals(ListPolicyGoalsRequest {
                    page_size: 1,
                    ..Default::default()
                })
                .await
        }
    };

    // Load while the database goes away.
    let load_stop = Arc::new(AtomicBool::new(false));
    let load: Vec<_> = (0..8)
        .map(|_| {
            let (goals, stop) = (goals.clone(), load_stop.clone());
            tokio::spawn(async move {
                let mut codes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let r = get(&goals).await;
                    codes.push((r.map(|_| Code::Ok).unwrap_or_else(|s| s.code()), started.elapsed()));
                }
                codes
            })
        })
        .collect();

    pg.pause().await.expect("stop PostgreSQL");
    // Calls fail fast with UNAVAILABLE (no hang), and health turns NOT_SERVING.
    let started = Instant::now();
    let err = get(&goals).await.expect_err("the database is down");
    assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failed after {:?}",
        started.elapsed()
    );
    within(Duration::from_secs(10), "NOT_SERVING", || async {
        health(&ch).await == Some(ServingStatus::NotServing as i32)
    })
    .await;
    assert!(!server.is_finished(), "registryd keeps running without its database");

    pg.resume().await.expect("start PostgreSQL again");
    let back = within(Duration::from_secs(15), "serving again", || async {
        get(&goals).await.is_ok()
    })
    .await;
    println!("serving again {back:?} after the database came back");
    assert!(back < Duration::from_secs(5), "recovered only after {back:?}");
    within(Duration::from_secs(5), "SERVING", || async {
        health(&ch).await == Some(ServingStatus::Serving as i32)
    })
    .await;
    load_stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for l in load {
        outcomes.extend(l.await.unwrap());
    }
    // Under load, every call either worked or failed with UNAVAILABLE, none hung.
    assert!(
        outcomes
            .iter()
            .all(|(c, took)| matches!(c, Code::Ok | Code::Unavailable) && *took < Duration::from_secs(10)),
        "{:?}",
        outcomes
            .iter()
            .filter(|(c, _)| !matches!(c, Code::Ok | Code::Unavailable))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert!(outcomes.iter().any(|(c, _)| *c == Code::Unavailable));
    // The pool is healthy again: a burst of writes succeeds.
    for i in 0..20 {
        goals.create_policy_goal(create(&format!("after-{i}"))).await.unwrap();
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    pg.stop().await.unwrap();
}
