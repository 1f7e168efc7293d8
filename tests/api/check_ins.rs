//! Check-ins end to end through registry-client: dated status updates on a goal
//! (`policyGoals/{goal}/checkIns/{check_in}`), append-only and listed newest first; the goal
//! shows its latest stated confidence beside its computed progress; the change feed and
//! history carry every check-in.

use futures::{StreamExt, TryStreamExt};
use registry_client::{RegistryClient, WatchEvent, WatchOptions, prost_types::Timestamp};
use registry_e2e::{Error, TestApp, create, goal, pb, precondition, violations};
use registry_server::domain::enums::Role;

use pb::check_in::Confidence;

use crate::measurements::{day, exports_target};

fn check_in(confidence: Confidence, at: Option<Timestamp>, note: &str) -> pb::CheckIn {
    pb::CheckIn {
        confidence: confidence.into(),
        check_in_time: at,
        note: note.to_owned(),
        ..Default::default()
    }
}

async fn record(c: &RegistryClient, goal: &str, id: &str, ci: pb::CheckIn) -> Result<pb::CheckIn, Error> {
    c.create_check_in(pb::CreateCheckInRequest {
        parent: format!("policyGoals/{goal}"),
        check_in: Some(ci),
        check_in_id: id.to_owned(),
        ..Default::default()
    })
    .await
}

async fn list(c: &RegistryClient, parent: &str, filter: &str) -> Vec<String> {
    c.list_check_ins(pb::ListCheckInsRequest {
        parent: parent.to_owned(),
        filter: filter.to_owned(),
        ..Default::default()
    })
    .map_ok(|ci| ci.name)
    .try_collect()
    .await
    .unwrap()
}

async fn new_goal(c: &RegistryClient, id: &str, targets: Vec<pb::Target>) {
    let mut g = goal(id, pb::Pillar::IndustrialResurgence);
    g.targets = targets;
    c.create_policy_goal(create(id, g)).await.unwrap();
}

