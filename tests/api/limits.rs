//! Bounds on what a caller can hold (OWASP API4): change streams per token and in total,
//! the pool under a burst of stream opens, revocation and expiry reaching open streams,
//! unauthenticated traffic (negative cache, per-peer failures), the global concurrency
//! limit, statement timeouts, bounded counts; and who sees token records, and whose
//! request ids are whose.

use std::time::Duration;

use registry_e2e::{Error, TestApp, create, goal, pb, system_ctx};
use registry_proto::v1::{
    change_feed_service_client::ChangeFeedServiceClient, policy_goal_service_client::PolicyGoalServiceClient,
};
use registry_server::{ServerOptions, domain::enums::Role, limits::StreamLimits};
use tonic::{Code, Status, metadata::MetadataValue, transport::Channel};
use tonic_types::StatusExt;

/// The change-log lock writers hold shared until they end (server/src/store/mod.rs).
const CHANGE_LOG_LOCK: i64 = 0x7265_6769_0001;

fn reason(s: &Status) -> String {
    s.get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
        .unwrap_or_default()
}

async fn channel(app: &TestApp) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn authed<T>(secret: &str, msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut().insert(
        "authorization",
        MetadataValue::try_from(format!("Bearer {secret}")).unwrap(),
    );
    req
}

/// Opens a raw WatchChanges stream and reads its first heartbeat.
async fn open_watch(
    app: &TestApp,
    secret: &str,
    req: pb::WatchChangesRequest,
) -> Result<tonic::Streaming<pb::WatchChangesResponse>, Status> {
    let mut c = ChangeFeedServiceClient::new(channel(app).await);
    let mut s = c.watch_changes(authed(secret, req)).await?.into_inner();
    match s.message().await? {
        Some(pb::WatchChangesResponse {
            event: Some(pb::watch_changes_response::Event::Heartbeat(_)),
        }) => Ok(s),
        other => panic!("expected a heartbeat first, got {other:?}"),
    }
}

async fn get_goal(app: &TestApp, secret: &str, name: &str) -> Result<pb::PolicyGoal, Status> {
    get_goal_on(channel(app).await, secret, name).await
}

async fn get_goal_on(ch: Channel, secret: &str, name: &str) -> Result<pb::PolicyGoal, Status> {
    let mut c = PolicyGoalServiceClient::new(ch);
    c.get_policy_goal(authed(
        secret,
        pb::GetPolicyGoalRequest {
            name: name.into(),
            read_time: None,
        },
    ))
    .await
    .map(tonic::Response::into_inner)
}

/// The next change (skipping heartbeats), or the status the stream ended with.
async fn next_change(s: &mut tonic::Streaming<pb::WatchChangesResponse>) -> Result<pb::Change, Status> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), s.message())
            .await
            .expect("the stream answers within 10 s")?;
        match msg.and_then(|m| m.event) {
            Some(pb::watch_changes_response::Event::Change(c)) => return Ok(c),
            Some(pb::watch_changes_response::Event::Heartbeat(_)) => {}
            None => panic!("the stream ended without a status"),
        }
    }
}

/// Names of the changes a stream delivers, up to and including `last`.
async fn changes_until(s: &mut tonic::Streaming<pb::WatchChangesResponse>, last: &str) -> Vec<String> {
    let mut names = Vec::new();
    loop {
        let c = next_change(s).await.unwrap();
        names.push(c.resource_name.clone());
        if c.resource_name == last {
            return names;
        }
    }
}

async fn token(app: &TestApp, role: Role, expire: Option<time::OffsetDateTime>) -> (String, String) {
    let (rec, secret) = app
        .store
        .create_token(role, "limits", expire, &system_ctx())
        .await
        .unwrap();
    (rec.id, secret)
}

