//! Measurements and computed progress end to end: RecordMeasurement, ListMeasurements,
//! Target.progress on every read, the `progress_state` filter, and the change log.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use registry_client::{RegistryClient, prost_types::Timestamp};
use registry_e2e::{Error, TestApp, create, goal, pb, precondition, violations};

use pb::target_progress::State;

/// Midnight UTC of a day.
pub(crate) fn day(y: i32, m: u8, d: u8) -> Timestamp {
    let t = time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d)
        .unwrap()
        .midnight()
        .assume_utc();
    Timestamp {
        seconds: t.unix_timestamp(),
        nanos: 0,
    }
}

/// "0 -> 100 between 2016-01-01 and the end of 2025": 10 points a year (a period in the past:
/// observations cannot be in the future).
pub(crate) fn exports_target() -> pb::Target {
    pb::Target {
        metric: "exports".into(),
        unit: "points".into(),
        baseline_value: Some(0.0),
        baseline_date: Some(pb::Date {
            year: 2016,
            month: 1,
            day: 1,
        }),
        target_value: 100.0,
        direction: pb::target::Direction::IncreaseTo.into(),
        target_year: 2025,
        ..Default::default()
    }
}

fn share_target() -> pb::Target {
    pb::Target {
        metric: "share".into(),
        unit: "percent".into(),
        target_value: 50.0,
        direction: pb::target::Direction::StayAbove.into(),
        target_year: 2024,
        ..Default::default()
    }
}

pub(crate) async fn goal_with(c: &RegistryClient, id: &str, targets: Vec<pb::Target>) -> pb::PolicyGoal {
    let mut g = goal(id, pb::Pillar::IndustrialResurgence);
    g.targets = targets;
    c.create_policy_goal(create(id, g)).await.unwrap()
}

fn measurement(metric: &str, value: f64, at: Timestamp) -> pb::Measurement {
    pb::Measurement {
        metric: metric.into(),
        value,
        observe_time: Some(at),
        ..Default::default()
    }
}

pub(crate) async fn record(c: &RegistryClient, goal: &str, metric: &str, value: f64, at: Timestamp) -> pb::Measurement {
    c.record_measurement(pb::RecordMeasurementRequest {
        parent: format!("policyGoals/{goal}"),
        measurement: Some(measurement(metric, value, at)),
        request_id: String::new(),
    })
    .await
    .unwrap()
}

fn progress(g: &pb::PolicyGoal, metric: &str) -> pb::TargetProgress {
    g.targets
        .iter()
        .find(|t| t.metric == metric)
        .and_then(|t| t.progress.clone())
        .unwrap_or_else(|| panic!("no progress for {metric} in {g:?}"))
}

fn state_of(g: &pb::PolicyGoal, metric: &str) -> State {
    State::try_from(progress(g, metric).state).unwrap()
}

async fn names(c: &RegistryClient, filter: &str) -> BTreeSet<String> {
    c.list_policy_goals(pb::ListPolicyGoalsRequest {
        filter: filter.into(),
        ..Default::default()
    })
    .map_ok(|g| g.name)
    .try_collect()
    .await
    .unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| format!("policyGoals/{n}")).collect()
}

