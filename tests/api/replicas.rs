//! Two registryd replicas on one database, each with its read cache: writes on one, reads
//! on the other. A read carrying a consistency token (`registry-min-sequence`, sent by the
//! client) is never older than the token; a deleted goal or a revoked token is never served
//! from a cache once the replica has shown the change; the cache stays within its bound.

use std::time::{Duration, Instant};

use registry_e2e::{Error, TestApp, create, goal, pb};
use registry_server::{ServerOptions, domain::enums::Role, observe::MetricsListener, store::cache::CacheOptions};
use tonic::Request;

use crate::{
    measurements::{day, exports_target, goal_with, record},
    observability::{http_get, sample},
};

/// How long a bounded loop waits for a replica to show a change it has no token for.
const PATIENCE: Duration = Duration::from_secs(10);

fn titled(title: &str) -> pb::PolicyGoal {
    goal(title, pb::Pillar::IndustrialResurgence)
}

fn retitle(name: &str, title: &str) -> pb::UpdatePolicyGoalRequest {
    pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: name.to_owned(),
            title: title.to_owned(),
            ..Default::default()
        }),
        update_mask: Some(registry_client::prost_types::FieldMask {
            paths: vec!["title".into()],
        }),
        ..Default::default()
    }
}

/// A client of `app` with a sequence of its own (none seen yet).
async fn fresh_client(app: &TestApp) -> registry_client::RegistryClient {
    app.new_client().await
}

#[tokio::test]
async fn a_write_answers_its_sequence_and_reads_do_not_move_it() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    assert_eq!(c.sequence(), 0);
    c.create_policy_goal(create("seq-a", titled("A"))).await.unwrap();
    let first = c.sequence();
    assert!(first > 0, "a create answers registry-sequence");
    c.get_policy_goal("policyGoals/seq-a").await.unwrap();
    assert_eq!(c.sequence(), first, "a read draws no sequence");
    c.update_policy_goal(retitle("policyGoals/seq-a", "A2")).await.unwrap();
    assert!(c.sequence() > first);
    // A clone shares what was seen.
    let clone = c.clone();
    assert_eq!(clone.sequence(), c.sequence());
}

