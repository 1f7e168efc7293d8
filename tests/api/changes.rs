//! Change feed, audit history and time travel, end to end.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use registry_client::{WatchEvent, WatchOptions};
use registry_e2e::{Error, TestApp, create, goal, pb};

/// Watches goal changes (the harness's own token creation is also in the feed).
fn watch_all(after: Option<i64>) -> pb::WatchChangesRequest {
    pb::WatchChangesRequest {
        after_sequence: after,
        name_prefix: "policyGoals/".into(),
        heartbeat_interval: Some(registry_client::prost_types::Duration {
            seconds: 0,
            nanos: 200_000_000,
        }),
        ..Default::default()
    }
}

/// Collects `n` changes from a watch, skipping heartbeats and reconnect notices.
async fn next_changes(
    stream: &mut (impl futures::Stream<Item = Result<WatchEvent, Error>> + Unpin),
    n: usize,
) -> Vec<pb::Change> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n {
        match tokio::time::timeout_at(deadline, stream.next()).await {
            Ok(Some(Ok(WatchEvent::Change(c)))) => out.push(*c),
            Ok(Some(Ok(_))) => {}
            other => panic!("watch ended early after {} changes: {other:?}", out.len()),
        }
    }
    out
}

async fn committed(app: &TestApp) -> Vec<(i64, String)> {
    sqlx::query_as(
        "SELECT sequence, resource_name FROM change_log WHERE resource_name LIKE 'policyGoals/%' ORDER BY sequence",
    )
    .fetch_all(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn watchers_see_exactly_the_committed_changes_in_order() {
    let app = TestApp::spawn().await;
    let mut watchers = Vec::new();
    for _ in 0..4 {
        let mut w = Box::pin(app.client.watch_changes(watch_all(None), WatchOptions::default()));
        // The first event is a heartbeat with the start position.
        assert!(matches!(w.next().await, Some(Ok(WatchEvent::Heartbeat { .. }))));
        watchers.push(w);
    }
    // Concurrent writers, including failures that must leave no trace.
    let writers = (0..8).map(|w| {
        let c = app.client.clone();
        tokio::spawn(async move {
            for i in 0..10 {
                let id = format!("w{w}-{i}");
                c.create_policy_goal(create(&id, goal("W", pb::Pillar::IndustrialResurgence)))
                    .await
                    .unwrap();
                // A duplicate create fails and is rolled back.
                assert!(
                    c.create_policy_goal(create(&id, goal("W", pb::Pillar::IndustrialResurgence)))
                        .await
                        .is_err()
                );
                if i % 3 == 0 {
                    c.update_policy_goal(pb::UpdatePolicyGoalRequest {
                        policy_goal: Some(pb::PolicyGoal {
                            name: format!("policyGoals/{id}"),
                            title: "W2".into(),
                            ..Default::default()
                        }),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                }
            }
        })
    });
    for w in futures::future::join_all(writers).await {
        w.unwrap();
    }
    let expected = committed(&app).await;
    assert_eq!(expected.len(), 80 + 8 * 4);
    for w in &mut watchers {
        let got: Vec<(i64, String)> = next_changes(w, expected.len())
            .await
            .into_iter()
            .map(|c| (c.sequence, c.resource_name))
            .collect();
        assert_eq!(got, expected);
    }
}

#[tokio::test]
async fn a_transaction_that_commits_late_is_not_skipped() {
    let app = TestApp::spawn().await;
    // Stall the COMMIT of the transaction that writes `policyGoals/slow` *after* it has
    // appended its change row: a deferred constraint trigger runs at commit time.
    sqlx::query(
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$",
    )
    .execute(app.pool())
    .await
    .unwrap();
    sqlx::query(
        "CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON change_log DEFERRABLE INITIALLY DEFERRED
         FOR EACH ROW WHEN (NEW.resource_name = 'policyGoals/slow') EXECUTE FUNCTION slow_commit()",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let mut w = Box::pin(app.client.watch_changes(watch_all(None), WatchOptions::default()));
    assert!(matches!(w.next().await, Some(Ok(WatchEvent::Heartbeat { .. }))));

    let slow = {
        let c = app.client.clone();
        tokio::spawn(async move {
            c.create_policy_goal(create("slow", goal("Slow", pb::Pillar::IndustrialResurgence)))
                .await
        })
    };
    // Wait until the slow transaction is inside its commit (it holds its sequence).
    let mut stalled = false;
    for _ in 0..2000 {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'")
            .fetch_one(app.pool())
            .await
            .unwrap();
        if n > 0 {
            stalled = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(stalled, "the slow commit never started");
    // A second writer starts and finishes while the first is still committing: writers do
    // not wait for each other's commits.
    app.client
        .create_policy_goal(create("fast", goal("Fast", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    assert!(!slow.is_finished(), "the fast write waited for the slow commit");
    // History read now never shows the later change without the earlier one (a reader paging
    // forward would skip it for good).
    let history: Vec<String> = app
        .client
        .list_changes(pb::ListChangesRequest {
            resource_type: "motie.registry.v1.PolicyGoal".into(),
            ..Default::default()
        })
        .map_ok(|c| c.resource_name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history, ["policyGoals/slow", "policyGoals/fast"]);
    slow.await.unwrap().unwrap();

    let got = next_changes(&mut w, 2).await;
    let names: Vec<&str> = got.iter().map(|c| c.resource_name.as_str()).collect();
    assert_eq!(names, ["policyGoals/slow", "policyGoals/fast"]);
    assert!(got[0].sequence < got[1].sequence);
}

#[tokio::test]
async fn resume_after_a_server_restart_loses_nothing() {
    let mut app = TestApp::spawn_with(registry_server::ServerOptions {
        drain_timeout: Duration::from_millis(100),
        ..Default::default()
    })
    .await;
    let client = app.new_client().await;
    let mut w = Box::pin(client.watch_changes(
        watch_all(Some(0)),
        WatchOptions {
            initial_backoff: Duration::from_millis(20),
            max_backoff: Duration::from_millis(200),
            max_attempts: None,
        },
    ));
    for i in 0..3 {
        app.client
            .create_policy_goal(create(
                &format!("before{i}"),
                goal("B", pb::Pillar::IndustrialResurgence),
            ))
            .await
            .unwrap();
    }
    assert_eq!(next_changes(&mut w, 3).await.len(), 3);

    // Stop the server; write while it is down; start a new one on the same address.
    let addr = app.addr;
    app.stop().await.unwrap();
    let ctx = registry_server::store::WriteCtx {
        actor: registry_server::domain::Actor::system(),
        request_id: None,
        validate_only: false,
    };
    for i in 0..3 {
        let spec = registry_server::domain::goal::GoalSpec::from_proto(
            "policy_goal",
            &goal("D", pb::Pillar::IndustrialResurgence),
        )
        .unwrap();
        app.store
            .create_goal(
                &registry_server::domain::Id::parse("id", &format!("down{i}")).unwrap(),
                spec,
                registry_server::domain::enums::GoalState::Planned,
                &ctx,
            )
            .await
            .unwrap();
    }
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(registry_server::serve(
        app.store.clone(),
        listener,
        Default::default(),
        async {
            let _ = stop_rx.await;
        },
    ));
    let got = next_changes(&mut w, 3).await;
    let names: Vec<&str> = got.iter().map(|c| c.resource_name.as_str()).collect();
    assert_eq!(names, ["policyGoals/down0", "policyGoals/down1", "policyGoals/down2"]);
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn heartbeats_carry_the_position_and_filters_apply() {
    let app = TestApp::spawn().await;
    app.client
        .create_policy_goal(create("a", goal("A", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let mut stream = app
        .client
        .watch_changes_once(pb::WatchChangesRequest {
            name_prefix: "policyGoals/zzz".into(),
            ..watch_all(Some(0))
        })
        .await
        .unwrap();
    // Initial heartbeat at 0, then (nothing matches) a heartbeat that has moved past "a".
    let first = stream.message().await.unwrap().unwrap();
    assert!(matches!(first.event, Some(pb::watch_changes_response::Event::Heartbeat(ref h)) if h.sequence == 0));
    let second = stream.message().await.unwrap().unwrap();
    let current = committed(&app).await.last().unwrap().0;
    assert!(
        matches!(second.event, Some(pb::watch_changes_response::Event::Heartbeat(ref h)) if h.sequence == current),
        "{second:?}"
    );
    // Invalid requests.
    for bad in [
        pb::WatchChangesRequest {
            resource_types: vec!["Nope".into()],
            ..Default::default()
        },
        pb::WatchChangesRequest {
            after_sequence: Some(-1),
            ..Default::default()
        },
        pb::WatchChangesRequest {
            heartbeat_interval: Some(registry_client::prost_types::Duration { seconds: 0, nanos: 1 }),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            app.client.watch_changes_once(bad).await,
            Err(Error::InvalidArgument { .. })
        ));
    }
}

#[tokio::test]
async fn compacted_history_is_out_of_range_but_current_state_survives() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("old", goal("Old", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    c.update_policy_goal(pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: "policyGoals/old".into(),
            title: "Old v2".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let removed = app.store.compact_changes(Duration::ZERO).await.unwrap();
    assert_eq!(removed, 1, "only the superseded snapshot goes");
    match c.watch_changes_once(watch_all(Some(0))).await {
        Err(Error::OutOfRange { metadata, reason, .. }) => {
            assert_eq!(reason, "SEQUENCE_COMPACTED");
            let last = committed(&app).await.last().unwrap().0;
            assert_eq!(metadata.get("oldest_sequence"), Some(&(last + 1).to_string()));
        }
        other => panic!("expected OUT_OF_RANGE, got {other:?}"),
    }
    // The newest snapshot of the live goal is kept.
    let history: Vec<_> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: "policyGoals/old".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    match history[0].snapshot.as_ref() {
        Some(pb::change::Snapshot::PolicyGoal(g)) => assert_eq!(g.title, "Old v2"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn audit_history_and_time_travel() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut g = goal("Manufacturing AX", pb::Pillar::IndustrialResurgence);
    g.targets.push(pb::Target {
        metric: "ai-factories".into(),
        unit: "factories".into(),
        target_value: 500.0,
        direction: pb::target::Direction::IncreaseTo.into(),
        target_year: 2030,
        ..Default::default()
    });
    let mut req = create("ax", g);
    req.request_id = "req-create-ax".into();
    let v1 = c.create_policy_goal(req).await.unwrap();
    let mut t2 = v1.targets.clone();
    t2[0].target_value = 600.0;
    let v2 = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: v1.name.clone(),
                targets: t2,
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["targets".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: v1.name.clone(),
        ..Default::default()
    })
    .await
    .unwrap();

    // An auditor lists who changed the goal's targets and when.
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: v1.name.clone(),
            page_size: 1,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let kinds: Vec<i32> = history.iter().map(|h| h.kind).collect();
    use pb::change::Kind;
    assert_eq!(
        kinds,
        [Kind::Created as i32, Kind::Updated as i32, Kind::Deleted as i32]
    );
    assert_eq!(history[0].request_id, "req-create-ax");
    assert_eq!(history[1].update_mask.as_ref().unwrap().paths, ["targets"]);
    assert!(
        history
            .iter()
            .all(|h| h.actor == app.admin_token_id && h.change_time.is_some())
    );
    let updates: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            kinds: vec![Kind::Updated as i32],
            newest_first: true,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(updates.len(), 1);

    // Time travel: each version as it was.
    let at = |c: &pb::Change| c.change_time.unwrap();
    let got1 = c.get_policy_goal_at(&v1.name, at(&history[0])).await.unwrap();
    assert_eq!(got1.targets[0].target_value, 500.0);
    assert_eq!(got1.revision, v1.revision);
    let got2 = c.get_policy_goal_at(&v1.name, at(&history[1])).await.unwrap();
    assert_eq!(got2.targets[0].target_value, 600.0);
    assert_eq!(got2.etag, v2.etag);
    let got3 = c.get_policy_goal_at(&v1.name, at(&history[2])).await.unwrap();
    assert!(got3.delete_time.is_some());
    // Before it existed: NOT_FOUND. In the future: INVALID_ARGUMENT.
    let before = registry_client::prost_types::Timestamp {
        seconds: at(&history[0]).seconds - 3600,
        nanos: 0,
    };
    assert!(matches!(
        c.get_policy_goal_at(&v1.name, before).await,
        Err(Error::NotFound { .. })
    ));
    let future = registry_client::prost_types::Timestamp {
        seconds: at(&history[0]).seconds + 86400,
        nanos: 0,
    };
    assert!(matches!(
        c.get_policy_goal_at(&v1.name, future).await,
        Err(Error::InvalidArgument { .. })
    ));
}

/// Feed readers do not pause writers: while a write is in flight (its change-log locks held,
/// its sequence number drawn), a ListChanges waits for it — a page never shows history past a
/// change that may still commit — and other writes go on meanwhile. (Before, a reader took
/// the change-log lock exclusively; queued behind the write in flight, it held up every write
/// that came after it until that write ended.)
#[tokio::test]
async fn feed_readers_do_not_pause_writers() {
    let app = TestApp::spawn().await;
    app.client
        .create_policy_goal(create("before", goal("Before", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    // A write in flight: the locks every writer takes, then its sequence number.
    let mut writer = app.pool().begin().await.unwrap();
    sqlx::query(registry_server::store::CHANGE_LOG_WRITER_LOCKS)
        .execute(&mut *writer)
        .await
        .unwrap();
    let drawn: i64 = sqlx::query_scalar("SELECT nextval('change_log_sequence')")
        .fetch_one(&mut *writer)
        .await
        .unwrap();
    let reader = {
        let client = app.client.clone();
        tokio::spawn(async move {
            client
                .list_changes(pb::ListChangesRequest::default())
                .map_ok(|c| (c.sequence, c.resource_name))
                .try_collect::<Vec<_>>()
                .await
        })
    };
    // Until a feed reader (this ListChanges, or the server's change-feed tailer) waits for
    // the write in flight.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted)")
                .fetch_one(app.pool())
                .await
                .unwrap();
        if waiting {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no feed reader waited for the write in flight"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Writes go on while readers wait.
    for i in 0..3 {
        tokio::time::timeout(
            Duration::from_secs(10),
            app.client.create_policy_goal(create(
                &format!("during-{i}"),
                goal("During", pb::Pillar::IndustrialResurgence),
            )),
        )
        .await
        .expect("a write was held up by a waiting feed reader")
        .unwrap();
    }
    // The reader still waits: it cannot answer past the write in flight.
    assert!(
        !reader.is_finished(),
        "ListChanges answered while a write before it was in flight"
    );
    writer.rollback().await.unwrap();
    let page = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .expect("ListChanges waits only for the write in flight")
        .unwrap()
        .unwrap();
    assert!(page.iter().any(|(_, n)| n == "policyGoals/before"), "{page:?}");
    assert!(page.iter().all(|(s, _)| *s != drawn), "{page:?}");
    // Everything committed meanwhile is in the feed, in order.
    let after: Vec<(i64, String)> = app
        .client
        .list_changes(pb::ListChangesRequest::default())
        .map_ok(|c| (c.sequence, c.resource_name))
        .try_collect()
        .await
        .unwrap();
    let during: Vec<&str> = after
        .iter()
        .map(|(_, n)| n.as_str())
        .filter(|n| n.starts_with("policyGoals/during-"))
        .collect();
    assert_eq!(
        during,
        ["policyGoals/during-0", "policyGoals/during-1", "policyGoals/during-2"]
    );
    assert!(after.windows(2).all(|w| w[0].0 < w[1].0), "{after:?}");
}
