//! Concurrent writers: etags prevent lost updates, request ids make concurrent retries create
//! one resource, and racing parent/child writes never leave a dangling reference.

use registry_client::prost_types::FieldMask;
use registry_e2e::{Error, TestApp, create, goal, pb};

fn label_update(name: &str, etag: &str, value: String) -> pb::UpdatePolicyGoalRequest {
    pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: name.into(),
            etag: etag.into(),
            labels: [("counter".to_owned(), value)].into(),
            ..Default::default()
        }),
        update_mask: Some(FieldMask {
            paths: vec!["labels.counter".into()],
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn same_etag_from_64_writers_lets_exactly_one_win() {
    let app = TestApp::spawn().await;
    let g = app
        .client
        .create_policy_goal(create("contended", goal("Contended", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let c = app.client.clone();
            let req = label_update(&g.name, &g.etag, format!("w{i}"));
            tokio::spawn(async move { c.update_policy_goal(req).await })
        })
        .collect();
    let (mut ok, mut aborted) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(Error::Aborted { .. }) => aborted += 1,
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!((ok, aborted), (1, 63));
    assert_eq!(app.client.get_policy_goal(&g.name).await.unwrap().revision, 2);
}

#[tokio::test]
async fn read_modify_write_loops_with_etags_lose_no_update() {
    let app = TestApp::spawn().await;
    let name = app
        .client
        .create_policy_goal(create("counter", goal("Counter", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap()
        .name;
    const CLIENTS: usize = 64;
    const EACH: usize = 3;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (c, name) = (app.client.clone(), name.clone());
            tokio::spawn(async move {
                let mut done = 0;
                let mut conflicts = 0;
                while done < EACH {
                    let cur = c.get_policy_goal(&name).await.unwrap();
                    let n: u64 = cur.labels.get("counter").map_or(0, |v| v.parse().unwrap());
                    match c
                        .update_policy_goal(label_update(&name, &cur.etag, (n + 1).to_string()))
                        .await
                    {
                        Ok(_) => done += 1,
                        Err(Error::Aborted { .. }) => conflicts += 1,
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let end = app.client.get_policy_goal(&name).await.unwrap();
    assert_eq!(
        end.labels["counter"],
        (CLIENTS * EACH).to_string(),
        "every applied update counted"
    );
    assert_eq!(end.revision, 1 + (CLIENTS * EACH) as i64);
    println!("{conflicts} conflicts retried");
}

#[tokio::test]
async fn one_request_id_retried_concurrently_creates_one_goal() {
    let app = TestApp::spawn().await;
    let req = pb::CreatePolicyGoalRequest {
        request_id: "0b9d6f0e-4a3c-4c1b-9a55-2f1c8d7e6a01".into(),
        ..create("once", goal("Once", pb::Pillar::TradeNationalInterest))
    };
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let (c, req) = (app.client.clone(), req.clone());
            tokio::spawn(async move { c.create_policy_goal(req).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap().expect("every retry gets the answer"));
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "the same answer for everyone");
    let (goals, changes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM policy_goals),
                (SELECT count(*) FROM change_log WHERE resource_name = 'policyGoals/once')",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!((goals, changes), (1, 1));
}

#[tokio::test]
async fn racing_child_creates_and_parent_deletes_leave_no_orphan() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for round in 0..12 {
        let parent = format!("parent-{round}");
        c.create_policy_goal(create(&parent, goal("Parent", pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
        let child = pb::PolicyGoal {
            parent: format!("policyGoals/{parent}"),
            ..goal("Child", pb::Pillar::IndustrialResurgence)
        };
        let (made, deleted) = tokio::join!(
            c.create_policy_goal(create(&format!("child-{round}"), child)),
            c.delete_policy_goal(pb::DeletePolicyGoalRequest {
                name: format!("policyGoals/{parent}"),
                ..Default::default()
            })
        );
        match (&made, &deleted) {
            (Ok(_), Err(Error::FailedPrecondition { reason, .. })) => assert_eq!(reason, "HAS_LIVE_CHILDREN"),
            (Err(Error::FailedPrecondition { reason, .. }), Ok(_)) => assert_eq!(reason, "PARENT_DELETED"),
            other => panic!("round {round}: {other:?}"),
        }
    }
    let (orphans,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM policy_goals c JOIN policy_goals p ON p.id = c.parent_id
         WHERE c.delete_time IS NULL AND p.delete_time IS NOT NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(orphans, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_their_clients_abandon_leave_no_transaction_open() {
    let app = TestApp::spawn().await;
    // 300 creates and validate-only creates whose callers stop waiting at every point from
    // before BEGIN to after COMMIT.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300u64 {
        let c = app.client.clone();
        tasks.spawn(async move {
            let req = pb::CreatePolicyGoalRequest {
                validate_only: i % 3 == 0,
                ..create(&format!("gone{i}"), goal("Abandoned", pb::Pillar::IndustrialResurgence))
            };
            let _ = tokio::time::timeout(
                std::time::Duration::from_micros((i % 40) * 100),
                c.create_policy_goal(req),
            )
            .await;
        });
    }
    while tasks.join_next().await.is_some() {}
    // Every handler still ends its transaction: no connection stays inside one.
    let mut open = i64::MAX;
    for _ in 0..200 {
        open = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(app.pool())
        .await
        .unwrap();
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(open, 0, "connections left inside abandoned transactions");
    // Writes and the change feed go on, and every stored goal has its change record. (On a
    // new connection: after hundreds of streams reset at once, HTTP/2's rapid-reset defence
    // may close the old one.)
    let client = app.new_client().await;
    client
        .create_policy_goal(create("after", goal("After", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let history = client
        .list_changes_page(pb::ListChangesRequest {
            resource_name: "policyGoals/after".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(history.changes.len(), 1);
    let (goals, changes): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM policy_goals),
                (SELECT count(*) FROM change_log WHERE resource_name LIKE 'policyGoals/%')",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(goals, changes, "a goal without its change record, or the reverse");
}