#[tokio::test]
async fn reads_on_another_replica_are_never_older_than_their_token() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(ServerOptions::default()).await;
    let writer = a.client.clone();
    for g in 0..3 {
        writer
            .create_policy_goal(create(&format!("rep-{g}"), titled("v0")))
            .await
            .unwrap();
    }
    // Three writer/reader pairs at once, each on its own goal.
    let mut tasks = Vec::new();
    for g in 0..3 {
        let writer = writer.clone();
        let reader = fresh_client(&b).await;
        tasks.push(tokio::spawn(async move {
            let name = format!("policyGoals/rep-{g}");
            for i in 1..=15 {
                // The reader's replica caches the goal as it is now…
                reader.get_policy_goal(&name).await.unwrap();
                // …the writer changes it on the other replica…
                let title = format!("v{i}");
                writer.update_policy_goal(retitle(&name, &title)).await.unwrap();
                // …and a read with the writer's token sees the change at once.
                reader.observe_sequence(writer.sequence());
                let got = reader.get_policy_goal(&name).await.unwrap();
                assert_eq!(got.title, title, "{name}: read older than its token");
                let batch = reader.batch_get_policy_goals([name.clone()]).await.unwrap();
                assert_eq!(batch[0].title, title, "{name}: batch read older than its token");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn the_writing_replica_reads_its_writes_without_a_token() {
    let app = TestApp::spawn().await;
    let reader = fresh_client(&app).await;
    app.client
        .create_policy_goal(create("own", titled("v0")))
        .await
        .unwrap();
    for i in 1..=20 {
        reader.get_policy_goal("policyGoals/own").await.unwrap();
        let title = format!("v{i}");
        app.client
            .update_policy_goal(retitle("policyGoals/own", &title))
            .await
            .unwrap();
        assert_eq!(reader.sequence(), 0, "the reader holds no token");
        let got = reader.get_policy_goal("policyGoals/own").await.unwrap();
        assert_eq!(got.title, title, "the replica that wrote serves its own write");
    }
}

#[tokio::test]
async fn a_deleted_goal_is_never_served_from_a_cache_after_the_change() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(ServerOptions::default()).await;
    a.client
        .create_policy_goal(create("gone", titled("Gone")))
        .await
        .unwrap();
    let untokened = fresh_client(&b).await;
    let tokened = fresh_client(&b).await;
    // Cached on b.
    assert!(
        untokened
            .get_policy_goal("policyGoals/gone")
            .await
            .unwrap()
            .delete_time
            .is_none()
    );
    a.client
        .delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: "policyGoals/gone".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    tokened.observe_sequence(a.client.sequence());
    let got = tokened.get_policy_goal("policyGoals/gone").await.unwrap();
    assert!(
        got.delete_time.is_some(),
        "a read with the delete's token shows it deleted"
    );
    // Without a token: once b shows the delete, it never shows the live goal again.
    let start = Instant::now();
    while untokened
        .get_policy_goal("policyGoals/gone")
        .await
        .unwrap()
        .delete_time
        .is_none()
    {
        assert!(start.elapsed() < PATIENCE, "b never applied the delete");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..50 {
        let got = untokened.get_policy_goal("policyGoals/gone").await.unwrap();
        assert!(got.delete_time.is_some(), "the live goal came back from a cache");
    }
}

#[tokio::test]
async fn a_revoked_token_is_never_accepted_from_a_cache_after_the_change() {
    let a = TestApp::spawn().await;
    // Refusals are what this test counts: no per-peer limit on them.
    let b = a
        .spawn_replica(ServerOptions {
            failed_auth_per_peer: None,
            ..Default::default()
        })
        .await;
    a.client
        .create_policy_goal(create("seen", titled("Seen")))
        .await
        .unwrap();
    let made = a
        .client
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            description: "revoked soon".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let token_name = made.token.unwrap().name;
    let on_b = b.client.with_token(Some(made.secret.clone())).unwrap();
    let on_b_tokened = fresh_client(&b).await.with_token(Some(made.secret)).unwrap();
    // Accepted, and cached, on b.
    on_b.get_policy_goal("policyGoals/seen").await.unwrap();
    on_b_tokened.get_policy_goal("policyGoals/seen").await.unwrap();
    a.client.revoke_token(&token_name).await.unwrap();
    on_b_tokened.observe_sequence(a.client.sequence());
    let refused = on_b_tokened.get_policy_goal("policyGoals/seen").await;
    assert!(
        matches!(refused, Err(Error::Unauthenticated { .. })),
        "a call with the revocation's token is refused: {refused:?}"
    );
    // Without it: once refused on b, refused for good.
    let start = Instant::now();
    while on_b.get_policy_goal("policyGoals/seen").await.is_ok() {
        assert!(start.elapsed() < PATIENCE, "b never applied the revocation");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for _ in 0..30 {
        let r = on_b.get_policy_goal("policyGoals/seen").await;
        assert!(matches!(r, Err(Error::Unauthenticated { .. })), "accepted again: {r:?}");
    }
}

#[tokio::test]
async fn progress_from_a_measurement_on_another_replica_is_never_hidden_by_the_cache() {
    let a = TestApp::spawn().await;
    let b = a.spawn_replica(ServerOptions::default()).await;
    goal_with(&a.client, "measured", vec![exports_target()]).await;
    let reader = fresh_client(&b).await;
    let before = reader.get_policy_goal("policyGoals/measured").await.unwrap();
    // Named under the goal: it invalidates the goal's cached progress.
    record(&a.client, "measured", "exports", 50.0, day(2020, 6, 1)).await;
    reader.observe_sequence(a.client.sequence());
    let after = reader.get_policy_goal("policyGoals/measured").await.unwrap();
    assert_ne!(
        before.targets[0].progress, after.targets[0].progress,
        "the cached goal kept its old progress"
    );
}

#[tokio::test]
async fn a_bad_min_sequence_is_refused() {
    let app = TestApp::spawn().await;
    let mut goals = pb::policy_goal_service_client::PolicyGoalServiceClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let mut req = Request::new(pb::GetPolicyGoalRequest {
        name: "policyGoals/x".into(),
        ..Default::default()
    });
    req.metadata_mut()
        .insert("authorization", format!("Bearer {}", app.admin_token).parse().unwrap());
    req.metadata_mut()
        .insert(registry_client::MIN_SEQUENCE, "-3".parse().unwrap());
    let status = goals.get_policy_goal(req).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
}

#[tokio::test]
async fn the_cache_holds_no_more_entries_than_its_bound() {
    let metrics = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let metrics_addr = metrics.local_addr().unwrap();
    let app = TestApp::spawn_with(ServerOptions {
        metrics_listener: Some(metrics),
        read_cache: CacheOptions {
            max_entries: 5,
            ..CacheOptions::default()
        },
        ..Default::default()
    })
    .await;
    let (_, viewer) = app.client_with_role(Role::Viewer).await;
    let names: Vec<String> = (0..30).map(|i| format!("policyGoals/bound-{i}")).collect();
    for (i, _) in names.iter().enumerate() {
        app.client
            .create_policy_goal(create(&format!("bound-{i}"), titled("Bounded")))
            .await
            .unwrap();
    }
    for _ in 0..3 {
        for n in &names {
            viewer.get_policy_goal(n).await.unwrap();
        }
        viewer.batch_get_policy_goals(names.clone()).await.unwrap();
    }
    let (_, text) = http_get(metrics_addr, "/metrics").await;
    let entries = sample(&text, "registry_read_cache_entries").expect("the cache gauge");
    assert!(entries <= 5.0, "{entries} entries held, bound 5");
    assert!(entries >= 1.0, "the cache holds something");
}