#[tokio::test]
async fn every_progress_state_through_real_measurements_and_the_filter() {
    let app = TestApp::spawn().await;
    let c = &app.client;

    let created = goal_with(c, "no-data", vec![exports_target()]).await;
    assert_eq!(state_of(&created, "exports"), State::NoData);
    assert_eq!(progress(&created, "exports").latest_value, None);

    // Half way through the period (2021-01-01), 50% is expected.
    for (id, value) in [
        ("on-track", 50.0),
        ("at-risk", 35.0),
        ("off-track", 20.0),
        ("achieved", 100.0),
    ] {
        goal_with(c, id, vec![exports_target()]).await;
        record(c, id, "exports", value, day(2021, 1, 1)).await;
    }
    // Past the deadline (end of 2025) and not met.
    goal_with(c, "missed", vec![exports_target()]).await;
    record(c, "missed", "exports", 99.0, day(2026, 2, 1)).await;
    // STAY_ABOVE: held during the period, then at the end of it.
    goal_with(c, "holding", vec![share_target()]).await;
    record(c, "holding", "share", 55.0, day(2024, 6, 1)).await;
    goal_with(c, "held", vec![share_target()]).await;
    record(c, "held", "share", 55.0, day(2025, 1, 1)).await;

    let expect = [
        ("no-data", "exports", State::NoData),
        ("on-track", "exports", State::OnTrack),
        ("at-risk", "exports", State::AtRisk),
        ("off-track", "exports", State::OffTrack),
        ("achieved", "exports", State::Achieved),
        ("missed", "exports", State::OffTrack),
        ("holding", "share", State::OnTrack),
        ("held", "share", State::Achieved),
    ];
    // Get, BatchGet and List all carry the progress.
    let batch = c
        .batch_get_policy_goals(expect.iter().map(|(id, ..)| format!("policyGoals/{id}")))
        .await
        .unwrap();
    let listed: Vec<pb::PolicyGoal> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            page_size: 3,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    for (i, (id, metric, want)) in expect.iter().enumerate() {
        let got = c.get_policy_goal(format!("policyGoals/{id}")).await.unwrap();
        assert_eq!(state_of(&got, metric), *want, "{id}: {:?}", progress(&got, metric));
        assert_eq!(state_of(&batch[i], metric), *want, "{id} (batch)");
        let l = listed.iter().find(|g| g.name == got.name).unwrap();
        assert_eq!(state_of(l, metric), *want, "{id} (list)");
        let p = progress(&got, metric);
        assert!(
            p.explanation
                .starts_with(want.as_str_name().trim_start_matches("STATE_")),
            "{p:?}"
        );
    }
    let p = progress(&c.get_policy_goal("policyGoals/at-risk").await.unwrap(), "exports");
    assert_eq!(p.latest_value, Some(35.0));
    assert_eq!(p.latest_observe_time, Some(day(2021, 1, 1)));
    assert_eq!(p.percent_complete, Some(35.0));
    assert!(p.explanation.contains("35.0%"), "{}", p.explanation);
    let p = progress(&c.get_policy_goal("policyGoals/missed").await.unwrap(), "exports");
    assert!(p.explanation.contains("deadline passed"), "{}", p.explanation);

    // The filter uses the stored states.
    assert_eq!(
        names(c, "progress_state = OFF_TRACK").await,
        set(&["off-track", "missed"])
    );
    assert_eq!(names(c, "progress_state = STATE_AT_RISK").await, set(&["at-risk"]));
    assert_eq!(names(c, "progress_state = ACHIEVED").await, set(&["achieved", "held"]));
    assert_eq!(names(c, "progress_state = NO_DATA").await, set(&["no-data"]));
    assert_eq!(
        names(c, "progress_state = ON_TRACK OR progress_state = AT_RISK").await,
        set(&["on-track", "at-risk", "holding"])
    );
    assert_eq!(
        names(c, "progress_state != OFF_TRACK AND progress_state != NO_DATA").await,
        set(&["on-track", "at-risk", "achieved", "holding", "held"])
    );
    assert!(
        violations(
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                filter: "progress_state = LATE".into(),
                ..Default::default()
            })
            .await
        )
        .contains(&"filter".to_owned())
    );

    // A later observation supersedes; an earlier one does not change the latest.
    record(c, "off-track", "exports", 60.0, day(2021, 6, 1)).await;
    record(c, "off-track", "exports", 5.0, day(2017, 1, 1)).await;
    let g = c.get_policy_goal("policyGoals/off-track").await.unwrap();
    assert_eq!(state_of(&g, "exports"), State::OnTrack);
    assert_eq!(progress(&g, "exports").latest_value, Some(60.0));
    assert_eq!(names(c, "progress_state = OFF_TRACK").await, set(&["missed"]));

    // Changing the targets recomputes the stored state in the same transaction.
    let mut t = exports_target();
    t.target_value = 90.0;
    let updated = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/missed".into(),
                targets: vec![t],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(state_of(&updated, "exports"), State::Achieved);
    assert!(names(c, "progress_state = OFF_TRACK").await.is_empty());
    assert!(
        names(c, "progress_state = ACHIEVED")
            .await
            .contains("policyGoals/missed")
    );
}

