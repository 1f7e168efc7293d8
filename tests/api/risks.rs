//! RiskRegisterService end to end through registry-client: one risk recorded once and linked
//! to the goals and partners it threatens, with the standard methods of every resource.

use futures::TryStreamExt;
use pb::risk_entry::State;
use registry_e2e::{Error, TestApp, create, create_partner, goal, partner, pb, precondition, violations};

fn risk(title: &str, category: pb::RiskCategory) -> pb::RiskEntry {
    pb::RiskEntry {
        title: title.to_owned(),
        category: category.into(),
        ..Default::default()
    }
}

fn create_risk(id: &str, risk: pb::RiskEntry) -> pb::CreateRiskEntryRequest {
    pb::CreateRiskEntryRequest {
        risk_id: id.to_owned(),
        risk: Some(risk),
        ..Default::default()
    }
}

fn names(rs: &[pb::RiskEntry]) -> Vec<&str> {
    rs.iter().map(|r| r.name.as_str()).collect()
}

/// A goal `manufacturing` and the partners `us` and `cn`.
async fn world(app: &TestApp) {
    let c = &app.client;
    c.create_policy_goal(create(
        "manufacturing",
        goal("Manufacturing AX", pb::Pillar::IndustrialResurgence),
    ))
    .await
    .unwrap();
    for (id, name) in [("us", "United States"), ("cn", "China")] {
        c.create_trade_partner(create_partner(id, partner(pb::trade_partner::Kind::Country, name)))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_risk_is_one_record_linked_to_live_goals_and_partners() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    world(&app).await;

    let created = c
        .create_risk_entry(create_risk(
            "us-protectionism",
            pb::RiskEntry {
                description: "Protectionism and the prioritisation of national interest".into(),
                likelihood: 4,
                goals: vec!["policyGoals/manufacturing".into()],
                partners: vec!["tradePartners/us".into()],
                ..risk("US protectionism", pb::RiskCategory::Protectionism)
            },
        ))
        .await
        .unwrap();
    assert_eq!(created.name, "risks/us-protectionism");
    assert_eq!((created.revision, created.likelihood, created.impact), (1, 4, 0));
    assert_eq!(created.state, 0, "a state the request does not give stays unspecified");
    assert!(!created.etag.is_empty());
    assert_eq!(c.get_risk_entry("risks/us-protectionism").await.unwrap(), created);

    // Every invalid field at once; nothing stored.
    let bad = pb::RiskEntry {
        likelihood: 6,
        impact: -1,
        state: 9,
        goals: vec!["tradePartners/us".into()],
        ..Default::default()
    };
    let mut got = violations(c.create_risk_entry(create_risk("bad", bad)).await);
    got.sort();
    assert_eq!(
        got,
        [
            "risk.category",
            "risk.goals[0]",
            "risk.impact",
            "risk.likelihood",
            "risk.state",
            "risk.title"
        ]
    );
    // Links must be to existing, live goals and partners.
    assert_eq!(
        precondition(
            c.create_risk_entry(create_risk(
                "minerals",
                pb::RiskEntry {
                    partners: vec!["tradePartners/jp".into()],
                    ..risk("Minerals", pb::RiskCategory::CriticalMineralConcentration)
                },
            ))
            .await
        ),
        "PARTNER_NOT_FOUND"
    );
    assert!(matches!(
        c.get_risk_entry("risks/minerals").await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        c.create_risk_entry(create_risk("us-protectionism", risk("Again", pb::RiskCategory::Other)))
            .await,
        Err(Error::AlreadyExists { .. })
    ));

    // Update with a mask and an etag; a stale etag is ABORTED.
    let updated = c
        .update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: created.name.clone(),
                etag: created.etag.clone(),
                state: State::Open.into(),
                partners: vec!["tradePartners/us".into(), "tradePartners/cn".into()],
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["state".into(), "partners".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.revision, 2);
    assert_eq!(updated.state, State::Open as i32);
    assert_eq!(updated.partners, ["tradePartners/us", "tradePartners/cn"]);
    assert_eq!(updated.title, "US protectionism", "unmasked fields are kept");
    assert!(matches!(
        c.update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: created.name.clone(),
                etag: created.etag.clone(),
                impact: 5,
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["impact".into()],
            }),
            ..Default::default()
        })
        .await,
        Err(Error::Aborted { .. })
    ));

    // Soft delete and undelete; the change feed has every revision with its snapshot, and
    // read_time shows the risk as it was.
    let deleted = c
        .delete_risk_entry(pb::DeleteRiskEntryRequest {
            name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(deleted.delete_time.is_some());
    let listed: Vec<pb::RiskEntry> = c
        .list_risk_entries(pb::ListRiskEntriesRequest::default())
        .try_collect()
        .await
        .unwrap();
    assert!(listed.is_empty(), "a deleted risk is not listed");
    let restored = c
        .undelete_risk_entry(pb::UndeleteRiskEntryRequest {
            name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((restored.revision, restored.delete_time), (4, None));
    let changes = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes;
    assert_eq!(changes.len(), 4);
    assert!(matches!(
        &changes[1].snapshot,
        Some(pb::change::Snapshot::Risk(r)) if r.state == State::Open as i32
    ));
    let at_create = c
        .get_risk_entry_at(created.name.clone(), changes[0].change_time.unwrap())
        .await
        .unwrap();
    assert_eq!((at_create.revision, at_create.state), (1, 0));
}

#[tokio::test]
async fn risks_filter_order_and_batch_get() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    world(&app).await;
    for (id, title, category, likelihood, partners) in [
        (
            "us-protectionism",
            "US protectionism",
            pb::RiskCategory::Protectionism,
            4,
            vec!["us"],
        ),
        (
            "minerals",
            "China's monopoly on key minerals",
            pb::RiskCategory::CriticalMineralConcentration,
            3,
            vec!["cn"],
        ),
        (
            "population",
            "Population decline",
            pb::RiskCategory::PopulationDecline,
            0,
            vec![],
        ),
    ] {
        c.create_risk_entry(create_risk(
            id,
            pb::RiskEntry {
                likelihood,
                partners: partners.iter().map(|p| format!("tradePartners/{p}")).collect(),
                ..risk(title, category)
            },
        ))
        .await
        .unwrap();
    }
    let list = |filter: &str, order_by: &str| {
        c.list_risk_entries(pb::ListRiskEntriesRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            page_size: 1,
            ..Default::default()
        })
        .try_collect::<Vec<_>>()
    };
    assert_eq!(
        names(&list("", "likelihood desc").await.unwrap()),
        ["risks/us-protectionism", "risks/minerals", "risks/population"]
    );
    assert_eq!(
        names(&list("partners:\"tradePartners/cn\"", "").await.unwrap()),
        ["risks/minerals"]
    );
    assert_eq!(
        names(
            &list("category = POPULATION_DECLINE OR likelihood >= 4", "title")
                .await
                .unwrap()
        ),
        ["risks/population", "risks/us-protectionism"]
    );
    assert_eq!(
        names(&list("search:\"minerals\"", "").await.unwrap()),
        ["risks/minerals"]
    );
    assert_eq!(violations(list("severity = HIGH", "").await), ["filter"]);
    let got = c
        .batch_get_risk_entries(pb::BatchGetRiskEntriesRequest {
            names: vec!["risks/population".into(), "risks/nope".into(), "risks/minerals".into()],
            allow_missing: true,
        })
        .await
        .unwrap();
    assert_eq!(names(&got), ["risks/population", "risks/minerals"]);
    assert!(matches!(
        c.batch_get_risk_entries(pb::BatchGetRiskEntriesRequest {
            names: vec!["risks/nope".into()],
            allow_missing: false,
        })
        .await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn goals_and_partners_list_their_risks_and_filter_by_them() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    world(&app).await;
    c.create_policy_goal(create("exports", goal("Exports", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    c.create_risk_entry(create_risk(
        "us-protectionism",
        pb::RiskEntry {
            goals: vec!["policyGoals/manufacturing".into(), "policyGoals/exports".into()],
            partners: vec!["tradePartners/us".into()],
            ..risk("US protectionism", pb::RiskCategory::Protectionism)
        },
    ))
    .await
    .unwrap();
    c.create_risk_entry(create_risk(
        "minerals",
        pb::RiskEntry {
            goals: vec!["policyGoals/manufacturing".into()],
            partners: vec!["tradePartners/cn".into()],
            ..risk("Minerals", pb::RiskCategory::CriticalMineralConcentration)
        },
    ))
    .await
    .unwrap();

    let g = c.get_policy_goal("policyGoals/manufacturing").await.unwrap();
    assert_eq!(g.risk_register, ["risks/minerals", "risks/us-protectionism"]);
    let us = c.get_trade_partner("tradePartners/us").await.unwrap();
    assert_eq!(us.risk_register, ["risks/us-protectionism"]);

    let goals = |filter: &str| {
        c.list_policy_goals(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            ..Default::default()
        })
        .try_collect::<Vec<_>>()
    };
    let goal_names = |gs: Vec<pb::PolicyGoal>| gs.into_iter().map(|g| g.name).collect::<Vec<_>>();
    assert_eq!(
        goal_names(goals("risks:\"risks/us-protectionism\"").await.unwrap()),
        ["policyGoals/exports", "policyGoals/manufacturing"]
    );
    assert_eq!(
        goal_names(goals("risks:\"risks/minerals\"").await.unwrap()),
        ["policyGoals/manufacturing"]
    );
    assert_eq!(
        goal_names(goals("NOT risks:\"risks/minerals\"").await.unwrap()),
        ["policyGoals/exports"]
    );
    assert_eq!(violations(goals("risks:\"policyGoals/x\"").await), ["filter"]);
    let partners: Vec<pb::TradePartner> = c
        .list_trade_partners(pb::ListTradePartnersRequest {
            filter: "risks:\"risks/minerals\"".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(partners.len(), 1);
    assert_eq!(partners[0].name, "tradePartners/cn");

    // A deleted risk no longer counts.
    c.delete_risk_entry(pb::DeleteRiskEntryRequest {
        name: "risks/minerals".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(goals("risks:\"risks/minerals\"").await.unwrap().is_empty());
    let g = c.get_policy_goal("policyGoals/manufacturing").await.unwrap();
    assert_eq!(g.risk_register, ["risks/us-protectionism"]);
}

#[tokio::test]
async fn deleting_a_linked_goal_or_partner_needs_force_which_unlinks_it() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    world(&app).await;
    let created = c
        .create_risk_entry(create_risk(
            "us-protectionism",
            pb::RiskEntry {
                goals: vec!["policyGoals/manufacturing".into()],
                partners: vec!["tradePartners/us".into(), "tradePartners/cn".into()],
                ..risk("US protectionism", pb::RiskCategory::Protectionism)
            },
        ))
        .await
        .unwrap();
    let delete_goal = |force| {
        c.delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: "policyGoals/manufacturing".into(),
            force,
            ..Default::default()
        })
    };
    assert_eq!(precondition(delete_goal(false).await), "LINKED_BY_RISKS");
    let delete_us = |force| {
        c.delete_trade_partner(pb::DeleteTradePartnerRequest {
            name: "tradePartners/us".into(),
            force,
            ..Default::default()
        })
    };
    assert_eq!(precondition(delete_us(false).await), "LINKED_BY_RISKS");
    // Refused: nothing changed.
    assert_eq!(c.get_risk_entry("risks/us-protectionism").await.unwrap(), created);

    delete_goal(true).await.unwrap();
    let r = c.get_risk_entry("risks/us-protectionism").await.unwrap();
    assert!(r.goals.is_empty());
    assert_eq!(r.revision, 2);
    delete_us(true).await.unwrap();
    let r = c.get_risk_entry("risks/us-protectionism").await.unwrap();
    assert_eq!(
        (r.partners.as_slice(), r.revision),
        (["tradePartners/cn".to_owned()].as_slice(), 3)
    );
    let masks: Vec<Vec<String>> = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: r.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes
        .into_iter()
        .map(|ch| ch.update_mask.map(|m| m.paths).unwrap_or_default())
        .collect();
    assert_eq!(masks, [vec![], vec!["goals".to_owned()], vec!["partners".to_owned()]]);
    // Nor can a risk link the deleted goal again.
    let relink = c
        .update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: r.name.clone(),
                goals: vec!["policyGoals/manufacturing".into()],
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["goals".into()],
            }),
            ..Default::default()
        })
        .await;
    assert_eq!(precondition(relink), "GOAL_DELETED");
}