#[tokio::test]
async fn check_ins_are_listed_newest_first_and_filtered() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![]).await;
    new_goal(c, "re100", vec![]).await;

    let first = record(
        c,
        "ax",
        "q1",
        check_in(Confidence::OnTrack, Some(day(2026, 3, 31)), "on plan"),
    )
    .await
    .unwrap();
    assert_eq!(first.name, "policyGoals/ax/checkIns/q1");
    assert_eq!(first.check_in_time, Some(day(2026, 3, 31)));
    assert!(first.create_time.is_some());
    assert_eq!(first.author, first.creator, "an empty author is the calling token");
    assert!(!first.creator.is_empty());
    // Recorded later but about an earlier date: listed after the newer status.
    record(
        c,
        "ax",
        "q4-2025",
        check_in(Confidence::OffTrack, Some(day(2025, 12, 31)), ""),
    )
    .await
    .unwrap();
    // The server chooses the id; the time defaults to now.
    let now = record(
        c,
        "ax",
        "",
        pb::CheckIn {
            author: "MOTIE industrial policy bureau".into(),
            ..check_in(Confidence::AtRisk, None, "supply chain delays")
        },
    )
    .await
    .unwrap();
    let id = now.name.rsplit('/').next().unwrap();
    assert!(id.starts_with('c') && id.len() == 33, "{id}");
    assert_eq!(now.author, "MOTIE industrial policy bureau");
    assert_eq!(now.check_in_time, now.create_time);
    record(
        c,
        "re100",
        "r1",
        check_in(Confidence::AtRisk, Some(day(2026, 1, 5)), ""),
    )
    .await
    .unwrap();

    assert_eq!(
        list(c, "policyGoals/ax", "").await,
        [
            now.name.as_str(),
            "policyGoals/ax/checkIns/q1",
            "policyGoals/ax/checkIns/q4-2025"
        ]
    );
    assert_eq!(
        list(c, "policyGoals/ax", "confidence = AT_RISK OR confidence = OFF_TRACK").await,
        [now.name.as_str(), "policyGoals/ax/checkIns/q4-2025"]
    );
    assert_eq!(
        list(c, "policyGoals/ax", r#"check_in_time < "2026-06-01T00:00:00Z""#).await,
        ["policyGoals/ax/checkIns/q1", "policyGoals/ax/checkIns/q4-2025"]
    );
    assert_eq!(
        list(c, "policyGoals/-", "confidence = AT_RISK").await,
        [now.name.as_str(), "policyGoals/re100/checkIns/r1"]
    );

    // Oldest first on request; one per page, with the total.
    let page = c
        .list_check_ins_page(pb::ListCheckInsRequest {
            parent: "policyGoals/ax".into(),
            order_by: "check_in_time".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.check_ins[0].name, "policyGoals/ax/checkIns/q4-2025");
    assert_eq!(page.total_size, 3);
    let next = c
        .list_check_ins_page(pb::ListCheckInsRequest {
            parent: "policyGoals/ax".into(),
            order_by: "check_in_time".into(),
            page_size: 1,
            page_token: page.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.check_ins[0].name, "policyGoals/ax/checkIns/q1");
    // A page token belongs to its goal.
    let other = c
        .list_check_ins_page(pb::ListCheckInsRequest {
            parent: "policyGoals/re100".into(),
            order_by: "check_in_time".into(),
            page_size: 1,
            page_token: page.next_page_token,
            ..Default::default()
        })
        .await;
    assert_eq!(violations(other), ["page_token"]);

    // Get and BatchGet, in the order asked.
    assert_eq!(c.get_check_in(&first.name, None).await.unwrap(), first);
    let both = c
        .batch_get_check_ins(pb::BatchGetCheckInsRequest {
            parent: "policyGoals/ax".into(),
            names: vec![now.name.clone(), first.name.clone()],
            allow_missing: false,
        })
        .await
        .unwrap();
    assert_eq!(both, [now.clone(), first.clone()]);
    let r = c
        .batch_get_check_ins(pb::BatchGetCheckInsRequest {
            parent: "policyGoals/ax".into(),
            names: vec![first.name.clone(), "policyGoals/ax/checkIns/nope".into()],
            allow_missing: false,
        })
        .await;
    assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    // A check-in of another goal is not one of this goal's.
    let r = c.get_check_in("policyGoals/re100/checkIns/q1", None).await;
    match r {
        Err(Error::NotFound { resource_name, .. }) => {
            assert_eq!(resource_name.as_deref(), Some("policyGoals/re100/checkIns/q1"));
        }
        other => panic!("{other:?}"),
    }

    // read_time: a check-in recorded later did not exist then.
    let at_first = first.create_time.unwrap();
    assert_eq!(c.get_check_in(&first.name, Some(at_first)).await.unwrap(), first);
    let earlier = Timestamp {
        seconds: at_first.seconds - 1,
        nanos: 0,
    };
    assert!(matches!(
        c.get_check_in(&first.name, Some(earlier)).await,
        Err(Error::NotFound { .. })
    ));
    let then: Vec<String> = c
        .list_check_ins(pb::ListCheckInsRequest {
            parent: "policyGoals/ax".into(),
            read_time: Some(at_first),
            ..Default::default()
        })
        .map_ok(|ci| ci.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(then, ["policyGoals/ax/checkIns/q1"]);
}

#[tokio::test]
async fn bad_check_ins_are_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![]).await;

    // Every violation at once.
    let future = Timestamp {
        seconds: time::OffsetDateTime::now_utc().unix_timestamp() + 86_400,
        nanos: 0,
    };
    let bad = pb::CheckIn {
        check_in_time: Some(future),
        confidence: 0,
        note: "x".repeat(4001),
        author: "a\u{0}b".into(),
        ..Default::default()
    };
    let mut got = violations(
        c.create_check_in(pb::CreateCheckInRequest {
            parent: "policyGoals/ax".into(),
            check_in: Some(bad),
            check_in_id: "Bad Id".into(),
            ..Default::default()
        })
        .await,
    );
    got.sort();
    assert_eq!(
        got,
        [
            "check_in.author",
            "check_in.check_in_time",
            "check_in.confidence",
            "check_in.note",
            "check_in_id"
        ]
    );
    let unknown = pb::CheckIn {
        confidence: 9,
        ..Default::default()
    };
    assert_eq!(violations(record(c, "ax", "", unknown).await), ["check_in.confidence"]);
    assert_eq!(
        violations(
            c.create_check_in(pb::CreateCheckInRequest {
                parent: "tradePartners/us".into(),
                ..Default::default()
            })
            .await
        ),
        ["parent", "check_in"]
    );
    assert!(list(c, "policyGoals/ax", "").await.is_empty());
    assert!(
        c.get_policy_goal("policyGoals/ax")
            .await
            .unwrap()
            .latest_check_in
            .is_none()
    );

    // A missing goal is NOT_FOUND; a deleted one FAILED_PRECONDITION; a taken id ALREADY_EXISTS.
    match record(c, "nope", "", check_in(Confidence::OnTrack, None, "")).await {
        Err(Error::NotFound { resource_name, .. }) => assert_eq!(resource_name.as_deref(), Some("policyGoals/nope")),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        c.list_check_ins_page(pb::ListCheckInsRequest {
            parent: "policyGoals/nope".into(),
            ..Default::default()
        })
        .await,
        Err(Error::NotFound { .. })
    ));
    record(c, "ax", "q1", check_in(Confidence::OnTrack, None, ""))
        .await
        .unwrap();
    assert!(matches!(
        record(c, "ax", "q1", check_in(Confidence::AtRisk, None, "")).await,
        Err(Error::AlreadyExists { .. })
    ));
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/ax".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(
        precondition(record(c, "ax", "", check_in(Confidence::OnTrack, None, "")).await),
        "RESOURCE_DELETED"
    );
    // A deleted goal's check-ins stay readable.
    assert_eq!(list(c, "policyGoals/ax", "").await, ["policyGoals/ax/checkIns/q1"]);

    // validate_only stores nothing; a viewer cannot check in but can read.
    new_goal(c, "re100", vec![]).await;
    let checked = c
        .create_check_in(pb::CreateCheckInRequest {
            parent: "policyGoals/re100".into(),
            check_in: Some(check_in(Confidence::AtRisk, None, "")),
            check_in_id: "dry".into(),
            validate_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(checked.name, "policyGoals/re100/checkIns/dry");
    assert!(list(c, "policyGoals/re100", "").await.is_empty());
    let (_, viewer) = app.client_with_role(Role::Viewer).await;
    assert!(matches!(
        record(&viewer, "re100", "", check_in(Confidence::AtRisk, None, "")).await,
        Err(Error::PermissionDenied { .. })
    ));
    assert_eq!(
        list(&viewer, "policyGoals/ax", "").await,
        ["policyGoals/ax/checkIns/q1"]
    );
}

/// Append-only: the API has no method that changes or removes a check-in, and the roles are
/// viewer for reads, editor for Create.
#[test]
fn check_ins_can_be_created_and_read_but_never_changed() {
    use registry_proto::{annotations, v1::Role};
    let mut methods: Vec<String> = annotations::methods()
        .into_iter()
        .filter(|m| m.contains("CheckIn"))
        .collect();
    methods.sort();
    let service = "/motie.registry.v1.PolicyGoalService";
    assert_eq!(
        methods,
        [
            format!("{service}/BatchGetCheckIns"),
            format!("{service}/CreateCheckIn"),
            format!("{service}/GetCheckIn"),
            format!("{service}/ListCheckIns"),
        ]
    );
    for m in &methods {
        let want = if m.ends_with("CreateCheckIn") {
            Role::Editor
        } else {
            Role::Viewer
        };
        assert_eq!(annotations::method_min_role(m), Some(want), "{m}");
    }
}

#[tokio::test]
async fn text_is_stored_nfc_normalised() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![]).await;
    // 가 as a leading consonant and a vowel (NFD), stored composed.
    let ci = pb::CheckIn {
        author: "\u{1100}\u{1161}".into(),
        ..check_in(Confidence::AtRisk, None, "\u{1100}\u{1161} \u{1100}\u{1161}")
    };
    let got = record(c, "ax", "", ci).await.unwrap();
    assert_eq!((got.author.as_str(), got.note.as_str()), ("가", "가 가"));
    assert_eq!(list(c, "policyGoals/ax", r#"search:"가""#).await, [got.name]);
}

#[tokio::test]
async fn a_request_id_makes_a_retry_return_the_original_check_in() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![]).await;
    let req = pb::CreateCheckInRequest {
        parent: "policyGoals/ax".into(),
        check_in: Some(check_in(Confidence::AtRisk, None, "")),
        request_id: "5f0c1a52-4e2b-4a55-9f6e-3d7c1b2a9e10".into(),
        ..Default::default()
    };
    let first = c.create_check_in(req.clone()).await.unwrap();
    let again = c.create_check_in(req).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(list(c, "policyGoals/ax", "").await.len(), 1);
}