#[tokio::test]
async fn baseline_falls_back_to_the_earliest_measurement_and_read_time_sees_old_progress() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut t = exports_target();
    t.baseline_value = None;
    t.baseline_date = None;
    t.target_value = 110.0;
    let created = goal_with(c, "fallback", vec![t]).await;
    record(c, "fallback", "exports", 10.0, day(2016, 1, 1)).await;
    let after_first = c.get_policy_goal("policyGoals/fallback").await.unwrap();
    // One measurement: it is the baseline and the start, so nothing is expected yet.
    assert_eq!(state_of(&after_first, "exports"), State::OnTrack);
    assert_eq!(progress(&after_first, "exports").percent_complete, Some(0.0));
    record(c, "fallback", "exports", 60.0, day(2021, 1, 1)).await;
    let g = c.get_policy_goal("policyGoals/fallback").await.unwrap();
    let p = progress(&g, "exports");
    assert_eq!(p.percent_complete, Some(50.0));
    assert_eq!(p.latest_value, Some(60.0));
    assert!(p.explanation.contains("earliest measurement"), "{}", p.explanation);

    // As of the goal's creation, there was no measurement yet.
    let history = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let then = c
        .get_policy_goal_at("policyGoals/fallback", history.changes[0].change_time.unwrap())
        .await
        .unwrap();
    assert_eq!(state_of(&then, "exports"), State::NoData);
}