/// Polls `check` (every 20 ms, for at most 10 s) until it holds.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < until, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Backends of this database waiting for a lock.
pub(crate) async fn waiting_on_locks(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
           AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
    )
    .fetch_one(app.pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn streams_are_capped_per_token_and_in_total() {
    let app = TestApp::spawn_with(ServerOptions {
        streams: StreamLimits { per_token: 2, total: 3 },
        ..Default::default()
    })
    .await;
    let (_, a) = token(&app, Role::Viewer, None).await;
    let (_, b) = token(&app, Role::Viewer, None).await;
    let (_, c) = token(&app, Role::Viewer, None).await;
    let a1 = open_watch(&app, &a, Default::default()).await.unwrap();
    let _a2 = open_watch(&app, &a, Default::default()).await.unwrap();
    let refused = open_watch(&app, &a, Default::default()).await.unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::ResourceExhausted, "TOO_MANY_STREAMS")
    );
    assert!(refused.message().contains("per token"), "{}", refused.message());
    let _b1 = open_watch(&app, &b, Default::default()).await.unwrap();
    // The server's total is reached: a token with no stream is refused too.
    let refused = open_watch(&app, &c, Default::default()).await.unwrap_err();
    assert_eq!(
        (refused.code(), reason(&refused).as_str()),
        (Code::ResourceExhausted, "TOO_MANY_STREAMS")
    );
    // Other calls are not affected.
    app.client.list_policy_goals_page(Default::default()).await.unwrap();
    // A closed stream gives its place back.
    drop(a1);
    eventually("a closed stream's place is free", || async {
        open_watch(&app, &c, Default::default()).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn a_burst_of_stream_opens_leaves_the_pool_to_other_calls() {
    let app = TestApp::spawn_with_store(
        ServerOptions {
            request_timeout: Duration::from_secs(20),
            ..Default::default()
        },
        |s| registry_server::StoreOptions {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(1),
            ..s
        },
    )
    .await;
    let (_, viewer) = token(&app, Role::Viewer, None).await;
    let mut seen = open_watch(&app, &viewer, Default::default()).await.unwrap();
    for i in 0..20 {
        app.client
            .create_policy_goal(create(&format!("g{i}"), goal("G", pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
    }
    // The server's feed has broadcast every change so far.
    while next_change(&mut seen).await.unwrap().resource_name != "policyGoals/g19" {}
    // A write in flight (it holds the change-log lock shared until it ends): streams that
    // waited for it on a pooled connection would starve the pool.
    let mut writer = app.pool().begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
        .bind(CHANGE_LOG_LOCK)
        .execute(&mut *writer)
        .await
        .unwrap();
    let opens = (0..30).map(|i| {
        let app = &app;
        let viewer = viewer.clone();
        async move {
            // Half start now, half catch up from the start of the log.
            let req = pb::WatchChangesRequest {
                after_sequence: (i % 2 == 0).then_some(0),
                ..Default::default()
            };
            let mut s = open_watch(app, &viewer, req.clone()).await.unwrap();
            if req.after_sequence.is_some() {
                // The catch-up arrives: the 20 creates, in order.
                let first = next_change(&mut s).await.unwrap();
                assert_eq!(first.resource_name, "policyGoals/g0");
            }
            s
        }
    });
    let (streams, gets) = tokio::join!(futures::future::join_all(opens), async {
        let mut ok = 0;
        for i in 0..20 {
            get_goal(&app, &viewer, &format!("policyGoals/g{i}")).await.unwrap();
            ok += 1;
        }
        ok
    });
    assert_eq!(streams.len(), 30);
    assert_eq!(gets, 20, "other calls got a connection while streams opened");
    writer.rollback().await.unwrap();
}

#[tokio::test]
async fn revoked_and_expired_tokens_streams_end_unauthenticated() {
    let app = TestApp::spawn().await;
    let (viewer_id, viewer) = token(&app, Role::Viewer, None).await;
    let (_, other) = token(&app, Role::Viewer, None).await;
    let mut mine = open_watch(&app, &viewer, Default::default()).await.unwrap();
    let mut theirs = open_watch(&app, &other, Default::default()).await.unwrap();
    app.client.revoke_token(format!("tokens/{viewer_id}")).await.unwrap();
    let ended = next_change(&mut mine).await.unwrap_err();
    assert_eq!(
        (ended.code(), reason(&ended).as_str()),
        (Code::Unauthenticated, "TOKEN_INVALID")
    );
    assert!(ended.message().contains("revoked"), "{}", ended.message());
    // Another token's stream goes on.
    app.client
        .create_policy_goal(create("after", goal("A", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    assert_eq!(
        next_change(&mut theirs).await.unwrap().resource_name,
        "policyGoals/after"
    );

    // A token that expires while its stream is open.
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let (_, expiring) = token(&app, Role::Viewer, Some(soon)).await;
    let mut s = open_watch(&app, &expiring, Default::default()).await.unwrap();
    let ended = next_change(&mut s).await.unwrap_err();
    assert_eq!(
        (ended.code(), reason(&ended).as_str()),
        (Code::Unauthenticated, "TOKEN_INVALID")
    );
    assert!(ended.message().contains("expired"), "{}", ended.message());
}

#[tokio::test]
async fn token_records_are_shown_to_admins_only() {
    let app = TestApp::spawn().await;
    let (_, viewer_secret) = token(&app, Role::Viewer, None).await;
    let (_, editor) = app.client_with_role(Role::Editor).await;
    let viewer = app.client.with_token(Some(viewer_secret.clone())).unwrap();
    let mut admin_watch = open_watch(&app, &app.admin_token, Default::default()).await.unwrap();
    let mut viewer_watch = open_watch(&app, &viewer_secret, Default::default()).await.unwrap();
    let made = app
        .client
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            description: "seen by admins".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let name = made.token.unwrap().name;
    editor
        .create_policy_goal(create("visible", goal("V", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    // Watches: the admin sees the token, then the goal; the viewer only the goal.
    let admin_saw = changes_until(&mut admin_watch, "policyGoals/visible").await;
    assert!(admin_saw.contains(&name), "{admin_saw:?}");
    let viewer_saw = changes_until(&mut viewer_watch, "policyGoals/visible").await;
    assert!(viewer_saw.iter().all(|n| !n.starts_with("tokens/")), "{viewer_saw:?}");
    // Lists (and so `registryctl history`).
    let all = |c: registry_client::RegistryClient| async move {
        c.list_changes_page(pb::ListChangesRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .unwrap()
        .changes
        .into_iter()
        .map(|c| c.resource_type)
        .collect::<Vec<_>>()
    };
    let token_type = "motie.registry.v1.Token";
    assert!(all(app.client.clone()).await.iter().any(|t| t == token_type));
    let seen = all(viewer.clone()).await;
    assert!(!seen.is_empty() && seen.iter().all(|t| t != token_type), "{seen:?}");
    assert!(all(editor.clone()).await.iter().all(|t| t != token_type));
    // Asking for them outright is refused.
    for req in [
        pb::ListChangesRequest {
            resource_type: token_type.into(),
            ..Default::default()
        },
        pb::ListChangesRequest {
            resource_name: name.clone(),
            ..Default::default()
        },
    ] {
        assert!(matches!(
            viewer.list_changes_page(req).await,
            Err(Error::PermissionDenied { .. })
        ));
    }
    let refused = open_watch(
        &app,
        &viewer_secret,
        pb::WatchChangesRequest {
            resource_types: vec![token_type.into()],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn unknown_token_ids_are_cached_and_valid_ones_stay_cached() {
    // Caches of 50 entries each, flooded with 200 made-up ids (entries live long enough for a
    // slow machine to finish the test).
    let app = TestApp::spawn_with(ServerOptions {
        request_timeout: Duration::from_secs(2),
        failed_auth_per_peer: None,
        token_cache_capacity: 50,
        token_cache_ttl: Duration::from_secs(600),
        // The locked token table below may stall the change-feed tailer (a token's last-use
        // write waits on it): keep the caches answering meanwhile.
        read_cache: registry_server::store::cache::CacheOptions {
            max_staleness: Duration::from_secs(600),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let unknown = "rgy_zzzzzzzzzzzz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    // The token's creation reaches the server's feed (which evicts it from the cache) first.
    let mut feed = open_watch(&app, &app.admin_token, Default::default()).await.unwrap();
    let (viewer_id, viewer) = token(&app, Role::Viewer, None).await;
    changes_until(&mut feed, &format!("tokens/{viewer_id}")).await;
    // Looked up once each: the viewer, the flood, the unknown id.
    let ch = channel(&app).await;
    assert_eq!(
        get_goal(&app, &viewer, "policyGoals/x").await.unwrap_err().code(),
        Code::NotFound
    );
    for i in 0..200 {
        let made_up = format!("rgy_{i:0>12}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        let s = get_goal_on(ch.clone(), &made_up, "policyGoals/x").await.unwrap_err();
        assert_eq!(s.code(), Code::Unauthenticated);
    }
    assert_eq!(
        get_goal(&app, unknown, "policyGoals/x").await.unwrap_err().code(),
        Code::Unauthenticated
    );
    // With the token table locked, a lookup would wait past the deadline: answers within it
    // come from the caches. The flood did not push the valid token out.
    let mut tx = app.pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    for _ in 0..20 {
        let s = get_goal(&app, unknown, "policyGoals/x").await.unwrap_err();
        assert_eq!(
            (s.code(), reason(&s).as_str()),
            (Code::Unauthenticated, "TOKEN_INVALID")
        );
    }
    assert_eq!(
        get_goal(&app, &viewer, "policyGoals/x").await.unwrap_err().code(),
        Code::NotFound
    );
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn failed_authentication_is_limited_per_peer() {
    let app = TestApp::spawn_with(ServerOptions {
        failed_auth_per_peer: std::num::NonZeroU32::new(5),
        ..Default::default()
    })
    .await;
    let mut codes = Vec::new();
    for _ in 0..30 {
        let s = get_goal(
            &app,
            "rgy_zzzzzzzzzzzz_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "policyGoals/x",
        )
        .await
        .unwrap_err();
        codes.push((s.code(), reason(&s)));
    }
    // The burst of 5 gets its answer; then the peer is refused without a lookup.
    assert!(codes[..5].iter().all(|(c, _)| *c == Code::Unauthenticated), "{codes:?}");
    assert!(
        codes
            .iter()
            .any(|(c, r)| *c == Code::ResourceExhausted && r == "TOO_MANY_FAILED_ATTEMPTS"),
        "{codes:?}"
    );
    // The block is short: the same peer with a valid token gets through again.
    eventually("the peer is let through again", || async {
        app.client.list_policy_goals_page(Default::default()).await.is_ok()
    })
    .await;
}

#[tokio::test]
async fn requests_over_the_global_limit_are_refused_not_queued() {
    let app = TestApp::spawn_with(ServerOptions {
        max_concurrent_requests: 2,
        request_timeout: Duration::from_secs(20),
        ..Default::default()
    })
    .await;
    app.client
        .create_policy_goal(create("held", goal("H", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let mut tx = app.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM policy_goals WHERE id = 'held' FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let update = |title: &'static str| {
        let c = app.client.clone();
        tokio::spawn(async move {
            c.update_policy_goal(pb::UpdatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    name: "policyGoals/held".into(),
                    title: title.into(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
        })
    };
    let (u1, u2) = (update("One"), update("Two"));
    eventually("both updates wait for the row", || async {
        waiting_on_locks(&app).await >= 2
    })
    .await;
    let s = get_goal(&app, &app.admin_token, "policyGoals/held").await.unwrap_err();
    assert_eq!((s.code(), reason(&s).as_str()), (Code::ResourceExhausted, "OVERLOADED"));
    tx.rollback().await.unwrap();
    u1.await.unwrap().unwrap();
    u2.await.unwrap().unwrap();
    get_goal(&app, &app.admin_token, "policyGoals/held").await.unwrap();
}

#[tokio::test]
async fn total_size_is_counted_up_to_a_bound() {
    let app = TestApp::spawn_with_store(ServerOptions::default(), |s| registry_server::StoreOptions {
        max_count: 3,
        ..s
    })
    .await;
    for (id, pillar) in [
        ("a", pb::Pillar::IndustrialResurgence),
        ("b", pb::Pillar::IndustrialResurgence),
        ("c", pb::Pillar::IndustrialResurgence),
        ("d", pb::Pillar::IndustrialResurgence),
        ("e", pb::Pillar::TradeNationalInterest),
    ] {
        app.client
            .create_policy_goal(create(id, goal("G", pillar)))
            .await
            .unwrap();
    }
    let page = |filter: &str| {
        app.client.list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 2,
            filter: filter.into(),
            ..Default::default()
        })
    };
    // Five match: the count stops at the bound and says "more than 3".
    assert_eq!(page("").await.unwrap().total_size, 4);
    assert_eq!(page("pillar = INDUSTRIAL_RESURGENCE").await.unwrap().total_size, 4);
    // At or under the bound it is exact.
    assert_eq!(page("pillar = TRADE_NATIONAL_INTEREST").await.unwrap().total_size, 1);
}

#[tokio::test]
async fn request_ids_belong_to_their_caller() {
    let app = TestApp::spawn().await;
    let (_, a) = app.client_with_role(Role::Editor).await;
    let (_, b) = app.client_with_role(Role::Editor).await;
    let with_id = |id: &str| pb::CreatePolicyGoalRequest {
        request_id: "4f0c2a9e-6a55-4a36-9d6f-0d5a4f1b2c3d".into(),
        ..create(id, goal("G", pb::Pillar::IndustrialResurgence))
    };
    let first = a.create_policy_goal(with_id("from-a")).await.unwrap();
    // The same caller retrying gets its answer again.
    assert_eq!(a.create_policy_goal(with_id("from-a")).await.unwrap(), first);
    // Another caller sending the very same request is not answered with the first caller's
    // response: it is a request of its own (and the goal exists).
    assert!(matches!(
        b.create_policy_goal(with_id("from-a")).await,
        Err(Error::AlreadyExists { .. })
    ));
    // Nor is another caller's different request refused as a reused request id.
    let (_, c) = app.client_with_role(Role::Editor).await;
    c.create_policy_goal(with_id("from-c")).await.unwrap();
}