#[tokio::test]
async fn a_goal_shows_its_latest_stated_confidence_beside_its_computed_state() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![exports_target()]).await;
    new_goal(c, "quiet", vec![]).await;
    c.record_measurement(pb::RecordMeasurementRequest {
        parent: "policyGoals/ax".into(),
        measurement: Some(pb::Measurement {
            metric: "exports".into(),
            value: 100.0,
            observe_time: Some(day(2025, 12, 1)),
            ..Default::default()
        }),
        request_id: String::new(),
    })
    .await
    .unwrap();

    let q4 = record(
        c,
        "ax",
        "q4",
        check_in(Confidence::OnTrack, Some(day(2025, 12, 31)), "fine"),
    )
    .await
    .unwrap();
    let q1 = record(
        c,
        "ax",
        "q1",
        check_in(Confidence::OffTrack, Some(day(2026, 1, 31)), "tariffs hit exports"),
    )
    .await
    .unwrap();
    // A later recording about an earlier date does not become the latest.
    record(
        c,
        "ax",
        "late",
        check_in(Confidence::AtRisk, Some(day(2025, 6, 30)), ""),
    )
    .await
    .unwrap();

    let g = c.get_policy_goal("policyGoals/ax").await.unwrap();
    let computed = pb::target_progress::State::try_from(g.targets[0].progress.clone().unwrap().state).unwrap();
    assert_eq!(computed, pb::target_progress::State::Achieved);
    let latest = *g.latest_check_in.clone().unwrap();
    assert_eq!(
        latest, q1,
        "the stated confidence disagrees with the computed state, visibly"
    );
    assert_eq!(latest.confidence, Confidence::OffTrack as i32);
    assert_eq!(g.revision, 1, "a check-in is not a change of the goal");

    // Lists carry it too, and goals filter by it.
    let goals: Vec<pb::PolicyGoal> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            filter: "latest_confidence = OFF_TRACK".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(goals.len(), 1);
    assert_eq!(goals[0].latest_check_in.as_deref(), Some(&q1));
    let others: Vec<String> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            filter: "latest_confidence != OFF_TRACK".into(),
            ..Default::default()
        })
        .map_ok(|g| g.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(others, ["policyGoals/quiet"]);
    assert_eq!(
        violations(
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                filter: "latest_confidence = SOMEWHAT".into(),
                ..Default::default()
            })
            .await
        ),
        ["filter"]
    );

    // As the goal stood when q4 was recorded (before q1): q4 was its latest.
    let then = c
        .get_policy_goal_at("policyGoals/ax", q4.create_time.unwrap())
        .await
        .unwrap();
    assert_eq!(then.latest_check_in.as_deref(), Some(&q4));
    let then = c
        .get_policy_goal_at("policyGoals/ax", q1.create_time.unwrap())
        .await
        .unwrap();
    assert_eq!(then.latest_check_in.as_deref(), Some(&q1));
}

