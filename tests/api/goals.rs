//! PolicyGoalService end to end: a real registryd, a real PostgreSQL, only registry-client.

use std::collections::HashSet;

use futures::TryStreamExt;
use registry_e2e::{Error, TestApp, create, goal, pb, precondition, violations};

fn mask(paths: &[&str]) -> Option<registry_client::prost_types::FieldMask> {
    Some(registry_client::prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// An update of `goal`'s `paths`.
fn masked(goal: pb::PolicyGoal, paths: &[&str]) -> pb::UpdatePolicyGoalRequest {
    pb::UpdatePolicyGoalRequest {
        policy_goal: Some(goal),
        update_mask: mask(paths),
        ..Default::default()
    }
}

fn ai_factories_target() -> pb::Target {
    pb::Target {
        metric: "ai-factories".into(),
        unit: "factories".into(),
        target_value: 500.0,
        direction: pb::target::Direction::IncreaseTo.into(),
        comparator: pb::target::Comparator::MoreThan.into(),
        target_year: 2030,
        ..Default::default()
    }
}

#[tokio::test]
async fn crud_round_trip() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut g = goal("Industrial resurgence", pb::Pillar::IndustrialResurgence);
    g.sectors = vec!["semiconductors".into(), "automotive".into()];
    g.labels.insert("source".into(), "audit-statement".into());
    g.targets.push(ai_factories_target());
    g.milestones.push(pb::Milestone {
        title: "Commence".into(),
        due_date: Some(pb::Date {
            year: 2026,
            month: 0,
            day: 0,
        }),
        ..Default::default()
    });
    let created = c.create_policy_goal(create("industrial-resurgence", g)).await.unwrap();
    assert_eq!(created.name, "policyGoals/industrial-resurgence");
    assert_eq!(created.revision, 1);
    // Not stated: unspecified, not PLANNED.
    assert_eq!(created.state, pb::policy_goal::State::Unspecified as i32);
    assert!(!created.etag.is_empty());
    assert!(created.create_time.is_some() && created.update_time.is_some());
    assert_eq!(created.targets[0].comparator, pb::target::Comparator::MoreThan as i32);
    assert_eq!(created.milestones[0].state, pb::milestone::State::Unspecified as i32);

    let got = c.get_policy_goal("policyGoals/industrial-resurgence").await.unwrap();
    assert_eq!(got, created);

    let listed: Vec<_> = c.list_policy_goals(Default::default()).try_collect().await.unwrap();
    assert_eq!(listed, vec![created.clone()]);

    let updated = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: created.name.clone(),
                title: "Industrial resurgence (revised)".into(),
                etag: created.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["title"]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.title, "Industrial resurgence (revised)");
    assert_eq!(updated.sectors, created.sectors, "fields outside the mask are kept");
    assert_eq!(updated.revision, 2);
    assert_ne!(updated.etag, created.etag);

    let deleted = c
        .delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deleted.delete_time.is_some() && deleted.expire_time.is_some());
    let restored = c
        .undelete_policy_goal(pb::UndeletePolicyGoalRequest {
            name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(restored.delete_time.is_none());
    assert_eq!(restored.title, updated.title);
}

#[tokio::test]
async fn not_found_and_already_exists_carry_resource_info() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    match c.get_policy_goal("policyGoals/missing").await {
        Err(Error::NotFound { resource_name, .. }) => {
            assert_eq!(resource_name.as_deref(), Some("policyGoals/missing"))
        }
        other => panic!("expected NOT_FOUND, got {other:?}"),
    }
    c.create_policy_goal(create("a", goal("A", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    match c
        .create_policy_goal(create("a", goal("A again", pb::Pillar::IndustrialResurgence)))
        .await
    {
        Err(Error::AlreadyExists { resource_name, .. }) => assert_eq!(resource_name.as_deref(), Some("policyGoals/a")),
        other => panic!("expected ALREADY_EXISTS, got {other:?}"),
    }
    assert_eq!(c.get_policy_goal("policyGoals/a").await.unwrap().title, "A");
}

#[tokio::test]
async fn invalid_requests_list_every_violation_and_store_nothing() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut bad = goal("", pb::Pillar::Unspecified);
    bad.title_ko = "nul\0byte".into();
    bad.targets = vec![pb::Target {
        target_value: f64::INFINITY,
        target_year: 12345,
        ..ai_factories_target()
    }];
    bad.targets.push(pb::Target {
        baseline_value: Some(f64::NAN),
        ..ai_factories_target()
    });
    bad.linked_partners = vec!["tradePartners/../etc".into()];
    bad.risks = vec![pb::Risk {
        category: 999,
        title: "x".into(),
        ..Default::default()
    }];
    bad.labels.insert("Invalid Key".into(), "v".into());
    bad.state = pb::policy_goal::State::Closed.into();
    let req = pb::CreatePolicyGoalRequest {
        policy_goal_id: "Not A Slug".into(),
        policy_goal: Some(bad),
        request_id: "has spaces in it".into(),
        validate_only: false,
    };
    let fields = violations(c.create_policy_goal(req).await);
    for expected in [
        "policy_goal_id",
        "request_id",
        "policy_goal.title",
        "policy_goal.title_ko",
        "policy_goal.pillar",
        "policy_goal.targets[0].target_value",
        "policy_goal.targets[0].target_year",
        "policy_goal.targets[1].metric",
        "policy_goal.targets[1].baseline_value",
        "policy_goal.linked_partners[0]",
        "policy_goal.risks[0].category",
        "policy_goal.labels[Invalid Key]",
        "policy_goal.state",
    ] {
        assert!(fields.iter().any(|f| f == expected), "{expected} not in {fields:?}");
    }
    // Missing resource, bad names everywhere.
    assert_eq!(
        violations(
            c.create_policy_goal(pb::CreatePolicyGoalRequest {
                policy_goal_id: "ok".into(),
                ..Default::default()
            })
            .await
        ),
        ["policy_goal"]
    );
    for name in [
        "",
        "policyGoals/",
        "policyGoals/../x",
        "tradePartners/us",
        "policyGoals/a/b",
        "policyGoals/UPPER",
    ] {
        assert_eq!(violations(c.get_policy_goal(name).await), ["name"], "{name:?}");
    }
    let page = c.list_policy_goals_page(Default::default()).await.unwrap();
    assert_eq!(page.total_size, 0, "nothing was stored");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM change_log WHERE resource_name LIKE 'policyGoals/%'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(count, 0, "no change was logged");
}

#[tokio::test]
async fn validate_only_checks_without_storing() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut req = create("x", goal("X", pb::Pillar::IndustrialResurgence));
    req.validate_only = true;
    let would_be = c.create_policy_goal(req.clone()).await.unwrap();
    assert_eq!(would_be.name, "policyGoals/x");
    assert!(matches!(
        c.get_policy_goal("policyGoals/x").await,
        Err(Error::NotFound { .. })
    ));
    // validate_only still detects conflicts
    c.create_policy_goal(create("x", goal("X", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    assert!(matches!(
        c.create_policy_goal(req).await,
        Err(Error::AlreadyExists { .. })
    ));
    let before = c.get_policy_goal("policyGoals/x").await.unwrap();
    let after = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/x".into(),
                title: "Changed".into(),
                ..Default::default()
            }),
            validate_only: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(after.title, "Changed");
    assert_eq!(c.get_policy_goal("policyGoals/x").await.unwrap(), before);
}

#[tokio::test]
async fn request_id_makes_create_idempotent() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut req = create("retry", goal("Retry", pb::Pillar::TradeNationalInterest));
    req.request_id = "6f1c7a1e-1d7b-4c39-9a56-0c6d3e0f0a11".into();
    let first = c.create_policy_goal(req.clone()).await.unwrap();
    // Change the stored goal; a retry still returns the original response.
    c.update_policy_goal(pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: first.name.clone(),
            title: "Changed".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let again = c.create_policy_goal(req.clone()).await.unwrap();
    assert_eq!(again, first);
    // Same key, different request.
    let mut other = req.clone();
    other.policy_goal.as_mut().unwrap().title = "Different".into();
    assert_eq!(violations(c.create_policy_goal(other).await), ["request_id"]);

    // Many concurrent retries of one new request create exactly one goal and all agree.
    let mut req2 = create("concurrent", goal("Concurrent", pb::Pillar::TradeNationalInterest));
    req2.request_id = "concurrent-retry-key".into();
    let calls = (0..16).map(|_| {
        let c = c.clone();
        let r = req2.clone();
        tokio::spawn(async move { c.create_policy_goal(r).await })
    });
    let results: Vec<_> = futures::future::join_all(calls).await;
    let answers: HashSet<String> = results.into_iter().map(|r| r.unwrap().unwrap().etag).collect();
    assert_eq!(answers.len(), 1, "every caller got the same goal");
    let (count,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM change_log WHERE resource_name = 'policyGoals/concurrent'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    assert_eq!(count, 1, "created once");
}

#[tokio::test]
async fn etag_mismatch_is_aborted_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let g = c
        .create_policy_goal(create("e", goal("E", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let first = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: g.name.clone(),
                title: "E1".into(),
                etag: g.etag.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let stale = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: g.name.clone(),
                title: "E2".into(),
                etag: g.etag.clone(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    match stale {
        Err(e @ Error::Aborted { .. }) => assert_eq!(e.reason(), Some("ETAG_MISMATCH")),
        other => panic!("expected ABORTED, got {other:?}"),
    }
    for r in [
        c.delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: g.name.clone(),
            etag: g.etag.clone(),
            ..Default::default()
        })
        .await,
        c.change_policy_goal_state(pb::ChangePolicyGoalStateRequest {
            name: g.name.clone(),
            state: pb::policy_goal::State::Active.into(),
            etag: "\"bogus\"".into(),
            ..Default::default()
        })
        .await,
    ] {
        assert!(matches!(r, Err(Error::Aborted { .. })), "{r:?}");
    }
    assert_eq!(c.get_policy_goal(&g.name).await.unwrap(), first);
}

#[tokio::test]
async fn concurrent_updates_with_one_etag_exactly_one_wins() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let g = c
        .create_policy_goal(create("race", goal("Race", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let calls = (0..32).map(|i| {
        let c = c.clone();
        let g = g.clone();
        tokio::spawn(async move {
            c.update_policy_goal(pb::UpdatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    name: g.name.clone(),
                    title: format!("Race {i}"),
                    etag: g.etag.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
        })
    });
    let results: Vec<_> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let ok = results.iter().filter(|r| r.is_ok()).count();
    let aborted = results
        .iter()
        .filter(|r| matches!(r, Err(Error::Aborted { .. })))
        .count();
    assert_eq!((ok, aborted), (1, 31));
    assert_eq!(c.get_policy_goal(&g.name).await.unwrap().revision, 2);
}

#[tokio::test]
async fn update_mask_semantics() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut g = goal("Mask", pb::Pillar::IndustrialResurgence);
    g.description = "keep me".into();
    g.labels.insert("a".into(), "1".into());
    g.labels.insert("b".into(), "2".into());
    let g = c.create_policy_goal(create("mask", g)).await.unwrap();
    let update =
        |m: Option<registry_client::prost_types::FieldMask>, goal: pb::PolicyGoal| pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/mask".into(),
                ..goal
            }),
            update_mask: m,
            ..Default::default()
        };

    // Unknown, output-only and custom-method paths are rejected, all reported.
    let fields = violations(
        c.update_policy_goal(update(mask(&["bogus", "create_time", "state"]), Default::default()))
            .await,
    );
    assert_eq!(
        fields,
        ["update_mask.paths[0]", "update_mask.paths[1]", "update_mask.paths[2]"]
    );

    // Omitted mask: only populated fields change.
    let u = c
        .update_policy_goal(update(
            None,
            pb::PolicyGoal {
                title: "Mask 2".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!((u.title.as_str(), u.description.as_str()), ("Mask 2", "keep me"));

    // labels.<key>: set one key, remove another.
    let mut labels = std::collections::HashMap::new();
    labels.insert("c".to_owned(), "3".to_owned());
    let u = c
        .update_policy_goal(update(
            mask(&["labels.c", "labels.a"]),
            pb::PolicyGoal {
                labels,
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    let mut keys: Vec<_> = u.labels.keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["b", "c"]);

    // `*` replaces every writable field: unset ones are cleared, and the result must be valid.
    let fields = violations(c.update_policy_goal(update(mask(&["*"]), Default::default())).await);
    assert!(fields.contains(&"policy_goal.title".to_owned()), "{fields:?}");
    let u = c
        .update_policy_goal(update(
            mask(&["*"]),
            pb::PolicyGoal {
                title: "Replaced".into(),
                pillar: pb::Pillar::SustainableGrowthPartnership.into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(u.description, "");
    assert!(u.labels.is_empty());
    assert_eq!(u.pillar, pb::Pillar::SustainableGrowthPartnership as i32);

    // A no-op update creates no new revision.
    let same = c
        .update_policy_goal(update(
            mask(&["title"]),
            pb::PolicyGoal {
                title: "Replaced".into(),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    assert_eq!(same.revision, u.revision);
    assert_eq!(g.revision, 1);

    // allow_missing creates.
    let created = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/upserted".into(),
                ..goal("Upserted", pb::Pillar::IndustrialResurgence)
            }),
            allow_missing: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(created.revision, 1);
    assert!(matches!(
        c.update_policy_goal(update(None, goal("x", pb::Pillar::IndustrialResurgence)).clone())
            .await
            .map(|g| g.title),
        Ok(t) if t == "x"
    ));
    assert!(matches!(
        c.update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/nope".into(),
                title: "Nope".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn soft_delete_and_undelete() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("d", goal("D", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    c.create_policy_goal(create("live", goal("Live", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let del = |name: &str| pb::DeletePolicyGoalRequest {
        name: name.into(),
        ..Default::default()
    };
    c.delete_policy_goal(del("policyGoals/d")).await.unwrap();
    // Get still returns it; List hides it unless show_deleted.
    assert!(c.get_policy_goal("policyGoals/d").await.unwrap().delete_time.is_some());
    let live: Vec<_> = c.list_policy_goals(Default::default()).try_collect().await.unwrap();
    assert_eq!(
        live.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["policyGoals/live"]
    );
    let all: Vec<_> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            show_deleted: true,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    // The name stays taken; updates are refused; a second delete is refused.
    assert!(matches!(
        c.create_policy_goal(create("d", goal("D", pb::Pillar::IndustrialResurgence)))
            .await,
        Err(Error::AlreadyExists { .. })
    ));
    assert!(matches!(
        c.delete_policy_goal(del("policyGoals/d")).await,
        Err(Error::FailedPrecondition { .. })
    ));
    assert!(matches!(
        c.delete_policy_goal(del("policyGoals/never")).await,
        Err(Error::NotFound { .. })
    ));
    let missing_ok = c
        .delete_policy_goal(pb::DeletePolicyGoalRequest {
            allow_missing: true,
            ..del("policyGoals/never")
        })
        .await
        .unwrap();
    assert_eq!(missing_ok.name, "");
    let undel = |name: &str| pb::UndeletePolicyGoalRequest {
        name: name.into(),
        ..Default::default()
    };
    assert!(matches!(
        c.undelete_policy_goal(undel("policyGoals/live")).await,
        Err(Error::AlreadyExists { .. })
    ));
    c.undelete_policy_goal(undel("policyGoals/d")).await.unwrap();
    let kinds: Vec<(String, String)> = sqlx::query_as(
        "SELECT change_kind, actor FROM change_log WHERE resource_name = 'policyGoals/d' ORDER BY sequence",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    let kinds: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["CREATED", "DELETED", "UNDELETED"]);
}

#[tokio::test]
async fn parent_child_rules() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("pillar-a", goal("Pillar A", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    c.create_policy_goal(create("pillar-b", goal("Pillar B", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    let child = |title: &str, parent: &str| pb::PolicyGoal {
        title: title.into(),
        parent: parent.into(),
        ..Default::default()
    };
    // A missing parent is refused.
    match c
        .create_policy_goal(create("orphan", child("Orphan", "policyGoals/nope")))
        .await
    {
        Err(e @ Error::FailedPrecondition { .. }) => assert_eq!(e.reason(), Some("PARENT_NOT_FOUND")),
        other => panic!("{other:?}"),
    }
    // A child inherits the pillar; a contradicting pillar is refused.
    let g = c
        .create_policy_goal(create("goal", child("Goal", "policyGoals/pillar-a")))
        .await
        .unwrap();
    assert_eq!(g.pillar, pb::Pillar::IndustrialResurgence as i32);
    assert_eq!(g.ancestors, ["policyGoals/pillar-a"]);
    let mut wrong = child("Wrong", "policyGoals/pillar-a");
    wrong.pillar = pb::Pillar::TradeNationalInterest.into();
    assert_eq!(
        violations(c.create_policy_goal(create("wrong", wrong)).await),
        ["policy_goal.pillar"]
    );
    let init = c
        .create_policy_goal(create("initiative", child("Initiative", "policyGoals/goal")))
        .await
        .unwrap();
    assert_eq!(init.ancestors, ["policyGoals/pillar-a", "policyGoals/goal"]);

    // Cycles are refused: a goal under itself or under its own descendant.
    for parent in ["policyGoals/goal", "policyGoals/initiative"] {
        let r = c
            .update_policy_goal(pb::UpdatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    name: "policyGoals/goal".into(),
                    parent: parent.into(),
                    ..Default::default()
                }),
                update_mask: mask(&["parent"]),
                ..Default::default()
            })
            .await;
        match r {
            Err(e @ Error::FailedPrecondition { .. }) => assert_eq!(e.reason(), Some("PARENT_CYCLE")),
            other => panic!("{parent}: {other:?}"),
        }
    }

    // Moving a subtree re-parents descendants and carries the new pillar down.
    let moved = c
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/goal".into(),
                parent: "policyGoals/pillar-b".into(),
                ..Default::default()
            }),
            update_mask: mask(&["parent"]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(moved.pillar, pb::Pillar::TradeNationalInterest as i32);
    let init = c.get_policy_goal("policyGoals/initiative").await.unwrap();
    assert_eq!(init.ancestors, ["policyGoals/pillar-b", "policyGoals/goal"]);
    assert_eq!(init.pillar, pb::Pillar::TradeNationalInterest as i32);

    // Deleting a goal with live children needs force, which cascades.
    let del = |force| pb::DeletePolicyGoalRequest {
        name: "policyGoals/pillar-b".into(),
        force,
        ..Default::default()
    };
    match c.delete_policy_goal(del(false)).await {
        Err(e @ Error::FailedPrecondition { .. }) => assert_eq!(e.reason(), Some("HAS_LIVE_CHILDREN")),
        other => panic!("{other:?}"),
    }
    c.delete_policy_goal(del(true)).await.unwrap();
    for name in ["policyGoals/goal", "policyGoals/initiative"] {
        assert!(c.get_policy_goal(name).await.unwrap().delete_time.is_some(), "{name}");
    }
    // A child cannot be created under, or undeleted beneath, a deleted parent.
    assert!(matches!(
        c.create_policy_goal(create("late", child("Late", "policyGoals/pillar-b")))
            .await,
        Err(Error::FailedPrecondition { .. })
    ));
    assert!(matches!(
        c.undelete_policy_goal(pb::UndeletePolicyGoalRequest {
            name: "policyGoals/goal".into(),
            ..Default::default()
        })
        .await,
        Err(Error::FailedPrecondition { .. })
    ));
}

#[tokio::test]
async fn concurrent_child_creation_and_parent_deletion_leave_no_live_orphan() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for round in 0..10 {
        let parent = format!("p{round}");
        c.create_policy_goal(create(&parent, goal("P", pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
        let creates = (0..4).map(|i| {
            let c = c.clone();
            let parent = parent.clone();
            tokio::spawn(async move {
                c.create_policy_goal(create(
                    &format!("{parent}-c{i}"),
                    pb::PolicyGoal {
                        title: "C".into(),
                        parent: format!("policyGoals/{parent}"),
                        ..Default::default()
                    },
                ))
                .await
            })
        });
        let delete = {
            let c = c.clone();
            let parent = parent.clone();
            tokio::spawn(async move {
                c.delete_policy_goal(pb::DeletePolicyGoalRequest {
                    name: format!("policyGoals/{parent}"),
                    ..Default::default()
                })
                .await
            })
        };
        let _ = futures::future::join_all(creates).await;
        let _ = delete.await.unwrap();
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

#[tokio::test]
async fn lifecycle_transitions() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("life", goal("Life", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    use pb::policy_goal::{Outcome, State};
    let change = |state: State, outcome: Outcome| pb::ChangePolicyGoalStateRequest {
        name: "policyGoals/life".into(),
        state: state.into(),
        outcome: outcome.into(),
        ..Default::default()
    };
    assert_eq!(
        violations(
            c.change_policy_goal_state(change(State::Closed, Outcome::Unspecified))
                .await
        ),
        ["outcome"]
    );
    assert_eq!(
        violations(
            c.change_policy_goal_state(change(State::Active, Outcome::Achieved))
                .await
        ),
        ["outcome"]
    );
    // Created without a state: not stated (UNSPECIFIED, and `state = UNSPECIFIED` finds it);
    // a state cannot be set back to "not stated".
    let listed = |filter: &'static str| async move {
        c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .policy_goals
        .len()
    };
    assert_eq!(listed("state = UNSPECIFIED").await, 1);
    assert_eq!(
        violations(
            c.change_policy_goal_state(change(State::Unspecified, Outcome::Unspecified))
                .await
        ),
        ["state"]
    );
    let g = c
        .change_policy_goal_state(change(State::Active, Outcome::Unspecified))
        .await
        .unwrap();
    assert_eq!(g.state, State::Active as i32);
    assert_eq!(listed("state = UNSPECIFIED").await, 0);
    let g = c
        .change_policy_goal_state(change(State::Closed, Outcome::Partial))
        .await
        .unwrap();
    assert_eq!((g.state, g.outcome), (State::Closed as i32, Outcome::Partial as i32));
    match c
        .change_policy_goal_state(change(State::Planned, Outcome::Unspecified))
        .await
    {
        Err(e @ Error::FailedPrecondition { .. }) => assert_eq!(e.reason(), Some("INVALID_STATE_TRANSITION")),
        other => panic!("{other:?}"),
    }
    let g = c
        .change_policy_goal_state(change(State::Active, Outcome::Unspecified))
        .await
        .unwrap();
    assert_eq!(
        (g.state, g.outcome),
        (State::Active as i32, 0),
        "reopening clears the outcome"
    );
}

#[tokio::test]
async fn batch_get_is_ordered_and_all_or_nothing() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for id in ["b1", "b2", "b3"] {
        c.create_policy_goal(create(id, goal(id, pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
    }
    let got = c
        .batch_get_policy_goals(["policyGoals/b3", "policyGoals/b1", "policyGoals/b3"])
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["policyGoals/b3", "policyGoals/b1", "policyGoals/b3"]
    );
    assert!(matches!(
        c.batch_get_policy_goals(["policyGoals/b1", "policyGoals/zz"]).await,
        Err(Error::NotFound { resource_name: Some(n), .. }) if n == "policyGoals/zz"
    ));
    assert_eq!(
        violations(c.batch_get_policy_goals(Vec::<String>::new()).await),
        ["names"]
    );
    assert_eq!(
        violations(c.batch_get_policy_goals(["policyGoals/b1", "bad"]).await),
        ["names[1]"]
    );
    // allow_missing leaves the missing ones out and keeps the order of the others;
    // soft-deleted goals are returned (with delete_time).
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/b2".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let got = c
        .batch_get_existing_policy_goals(["policyGoals/zz", "policyGoals/b3", "policyGoals/yy", "policyGoals/b2"])
        .await
        .unwrap();
    assert_eq!(
        got.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        ["policyGoals/b3", "policyGoals/b2"]
    );
    assert!(got[1].delete_time.is_some());
    assert!(
        c.batch_get_existing_policy_goals(["policyGoals/zz"])
            .await
            .unwrap()
            .is_empty()
    );
}

fn batch(creates: Vec<pb::CreatePolicyGoalRequest>) -> pb::BatchCreatePolicyGoalsRequest {
    pb::BatchCreatePolicyGoalsRequest {
        requests: creates,
        ..Default::default()
    }
}

fn child(id: &str, parent: &str) -> pb::CreatePolicyGoalRequest {
    let mut g = goal(id, pb::Pillar::Unspecified);
    g.parent = format!("policyGoals/{parent}");
    create(id, g)
}

async fn goal_count(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM policy_goals")
        .fetch_one(app.pool())
        .await
        .unwrap()
}

async fn goal_changes(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM change_log WHERE resource_name LIKE 'policyGoals/%'")
        .fetch_one(app.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn batch_create_is_ordered_atomic_and_idempotent() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("old", goal("Old", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    // Parents earlier in the batch, and a parent that already exists.
    let req = pb::BatchCreatePolicyGoalsRequest {
        request_id: "batch-1".into(),
        ..batch(vec![
            create("root", goal("Root", pb::Pillar::IndustrialResurgence)),
            child("kid", "root"),
            child("grandkid", "kid"),
            child("under-old", "old"),
        ])
    };
    let created = c.batch_create_policy_goals(req.clone()).await.unwrap();
    assert_eq!(
        created.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
        [
            "policyGoals/root",
            "policyGoals/kid",
            "policyGoals/grandkid",
            "policyGoals/under-old"
        ]
    );
    let grandkid = c.get_policy_goal("policyGoals/grandkid").await.unwrap();
    assert_eq!(grandkid.pillar, i32::from(pb::Pillar::IndustrialResurgence));
    assert_eq!(grandkid.parent, "policyGoals/kid");
    assert_eq!(created[3].pillar, i32::from(pb::Pillar::TradeNationalInterest));
    assert_eq!(goal_count(&app).await, 5);
    assert_eq!(goal_changes(&app).await, 5, "one change record per goal");
    // A retry with the same request id answers the same and creates nothing.
    let again = c.batch_create_policy_goals(req).await.unwrap();
    assert_eq!(
        again.iter().map(|g| &g.etag).collect::<Vec<_>>(),
        created.iter().map(|g| &g.etag).collect::<Vec<_>>()
    );
    assert_eq!(goal_changes(&app).await, 5);

    // validate_only stores nothing (a parent in the batch validates).
    let checked = c
        .batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            validate_only: true,
            ..batch(vec![
                create("v1", goal("V1", pb::Pillar::IndustrialResurgence)),
                child("v2", "v1"),
            ])
        })
        .await
        .unwrap();
    assert_eq!(checked.len(), 2);
    assert!(matches!(
        c.get_policy_goal("policyGoals/v1").await,
        Err(Error::NotFound { .. })
    ));

    // All or nothing: each failure names the create, and nothing of the batch is stored.
    let mut bad = goal("", pb::Pillar::IndustrialResurgence);
    bad.title.clear();
    assert_eq!(
        violations(
            c.batch_create_policy_goals(batch(vec![
                create("n1", goal("N1", pb::Pillar::IndustrialResurgence)),
                create("n2", bad),
            ]))
            .await
        ),
        ["requests[1].policy_goal.title"]
    );
    match c
        .batch_create_policy_goals(batch(vec![
            create("n1", goal("N1", pb::Pillar::IndustrialResurgence)),
            child("n2", "nowhere"),
        ]))
        .await
    {
        Err(Error::FailedPrecondition { reason, message }) => {
            assert_eq!(reason, "PARENT_NOT_FOUND");
            assert!(message.starts_with("requests[1]: "), "{message}");
        }
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
    assert!(matches!(
        c.batch_create_policy_goals(batch(vec![
            create("n1", goal("N1", pb::Pillar::IndustrialResurgence)),
            create("kid", goal("Kid again", pb::Pillar::IndustrialResurgence)),
        ]))
        .await,
        Err(Error::AlreadyExists { resource_name: Some(n), .. }) if n == "policyGoals/kid"
    ));
    assert_eq!(
        violations(
            c.batch_create_policy_goals(batch(vec![
                create("n1", goal("N1", pb::Pillar::IndustrialResurgence)),
                create("n1", goal("N1 again", pb::Pillar::IndustrialResurgence)),
                pb::CreatePolicyGoalRequest {
                    request_id: "own".into(),
                    validate_only: true,
                    ..create("n3", goal("N3", pb::Pillar::IndustrialResurgence))
                },
            ]))
            .await
        ),
        [
            "requests[1].policy_goal_id",
            "requests[2].request_id",
            "requests[2].validate_only"
        ]
    );
    assert_eq!(
        violations(c.batch_create_policy_goals(batch(vec![])).await),
        ["requests"]
    );
    let too_many = (0..1001)
        .map(|i| create(&format!("m{i}"), goal("M", pb::Pillar::IndustrialResurgence)))
        .collect();
    assert_eq!(
        violations(c.batch_create_policy_goals(batch(too_many)).await),
        ["requests"]
    );
    assert_eq!(goal_count(&app).await, 5, "failed batches store nothing");
    assert_eq!(goal_changes(&app).await, 5, "failed batches leave no change record");
}

/// `validate_only` of a batch create checks ids, parents and references with reads instead of
/// inserting and rolling back: every case the INSERT used to catch answers exactly as the
/// real create does, and a validation writes nothing (no goal, link or change record).
#[tokio::test]
async fn validate_only_batch_create_answers_like_the_create() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create("old", goal("Old", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    c.create_policy_goal(create("gone", goal("Gone", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/gone".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for id in ["us", "jp"] {
        c.create_trade_partner(registry_e2e::create_partner(
            id,
            registry_e2e::partner(pb::trade_partner::Kind::Country, id),
        ))
        .await
        .unwrap();
    }
    c.delete_trade_partner(pb::DeleteTradePartnerRequest {
        name: "tradePartners/jp".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    for id in ["chips", "old-chips"] {
        c.create_product_set(pb::CreateProductSetRequest {
            product_set_id: id.into(),
            product_set: Some(pb::ProductSet {
                display_name: id.into(),
                products: vec!["854231".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    c.delete_product_set(pb::DeleteProductSetRequest {
        name: "productSets/old-chips".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let written = || async {
        let links: i64 = sqlx::query_scalar("SELECT count(*) FROM goal_partner_links")
            .fetch_one(app.pool())
            .await
            .unwrap();
        (goal_count(&app).await, goal_changes(&app).await, links)
    };
    let before = written().await;
    let root = |id: &str| create(id, goal(id, pb::Pillar::IndustrialResurgence));
    let with = |id: &str, f: fn(&mut pb::PolicyGoal)| {
        let mut g = goal(id, pb::Pillar::IndustrialResurgence);
        f(&mut g);
        create(id, g)
    };
    let cases: Vec<(&str, Vec<pb::CreatePolicyGoalRequest>)> = vec![
        ("id already stored", vec![root("n1"), root("old")]),
        ("id of a deleted goal", vec![root("n1"), root("gone")]),
        ("duplicate id in the batch", vec![root("n1"), root("n1")]),
        ("missing parent", vec![root("n1"), child("n2", "nowhere")]),
        ("parent later in the batch", vec![child("n2", "n3"), root("n3")]),
        ("deleted parent", vec![root("n1"), child("n2", "gone")]),
        ("own parent", vec![child("n1", "n1")]),
        (
            "pillar other than the parent's",
            vec![with("n1", |g| {
                g.parent = "policyGoals/old".into();
            })],
        ),
        (
            "missing linked partner",
            vec![
                root("n1"),
                with("n2", |g| {
                    g.linked_partners = vec!["tradePartners/us".into(), "tradePartners/nowhere".into()];
                }),
            ],
        ),
        (
            "deleted linked partner",
            vec![with("n1", |g| {
                g.linked_partners = vec!["tradePartners/jp".into()];
            })],
        ),
        (
            "missing product set",
            vec![with("n1", |g| {
                g.product_sets = vec!["productSets/nowhere".into()];
            })],
        ),
        (
            "deleted product set",
            vec![with("n1", |g| {
                g.product_sets = vec!["productSets/old-chips".into()];
            })],
        ),
        (
            "contribution to a missing goal",
            vec![with("n1", |g| {
                g.contributes_to = vec!["policyGoals/nowhere".into()];
            })],
        ),
        (
            "contribution to a deleted goal",
            vec![with("n1", |g| {
                g.contributes_to = vec!["policyGoals/gone".into()];
            })],
        ),
        (
            "contribution to a goal later in the batch",
            vec![
                with("n1", |g| {
                    g.contributes_to = vec!["policyGoals/n2".into()];
                }),
                root("n2"),
            ],
        ),
        (
            "contribution to itself",
            vec![with("n1", |g| {
                g.contributes_to = vec!["policyGoals/n1".into()];
            })],
        ),
        // The first problem of the batch is the one answered, checked in the same order.
        (
            "missing partner before a stored id",
            vec![
                root("old"),
                with("n2", |g| {
                    g.linked_partners = vec!["tradePartners/nowhere".into()];
                }),
            ],
        ),
    ];
    for (case, creates) in cases {
        let checked = c
            .batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
                validate_only: true,
                ..batch(creates.clone())
            })
            .await;
        assert!(checked.is_err(), "{case}: validated {checked:?}");
        assert_eq!(written().await, before, "{case}: a validation wrote");
        let real = c.batch_create_policy_goals(batch(creates)).await;
        assert_eq!(format!("{checked:?}"), format!("{real:?}"), "{case}");
        assert_eq!(written().await, before, "{case}: a refused batch wrote");
    }

    // A valid batch: the validation answers the goals the create returns (but for the
    // create and update times and the etag), and writes nothing.
    let mut full = goal("Full", pb::Pillar::Unspecified);
    full.parent = "policyGoals/old".into();
    full.targets.push(ai_factories_target());
    full.linked_partners = vec!["tradePartners/us".into()];
    full.product_sets = vec!["productSets/chips".into()];
    full.contributes_to = vec!["policyGoals/v1".into(), "policyGoals/old".into()];
    full.labels.insert("team".into(), "ax".into());
    full.sectors = vec!["semiconductors".into()];
    full.state = pb::policy_goal::State::Active.into();
    let creates = vec![root("v1"), child("v2", "v1"), child("v3", "v2"), create("v4", full)];
    let strip = |goals: Vec<pb::PolicyGoal>| {
        goals
            .into_iter()
            .map(|g| pb::PolicyGoal {
                create_time: None,
                update_time: None,
                etag: String::new(),
                ..g
            })
            .collect::<Vec<_>>()
    };
    let checked = c
        .batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            validate_only: true,
            ..batch(creates.clone())
        })
        .await
        .unwrap();
    assert!(
        checked
            .iter()
            .all(|g| g.create_time.is_some() && g.create_time == g.update_time)
    );
    assert_eq!(written().await, before, "a validation wrote");
    let created = c.batch_create_policy_goals(batch(creates.clone())).await.unwrap();
    assert_eq!(strip(checked), strip(created.clone()));
    assert!(created[3].targets[0].progress.is_some());
    assert_eq!(created[2].ancestors, ["policyGoals/v1", "policyGoals/v2"]);
    // Now stored: the same validation is refused like the create.
    let again = c
        .batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            validate_only: true,
            ..batch(creates.clone())
        })
        .await;
    assert!(matches!(&again, Err(Error::AlreadyExists { resource_name: Some(n), .. }) if n == "policyGoals/v1"));
    assert_eq!(
        format!("{again:?}"),
        format!("{:?}", c.batch_create_policy_goals(batch(creates)).await)
    );

    // The single create's validation goes the same way.
    let mut one = create("old", goal("Old", pb::Pillar::TradeNationalInterest));
    one.validate_only = true;
    assert!(matches!(
        c.create_policy_goal(one).await,
        Err(Error::AlreadyExists { .. })
    ));
    let mut one = child("n9", "gone");
    one.validate_only = true;
    assert_eq!(precondition(c.create_policy_goal(one).await), "PARENT_DELETED");
}

/// `description_ko` (added through the resource layer) is written on create, changed by a
/// masked update, found by `search`, kept in history, and checked like other long text.
#[tokio::test]
async fn korean_descriptions_of_goals_and_partners() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let created = c
        .create_policy_goal(create(
            "ax",
            pb::PolicyGoal {
                description_ko: "제조업 인공지능 전환".into(),
                ..goal("Manufacturing AX", pb::Pillar::IndustrialResurgence)
            },
        ))
        .await
        .unwrap();
    assert_eq!(created.description_ko, "제조업 인공지능 전환");
    let updated = c
        .update_policy_goal(masked(
            pb::PolicyGoal {
                name: created.name.clone(),
                description_ko: "AI 공장 500개".into(),
                title: "ignored: not in the mask".into(),
                ..Default::default()
            },
            &["description_ko"],
        ))
        .await
        .unwrap();
    assert_eq!(updated.description_ko, "AI 공장 500개");
    assert_eq!(updated.title, "Manufacturing AX");
    let found = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: "search:\"공장\"".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.policy_goals.len(), 1);
    assert_eq!(found.policy_goals[0].name, created.name);
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: created.name.clone(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let first = history[0].change_time.unwrap();
    let before = c.get_policy_goal_at(&created.name, first).await.unwrap();
    assert_eq!(before.description_ko, "제조업 인공지능 전환");
    let bad = c
        .update_policy_goal(masked(
            pb::PolicyGoal {
                name: created.name.clone(),
                description_ko: "nul\0byte".into(),
                ..Default::default()
            },
            &["description_ko"],
        ))
        .await;
    assert_eq!(violations(bad), ["policy_goal.description_ko"]);

    let partner = c
        .create_trade_partner(registry_e2e::create_partner(
            "jp",
            pb::TradePartner {
                description_ko: "일본".into(),
                ..registry_e2e::partner(pb::trade_partner::Kind::Country, "Japan")
            },
        ))
        .await
        .unwrap();
    assert_eq!(partner.description_ko, "일본");
    let partner = c
        .update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(pb::TradePartner {
                name: partner.name.clone(),
                description_ko: "일본국".into(),
                ..Default::default()
            }),
            update_mask: mask(&["description_ko"]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(partner.description_ko, "일본국");
    assert_eq!(partner.display_name, "Japan");
}

/// A rule across fields is not reported about the default that stands in for an invalid
/// value (an unknown pillar is not also "missing"; a malformed parent does not make the goal
/// a root that needs a pillar), and an update reports a stale etag before its field values.
#[tokio::test]
async fn violations_name_only_real_problems_and_conflicts_come_first() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let unknown_pillar = pb::PolicyGoal {
        pillar: 42,
        ..goal("A", pb::Pillar::Unspecified)
    };
    assert_eq!(
        violations(c.create_policy_goal(create("a", unknown_pillar)).await),
        ["policy_goal.pillar"]
    );
    let bad_parent = pb::PolicyGoal {
        parent: "policyGoals/Not A Slug".into(),
        ..goal("A", pb::Pillar::Unspecified)
    };
    assert_eq!(
        violations(c.create_policy_goal(create("a", bad_parent)).await),
        ["policy_goal.parent"]
    );
    // Still every real problem at once: a root goal without a pillar, and a bad title.
    let fields = violations(
        c.create_policy_goal(create("a", goal("", pb::Pillar::Unspecified)))
            .await,
    );
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert!(fields.contains(&"policy_goal.pillar".to_owned()) && fields.contains(&"policy_goal.title".to_owned()));

    let created = c
        .create_policy_goal(create("b", goal("B", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let stale_and_invalid = c
        .update_policy_goal(masked(
            pb::PolicyGoal {
                name: created.name.clone(),
                etag: "\"stale\"".into(),
                title: String::new(),
                ..Default::default()
            },
            &["title"],
        ))
        .await;
    assert!(
        matches!(stale_and_invalid, Err(Error::Aborted { .. })),
        "{stale_and_invalid:?}"
    );
    let missing_and_invalid = c
        .update_policy_goal(masked(
            pb::PolicyGoal {
                name: "policyGoals/nowhere".into(),
                title: String::new(),
                ..Default::default()
            },
            &["title"],
        ))
        .await;
    assert!(
        matches!(missing_and_invalid, Err(Error::NotFound { .. })),
        "{missing_and_invalid:?}"
    );

    let partner_without_kind = pb::TradePartner {
        kind: 0,
        members: vec!["tradePartners/us".into()],
        ..registry_e2e::partner(pb::trade_partner::Kind::EconomicBloc, "Bloc")
    };
    assert_eq!(
        violations(
            c.create_trade_partner(registry_e2e::create_partner("bloc", partner_without_kind))
                .await
        ),
        ["trade_partner.kind"]
    );
}

/// "Contributes to" links beside the tree, and contributing organisations beside the lead:
/// stored, filterable, checked (live goals, not itself), and kept consistent when a goal that
/// others contribute to is deleted.
#[tokio::test]
async fn contributions_link_goals_across_the_tree() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for id in ["regional", "industry"] {
        c.create_policy_goal(create(id, goal(id, pb::Pillar::SustainableGrowthPartnership)))
            .await
            .unwrap();
    }
    let mut re100 = goal("RE100 complexes", pb::Pillar::IndustrialResurgence);
    re100.contributing_organizations = vec!["inter-agency task force (TF)".into()];
    re100.contributes_to = vec!["policyGoals/regional".into(), "policyGoals/industry".into()];
    let created = c.create_policy_goal(create("re100", re100)).await.unwrap();
    assert_eq!(created.contributes_to, ["policyGoals/regional", "policyGoals/industry"]);
    assert_eq!(created.contributing_organizations, ["inter-agency task force (TF)"]);

    let ids = |filter: &'static str| async move {
        let goals: Vec<pb::PolicyGoal> = c
            .list_policy_goals(pb::ListPolicyGoalsRequest {
                filter: filter.into(),
                ..Default::default()
            })
            .try_collect()
            .await
            .unwrap();
        goals.into_iter().map(|g| g.name).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(r#"contributes_to:"policyGoals/regional""#).await,
        ["policyGoals/re100"]
    );
    assert_eq!(
        ids(r#"contributing_organizations:"inter-agency task force (TF)""#).await,
        ["policyGoals/re100"]
    );

    // Itself, a missing goal and a duplicate are refused; nothing changes.
    let mut selfish = goal("Selfish", pb::Pillar::IndustrialResurgence);
    selfish.contributes_to = vec!["policyGoals/selfish".into()];
    assert_eq!(
        violations(c.create_policy_goal(create("selfish", selfish)).await),
        ["policy_goal.contributes_to"]
    );
    let mut dangling = goal("Dangling", pb::Pillar::IndustrialResurgence);
    dangling.contributes_to = vec!["policyGoals/nope".into()];
    assert_eq!(
        precondition(c.create_policy_goal(create("dangling", dangling)).await),
        "GOAL_NOT_FOUND"
    );
    let mut twice = goal("Twice", pb::Pillar::IndustrialResurgence);
    twice.contributes_to = vec!["policyGoals/regional".into(), "policyGoals/regional".into()];
    assert_eq!(
        violations(c.create_policy_goal(create("twice", twice)).await),
        ["policy_goal.contributes_to[1]"]
    );

    // A goal others contribute to is not deleted without force; with force the link goes,
    // as a new revision of the contributing goal.
    let delete = |force: bool| pb::DeletePolicyGoalRequest {
        name: "policyGoals/regional".into(),
        force,
        ..Default::default()
    };
    assert_eq!(
        precondition(c.delete_policy_goal(delete(false)).await),
        "LINKED_BY_GOALS"
    );
    c.delete_policy_goal(delete(true)).await.unwrap();
    let after = c.get_policy_goal("policyGoals/re100").await.unwrap();
    assert_eq!(after.contributes_to, ["policyGoals/industry"]);
    assert_eq!(after.revision, created.revision + 1);
    assert!(ids(r#"contributes_to:"policyGoals/regional""#).await.is_empty());
}

/// Get and BatchGet answer a cached goal with the encoded answer the cache keeps next to it:
/// the same message as the write's answer, on the first read (which fills the cache) and on
/// later ones (from the cache), and a new one after a change.
#[tokio::test]
async fn cached_answers_are_the_goal_as_written() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut g = goal("Cached", pb::Pillar::IndustrialResurgence);
    g.sectors = vec!["semiconductors".into(), "automotive".into()];
    g.targets = vec![ai_factories_target()];
    g.labels = [("team", "ax"), ("owner", "motie"), ("phase", "one")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let created = c.create_policy_goal(create("cached", g)).await.unwrap();
    c.create_policy_goal(create("other", goal("Other", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(c.get_policy_goal("policyGoals/cached").await.unwrap(), created);
        let got = c
            .batch_get_policy_goals(["policyGoals/cached", "policyGoals/other", "policyGoals/cached"])
            .await
            .unwrap();
        assert_eq!(got[0], created);
        assert_eq!(got[2], created);
        assert_eq!(got[1].name, "policyGoals/other");
    }
    let updated = c
        .update_policy_goal(masked(
            pb::PolicyGoal {
                name: "policyGoals/cached".into(),
                title: "Cached, renamed".into(),
                etag: created.etag.clone(),
                ..Default::default()
            },
            &["title"],
        ))
        .await
        .unwrap();
    assert_ne!(updated, created);
    for _ in 0..2 {
        assert_eq!(c.get_policy_goal("policyGoals/cached").await.unwrap(), updated);
        assert_eq!(
            c.batch_get_policy_goals(["policyGoals/cached"]).await.unwrap(),
            std::slice::from_ref(&updated)
        );
    }
}