#[tokio::test]
async fn record_and_list_with_paging_and_filters() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    goal_with(c, "ax", vec![exports_target(), share_target()]).await;
    let mut recorded = Vec::new();
    for (i, (metric, month)) in [
        ("exports", 5),
        ("share", 1),
        ("exports", 3),
        ("share", 9),
        ("exports", 11),
        ("exports", 7),
        ("share", 3),
    ]
    .into_iter()
    .enumerate()
    {
        let m = c
            .record_measurement(pb::RecordMeasurementRequest {
                parent: "policyGoals/ax".into(),
                measurement: Some(pb::Measurement {
                    source: "KOSIS".into(),
                    note: format!("check-in {i}"),
                    ..measurement(metric, i as f64, day(2025, month, 1))
                }),
                request_id: String::new(),
            })
            .await
            .unwrap();
        assert!(m.name.starts_with("policyGoals/ax/measurements/"), "{}", m.name);
        let id = m.name.rsplit('/').next().unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(m.recorder, app.admin_token_id);
        assert_eq!(m.source, "KOSIS");
        assert!(m.create_time.is_some());
        recorded.push(m);
    }
    // Ordered by observe time (two at 2025-03-01: then by name), page by page.
    let mut want = recorded.clone();
    want.sort_by_key(|m| (m.observe_time.unwrap().seconds, m.name.clone()));
    let mut got = Vec::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .list_measurements_page(pb::ListMeasurementsRequest {
                parent: "policyGoals/ax".into(),
                page_size: 3,
                page_token: token,
                ..Default::default()
            })
            .await
            .unwrap();
        assert!(page.measurements.len() <= 3);
        pages += 1;
        got.extend(page.measurements);
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(pages, 3);
    assert_eq!(got, want);

    let exports: Vec<pb::Measurement> = c
        .list_measurements(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            metric: "exports".into(),
            page_size: 1,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        exports.iter().map(|m| m.value).collect::<Vec<_>>(),
        vec![2.0, 0.0, 5.0, 4.0]
    );
    // [start, end): March up to, not including, September.
    let window: Vec<f64> = c
        .list_measurements(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            start_time: Some(day(2025, 3, 1)),
            end_time: Some(day(2025, 9, 1)),
            page_size: 2,
            ..Default::default()
        })
        .map_ok(|m| m.value)
        .try_collect()
        .await
        .unwrap();
    let mut sorted = window.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(window.len(), 4);
    assert_eq!(sorted, vec![0.0, 2.0, 5.0, 6.0]);

    // A token is bound to its request.
    let first = c
        .list_measurements_page(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let other = c
        .list_measurements_page(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            page_size: 1,
            metric: "share".into(),
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(violations(other), vec!["page_token".to_owned()]);

    // Bad list requests name every field.
    let bad = c
        .list_measurements_page(pb::ListMeasurementsRequest {
            parent: "goals/ax".into(),
            page_size: -1,
            metric: "Not A Metric".into(),
            start_time: Some(day(2025, 2, 1)),
            end_time: Some(day(2025, 1, 1)),
            ..Default::default()
        })
        .await;
    let fields = violations(bad);
    for f in ["parent", "page_size", "metric", "end_time"] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    assert!(matches!(
        c.list_measurements_page(pb::ListMeasurementsRequest {
            parent: "policyGoals/nope".into(),
            ..Default::default()
        })
        .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn rejected_measurements() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    goal_with(c, "ax", vec![exports_target()]).await;
    let req = |parent: &str, m: pb::Measurement| pb::RecordMeasurementRequest {
        parent: parent.into(),
        measurement: Some(m),
        request_id: String::new(),
    };

    // A metric that is not one of the goal's targets.
    let r = c
        .record_measurement(req("policyGoals/ax", measurement("imports", 1.0, day(2025, 1, 1))))
        .await;
    match &r {
        Err(Error::FailedPrecondition { message, .. }) => assert!(message.contains("exports"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(precondition(r), "METRIC_NOT_A_TARGET");

    // Invalid fields, all reported.
    let future = Timestamp {
        seconds: time::OffsetDateTime::now_utc().unix_timestamp() + 86_400,
        nanos: 0,
    };
    let fields = violations(
        c.record_measurement(pb::RecordMeasurementRequest {
            parent: "policyGoals/ax".into(),
            measurement: Some(pb::Measurement {
                metric: String::new(),
                value: f64::NAN,
                observe_time: Some(future),
                note: "x".repeat(2000),
                ..Default::default()
            }),
            request_id: "has spaces".into(),
        })
        .await,
    );
    for f in [
        "measurement.metric",
        "measurement.value",
        "measurement.observe_time",
        "measurement.note",
        "request_id",
    ] {
        assert!(fields.contains(&f.to_owned()), "{f} missing from {fields:?}");
    }
    let fields = violations(
        c.record_measurement(req(
            "policyGoals/ax",
            pb::Measurement {
                metric: "exports".into(),
                value: 1.0,
                ..Default::default()
            },
        ))
        .await,
    );
    assert_eq!(fields, vec!["measurement.observe_time".to_owned()]);
    assert_eq!(
        violations(c.record_measurement(pb::RecordMeasurementRequest::default()).await),
        vec!["parent".to_owned(), "measurement".to_owned()]
    );

    // A missing goal, a deleted goal.
    assert!(matches!(
        c.record_measurement(req("policyGoals/nope", measurement("exports", 1.0, day(2025, 1, 1))))
            .await,
        Err(Error::NotFound { .. })
    ));
    record(c, "ax", "exports", 1.0, day(2025, 1, 1)).await;
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/ax".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let r = c
        .record_measurement(req("policyGoals/ax", measurement("exports", 2.0, day(2025, 2, 1))))
        .await;
    assert_eq!(precondition(r), "RESOURCE_DELETED");
    // Its measurements can still be listed, and nothing was added.
    let all: Vec<pb::Measurement> = c
        .list_measurements(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);

    // A viewer cannot record.
    let (_, viewer) = app.client_with_role(registry_server::domain::enums::Role::Viewer).await;
    goal_with(c, "bx", vec![exports_target()]).await;
    assert!(matches!(
        viewer
            .record_measurement(req("policyGoals/bx", measurement("exports", 1.0, day(2025, 1, 1))))
            .await,
        Err(Error::PermissionDenied { .. })
    ));
    viewer
        .list_measurements_page(pb::ListMeasurementsRequest {
            parent: "policyGoals/bx".into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn request_id_makes_concurrent_retries_create_one() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    goal_with(c, "ax", vec![exports_target()]).await;
    let req = pb::RecordMeasurementRequest {
        parent: "policyGoals/ax".into(),
        measurement: Some(measurement("exports", 42.0, day(2025, 1, 1))),
        request_id: uuid::Uuid::new_v4().to_string(),
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = app.new_client().await;
        let req = req.clone();
        tasks.push(tokio::spawn(async move { client.record_measurement(req).await }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().unwrap());
    }
    assert!(results.iter().all(|m| *m == results[0]), "{results:?}");
    let all: Vec<pb::Measurement> = c
        .list_measurements(pb::ListMeasurementsRequest {
            parent: "policyGoals/ax".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, vec![results[0].clone()]);
    // A later retry replays the original; the same key for another request is rejected.
    assert_eq!(c.record_measurement(req.clone()).await.unwrap(), results[0]);
    let mut other = req.clone();
    other.measurement = Some(measurement("exports", 43.0, day(2025, 1, 1)));
    assert_eq!(
        violations(c.record_measurement(other).await),
        vec!["request_id".to_owned()]
    );
    // One change-log entry.
    let changes: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_type: "motie.registry.v1.Measurement".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
}

#[tokio::test]
async fn measurements_are_in_the_change_log() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    goal_with(c, "ax", vec![exports_target()]).await;
    let before = c
        .list_changes_page(pb::ListChangesRequest {
            newest_first: true,
            page_size: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .changes[0]
        .sequence;
    let m = c
        .record_measurement(pb::RecordMeasurementRequest {
            parent: "policyGoals/ax".into(),
            measurement: Some(measurement("exports", 7.5, day(2025, 1, 1))),
            request_id: "rid-1".into(),
        })
        .await
        .unwrap();
    let changes: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: m.name.clone(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(changes.len(), 1);
    let ch = &changes[0];
    assert!(ch.sequence > before);
    assert_eq!(ch.resource_type, "motie.registry.v1.Measurement");
    assert_eq!(ch.kind, pb::change::Kind::Created as i32);
    assert_eq!(ch.actor, app.admin_token_id);
    assert_eq!(ch.request_id, "rid-1");
    assert_eq!(ch.snapshot, Some(pb::change::Snapshot::Measurement(m.clone())));
    // Recording does not change the goal's revision (progress is derived, not edited).
    let g = c.get_policy_goal("policyGoals/ax").await.unwrap();
    assert_eq!(g.revision, 1);
    // Watchers can ask for measurements by type.
    let mut stream = c
        .watch_changes_once(pb::WatchChangesRequest {
            after_sequence: Some(before),
            resource_types: vec!["motie.registry.v1.Measurement".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    loop {
        match stream.message().await.unwrap().unwrap().event {
            Some(pb::watch_changes_response::Event::Change(ch)) => {
                assert_eq!(ch.resource_name, m.name);
                break;
            }
            Some(pb::watch_changes_response::Event::Heartbeat(_)) => continue,
            None => panic!("empty event"),
        }
    }
}

#[tokio::test]
async fn stored_progress_matches_progress_computed_from_the_measurements() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    goal_with(c, "stored", vec![exports_target(), share_target()]).await;
    record(c, "stored", "exports", 40.0, day(2020, 1, 1)).await;
    record(c, "stored", "share", 55.0, day(2023, 6, 1)).await;
    // Get and List read the progress stored by RecordMeasurement.
    let got = c.get_policy_goal("policyGoals/stored").await.unwrap();
    let listed: Vec<pb::PolicyGoal> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].targets, got.targets);
    assert_eq!(state_of(&got, "exports"), State::OnTrack);
    assert_eq!(progress(&got, "exports").latest_value, Some(40.0));
    assert_eq!(state_of(&got, "share"), State::OnTrack);

    // A goal written before progress was stored (or whose stored form cannot be read) gets
    // it computed from the measurements, identically.
    for stale in [None, Some(r#"{"not": "progress"}"#), Some("[]")] {
        sqlx::query("UPDATE policy_goals SET progress = $1::jsonb WHERE id = 'stored'")
            .bind(stale)
            .execute(app.pool())
            .await
            .unwrap();
        let again = c.get_policy_goal("policyGoals/stored").await.unwrap();
        assert_eq!(again.targets, got.targets, "with progress = {stale:?}");
        let batch = c
            .batch_get_policy_goals(vec!["policyGoals/stored".to_owned()])
            .await
            .unwrap();
        assert_eq!(batch[0].targets, got.targets, "with progress = {stale:?}");
    }
    // The next measurement stores it again.
    record(c, "stored", "exports", 95.0, day(2024, 1, 1)).await;
    let stored: Option<sqlx::types::JsonValue> =
        sqlx::query_scalar("SELECT progress FROM policy_goals WHERE id = 'stored'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(stored.and_then(|v| v.as_array().map(Vec::len)), Some(2));
    let after = c.get_policy_goal("policyGoals/stored").await.unwrap();
    assert_eq!(progress(&after, "exports").latest_value, Some(95.0));
}

/// "Increase productivity by more than 30%": a relative target has no progress until its
/// baseline is recorded (BASELINE_UNKNOWN, and the `progress_state` filter finds it), then it
/// is the absolute target it means; the server refuses relative settings that make no sense.
#[tokio::test]
async fn relative_targets_need_a_baseline_and_then_mean_an_absolute_target() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let productivity = pb::Target {
        metric: "productivity".into(),
        unit: "index".into(),
        target_value: 30.0,
        percent_of_baseline: true,
        direction: pb::target::Direction::IncreaseBy.into(),
        comparator: pb::target::Comparator::MoreThan.into(),
        target_year: 2025,
        ..Default::default()
    };
    let created = goal_with(c, "rel", vec![productivity]).await;
    assert_eq!(state_of(&created, "productivity"), State::BaselineUnknown);
    record(c, "rel", "productivity", 120.0, day(2021, 1, 1)).await;
    let g = c.get_policy_goal("policyGoals/rel").await.unwrap();
    let p = progress(&g, "productivity");
    assert_eq!(State::try_from(p.state).unwrap(), State::BaselineUnknown);
    assert_eq!(p.percent_complete, None);
    assert!(p.explanation.contains("no baseline_value"), "{}", p.explanation);
    assert_eq!(names(c, "progress_state = BASELINE_UNKNOWN").await, set(&["rel"]));

    // With a baseline of 100 from 2016: "more than 30%" means a value above 130.
    let mut t = g.targets[0].clone();
    t.baseline_value = Some(100.0);
    t.baseline_date = Some(pb::Date {
        year: 2016,
        month: 1,
        day: 1,
    });
    t.progress = None;
    let updated = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: g.name.clone(),
                targets: vec![t],
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["targets".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let p = progress(&updated, "productivity");
    // 120 in 2021 covers 20 of the 30 points (66.7%) where the path expects 50%.
    assert_eq!(State::try_from(p.state).unwrap(), State::OnTrack);
    let percent = p.percent_complete.unwrap();
    assert!((percent - 200.0 / 3.0).abs() < 1e-9, "{percent}");
    assert!(p.explanation.contains("means a value > 130"), "{}", p.explanation);
    record(c, "rel", "productivity", 130.0, day(2024, 1, 1)).await;
    let g = c.get_policy_goal("policyGoals/rel").await.unwrap();
    assert_ne!(
        state_of(&g, "productivity"),
        State::Achieved,
        "130 is not more than 130"
    );
    record(c, "rel", "productivity", 131.0, day(2024, 6, 1)).await;
    let g = c.get_policy_goal("policyGoals/rel").await.unwrap();
    assert_eq!(state_of(&g, "productivity"), State::Achieved);

    // Nonsense is refused, field by field, and nothing is stored.
    let mut bad = goal("bad", pb::Pillar::IndustrialResurgence);
    bad.targets = vec![
        pb::Target {
            metric: "a".into(),
            unit: "u".into(),
            target_value: -5.0,
            direction: pb::target::Direction::DecreaseBy.into(),
            target_year: 2030,
            ..Default::default()
        },
        pb::Target {
            metric: "b".into(),
            unit: "u".into(),
            target_value: 5.0,
            percent_of_baseline: true,
            direction: pb::target::Direction::IncreaseTo.into(),
            target_year: 2030,
            ..Default::default()
        },
        pb::Target {
            metric: "c".into(),
            unit: "u".into(),
            target_value: 5.0,
            baseline_value: Some(0.0),
            percent_of_baseline: true,
            direction: pb::target::Direction::IncreaseBy.into(),
            target_year: 2030,
            ..Default::default()
        },
    ];
    let fields = violations(c.create_policy_goal(create("bad", bad)).await);
    for f in [
        "policy_goal.targets[0].target_value",
        "policy_goal.targets[1].percent_of_baseline",
        "policy_goal.targets[2].baseline_value",
    ] {
        assert!(fields.iter().any(|v| v == f), "{f} missing from {fields:?}");
    }
    assert!(c.get_policy_goal("policyGoals/bad").await.is_err());
}