#[tokio::test]
async fn every_check_in_is_in_the_change_feed_and_history() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    new_goal(c, "ax", vec![]).await;
    let ci = record(
        c,
        "ax",
        "q1",
        check_in(Confidence::AtRisk, Some(day(2026, 2, 1)), "watch"),
    )
    .await
    .unwrap();

    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: ci.name.clone(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let change = &history[0];
    assert_eq!(change.resource_type, "motie.registry.v1.CheckIn");
    assert_eq!(change.kind, pb::change::Kind::Created as i32);
    assert_eq!(change.actor, ci.creator);
    assert_eq!(change.snapshot, Some(pb::change::Snapshot::CheckIn(ci.clone())));
    let typed: Vec<String> = c
        .list_changes(pb::ListChangesRequest {
            resource_type: "motie.registry.v1.CheckIn".into(),
            ..Default::default()
        })
        .map_ok(|c| c.resource_name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(typed, [ci.name.as_str()]);

    // A watcher of the goal's names sees it, with its snapshot.
    let mut w = Box::pin(c.watch_changes(
        pb::WatchChangesRequest {
            after_sequence: Some(0),
            name_prefix: "policyGoals/ax/checkIns/".into(),
            ..Default::default()
        },
        WatchOptions::default(),
    ));
    let got = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            match w.next().await {
                Some(Ok(WatchEvent::Change(c))) => return *c,
                Some(Ok(_)) => {}
                other => panic!("watch ended: {other:?}"),
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(got.resource_name, ci.name);
    assert_eq!(got.snapshot, Some(pb::change::Snapshot::CheckIn(ci)));
}

/// The migration on a database holding goals of the version before check-ins: they read
/// without a latest check-in and take check-ins.
#[tokio::test]
async fn goals_stored_before_check_ins_migrate_and_take_check_ins() {
    use registry_server::{
        domain::{Id, check_in::CheckInSpec, enums::CheckInConfidence, goal::PolicyGoal},
        store::{MIGRATOR, Store, StoreOptions},
    };
    /// The last migration before check-ins.
    const BEFORE_CHECK_INS: i64 = 20261201400001;
    let db = registry_e2e::TestDb::empty().await;
    let pool = &db.pool;
    MIGRATOR.run_to(BEFORE_CHECK_INS, pool).await.unwrap();
    sqlx::query(
        "INSERT INTO policy_goals (id, title, pillar, state, create_time, update_time)
         VALUES ('old', 'Old goal', 'INDUSTRIAL_RESURGENCE', 'ACTIVE', now(), now())",
    )
    .execute(pool)
    .await
    .unwrap();
    MIGRATOR.run(pool).await.unwrap();

    let store = Store::from_pool(pool.clone(), StoreOptions::default()).await.unwrap();
    let id = Id::parse("id", "old").unwrap();
    let g: PolicyGoal = store.get(&id).await.unwrap();
    assert_eq!(g.latest_check_in, None);
    let spec = CheckInSpec {
        check_in_time: None,
        confidence: CheckInConfidence::OffTrack,
        note: String::new(),
        author: String::new(),
        source: String::new(),
        quote: String::new(),
    };
    let ci = store
        .create_check_in(&id, None, spec, &registry_e2e::system_ctx())
        .await
        .unwrap();
    assert_eq!(ci.author, "system", "an empty author is the caller");
    let g: PolicyGoal = store.get(&id).await.unwrap();
    assert_eq!(g.latest_check_in, Some(ci));
    assert_eq!(g.stamps.revision, 1);
}
