//! Dependencies feed the rest: risks and goals link product sets, and a goal (directly or
//! through its risks) and a partner (through its risks) show the dependent products behind
//! them; the analysis reads the figures as stored at a `read_time`. The trade data is the
//! generated BACI file of `dependencies`, and what is dependent is computed here from it.

use futures::TryStreamExt;
use registry_client::{
    prost_types::FieldMask,
    trade_files::{self, Format},
};
use registry_e2e::{Error, TestApp, create, create_partner, goal, partner, pb, precondition, violations};

use super::dependencies::{Flow, baci_file, close, expected, generate, load, revise_cobalt_from_china};

const MINERALS: [&str; 4] = ["811292", "282520", "028530", "260500"];

/// Loads the generated flows (2021–2023); returns them.
async fn trade(app: &TestApp) -> Vec<Flow> {
    let flows = generate();
    let name = "BACI_HS22_Y2023_V202401.csv";
    let read = trade_files::read(Format::Baci, name, baci_file(&flows).as_bytes());
    assert!(read.report.bad_lines.is_empty());
    load(app, name, read.records).await;
    flows
}

/// Whether KR depends on `product` in 2023 (the latest year of the data), computed from the
/// flows: imported in 2023 and the three criteria all held in at least 2 of 2021–2023.
fn dependent(flows: &[Flow], product: &str) -> bool {
    expected(flows, "KR", product, 2023).imported
        && (2021..=2023)
            .filter(|y| expected(flows, "KR", product, *y).all_three)
            .count()
            >= 2
}

async fn product_set(app: &TestApp, id: &str, products: &[&str]) {
    app.client
        .create_product_set(pb::CreateProductSetRequest {
            product_set_id: id.into(),
            product_set: Some(pb::ProductSet {
                display_name: id.into(),
                products: products.iter().map(|p| (*p).to_owned()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
}

fn risk(links: pb::RiskEntry) -> pb::CreateRiskEntryRequest {
    pb::CreateRiskEntryRequest {
        risk_id: "mineral-monopoly".into(),
        risk: Some(pb::RiskEntry {
            title: "China's monopoly on key minerals".into(),
            category: pb::RiskCategory::CriticalMineralConcentration.into(),
            ..links
        }),
        ..Default::default()
    }
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn products(d: &[pb::DependentProduct]) -> Vec<&str> {
    d.iter().map(|d| d.product.as_str()).collect()
}

async fn masks(app: &TestApp, name: &str) -> Vec<Vec<String>> {
    app.client
        .list_changes_page(pb::ListChangesRequest {
            resource_name: name.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes
        .into_iter()
        .map(|ch| ch.update_mask.map(|m| m.paths).unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn goals_and_partners_show_the_dependent_products_of_their_product_sets() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let flows = trade(&app).await;
    product_set(&app, "critical-minerals", &MINERALS).await;
    product_set(&app, "cobalt", &["811292"]).await;
    for (id, name) in [("cn", "China"), ("cd", "DR Congo"), ("us", "United States")] {
        c.create_trade_partner(create_partner(id, partner(pb::trade_partner::Kind::Country, name)))
            .await
            .unwrap();
    }
    c.create_trade_partner(create_partner(
        "suppliers",
        pb::TradePartner {
            members: vec!["tradePartners/cn".into(), "tradePartners/cd".into()],
            ..partner(pb::trade_partner::Kind::Group, "Mineral suppliers")
        },
    ))
    .await
    .unwrap();
    c.create_policy_goal(create(
        "resilience",
        pb::PolicyGoal {
            product_sets: vec!["productSets/cobalt".into()],
            ..goal("Supply-chain resilience", pb::Pillar::TradeNationalInterest)
        },
    ))
    .await
    .unwrap();
    let created = c
        .create_risk_entry(risk(pb::RiskEntry {
            goals: vec!["policyGoals/resilience".into()],
            partners: vec![
                "tradePartners/cn".into(),
                "tradePartners/suppliers".into(),
                "tradePartners/us".into(),
            ],
            product_sets: vec!["productSets/critical-minerals".into()],
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(created.product_sets, ["productSets/critical-minerals"]);

    // The goal: the dependent products of its own set and of its risk's, computed here.
    let mut want: Vec<&str> = MINERALS.into_iter().filter(|p| dependent(&flows, p)).collect();
    want.sort();
    assert!(!want.is_empty(), "the generated data makes some minerals dependent");
    assert!(want.len() < MINERALS.len(), "and some not");
    let g = c.get_policy_goal("policyGoals/resilience").await.unwrap();
    assert_eq!(g.product_sets, ["productSets/cobalt"]);
    assert_eq!(products(&g.dependent_products), want);
    for d in &g.dependent_products {
        let e = expected(&flows, "KR", &d.product, 2023);
        assert_eq!((d.year, d.importer.as_str()), (2023, "KR"), "the latest year with data");
        assert_eq!(d.top_supplier, e.top_supplier, "{}", d.product);
        assert!(close(d.top_supplier_share, e.top_share), "{}", d.product);
        assert!(close(d.import_hhi, e.import_hhi), "{}", d.product);
        assert_eq!(d.risks, ["risks/mineral-monopoly"]);
        let mut sets = vec!["productSets/critical-minerals"];
        if d.product == "811292" {
            sets.insert(0, "productSets/cobalt");
        }
        assert_eq!(d.product_sets, sets, "{}", d.product);
        assert!(
            d.explanation.contains(&d.product) && d.explanation.contains("depends on"),
            "{}",
            d.explanation
        );
    }
    // A partner: the dependent products of its risks' sets whose top supplier it is; a group:
    // those of its member countries; a partner that supplies none of them: nothing.
    let top = |p: &&str| expected(&flows, "KR", p, 2023).top_supplier;
    let from_cn: Vec<&str> = want.iter().copied().filter(|p| top(p) == "CN").collect();
    assert!(!from_cn.is_empty(), "China is the top supplier of some: {want:?}");
    let cn = c.get_trade_partner("tradePartners/cn").await.unwrap();
    assert_eq!(cn.risk_register, ["risks/mineral-monopoly"]);
    assert_eq!(products(&cn.dependent_products), from_cn);
    assert!(cn.dependent_products.iter().all(|d| d.top_supplier == "CN"));
    let from_group: Vec<&str> = want
        .iter()
        .copied()
        .filter(|p| ["CN", "CD"].contains(&top(p).as_str()))
        .collect();
    assert!(!from_group.is_empty(), "a group is none of the top suppliers itself");
    let group = c.get_trade_partner("tradePartners/suppliers").await.unwrap();
    assert_eq!(products(&group.dependent_products), from_group);
    let us = c.get_trade_partner("tradePartners/us").await.unwrap();
    let from_us: Vec<&str> = want.iter().copied().filter(|p| top(p) == "US").collect();
    assert_eq!(products(&us.dependent_products), from_us);
    // Not linked by the risk: nothing, even as a top supplier.
    c.create_trade_partner(create_partner("cl", partner(pb::trade_partner::Kind::Country, "Chile")))
        .await
        .unwrap();
    assert!(
        c.get_trade_partner("tradePartners/cl")
            .await
            .unwrap()
            .dependent_products
            .is_empty()
    );

    // List shows the links, not the computed products (Get does); filters by product set.
    let listed = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: r#"product_sets:"productSets/cobalt""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .policy_goals;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].dependent_products.is_empty());
    let risks = c
        .list_risk_entries_page(pb::ListRiskEntriesRequest {
            filter: r#"product_sets:"productSets/critical-minerals""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .risks;
    assert_eq!(risks.len(), 1);
    let none = c
        .list_risk_entries_page(pb::ListRiskEntriesRequest {
            filter: r#"product_sets:"productSets/cobalt""#.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .risks;
    assert!(none.is_empty());

    // Unlinking the set from the risk: the goal keeps its own set's, the partner shows none.
    let unlinked = c
        .update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: created.name.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["product_sets"]),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(unlinked.product_sets.is_empty());
    let g = c.get_policy_goal("policyGoals/resilience").await.unwrap();
    let own: Vec<&str> = want.iter().copied().filter(|p| *p == "811292").collect();
    assert_eq!(products(&g.dependent_products), own);
    assert!(g.dependent_products.iter().all(|d| d.risks.is_empty()));
    assert!(
        c.get_trade_partner("tradePartners/cn")
            .await
            .unwrap()
            .dependent_products
            .is_empty()
    );
    // History keeps the link: the risk as it was before.
    let history = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: created.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes;
    let before = c
        .get_risk_entry_at(&created.name, history[0].change_time.unwrap())
        .await
        .unwrap();
    assert_eq!(before.product_sets, ["productSets/critical-minerals"]);

    // Relinked, the set cannot be deleted without force; force unlinks it from the risk and
    // from the goal, each a new revision in the change feed.
    let relinked = c
        .update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: created.name.clone(),
                product_sets: vec!["productSets/critical-minerals".into(), "productSets/cobalt".into()],
                ..Default::default()
            }),
            update_mask: mask(&["product_sets"]),
            ..Default::default()
        })
        .await
        .unwrap();
    let delete = |id: &str, force| {
        c.delete_product_set(pb::DeleteProductSetRequest {
            name: format!("productSets/{id}"),
            force,
            ..Default::default()
        })
    };
    assert_eq!(precondition(delete("cobalt", false).await), "LINKED_BY_RISKS");
    assert_eq!(c.get_risk_entry(&created.name).await.unwrap(), relinked);
    delete("cobalt", true).await.unwrap();
    let r = c.get_risk_entry(&created.name).await.unwrap();
    assert_eq!(
        (r.product_sets.as_slice(), r.revision),
        (
            ["productSets/critical-minerals".to_owned()].as_slice(),
            relinked.revision + 1
        )
    );
    let g = c.get_policy_goal("policyGoals/resilience").await.unwrap();
    assert!(g.product_sets.is_empty());
    assert_eq!(masks(&app, &g.name).await.last().unwrap(), &["product_sets"]);
    assert_eq!(masks(&app, &r.name).await.last().unwrap(), &["product_sets"]);
    // The goal still shows the minerals through its risk.
    assert_eq!(products(&g.dependent_products), want);
    // A set only a goal links: LINKED_BY_GOALS.
    product_set(&app, "chips", &["854231"]).await;
    c.update_policy_goal(pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: g.name.clone(),
            product_sets: vec!["productSets/chips".into()],
            ..Default::default()
        }),
        update_mask: mask(&["product_sets"]),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(precondition(delete("chips", false).await), "LINKED_BY_GOALS");
    delete("chips", true).await.unwrap();
    assert!(c.get_policy_goal(&g.name).await.unwrap().product_sets.is_empty());
}

#[tokio::test]
async fn bad_product_set_links_are_refused_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    product_set(&app, "minerals", &["811292"]).await;
    product_set(&app, "old", &["260500"]).await;
    c.delete_product_set(pb::DeleteProductSetRequest {
        name: "productSets/old".into(),
        ..Default::default()
    })
    .await
    .unwrap();

    // Malformed: INVALID_ARGUMENT naming each.
    let bad = c
        .create_risk_entry(risk(pb::RiskEntry {
            product_sets: vec![
                "policyGoals/x".into(),
                "productSets/minerals".into(),
                "productSets/minerals".into(),
            ],
            ..Default::default()
        }))
        .await;
    let v = violations(bad);
    assert!(
        !v.is_empty() && v.iter().all(|f| f.starts_with("risk.product_sets")),
        "{v:?}"
    );
    // Missing or deleted: FAILED_PRECONDITION, nothing stored.
    let missing = c
        .create_risk_entry(risk(pb::RiskEntry {
            product_sets: vec!["productSets/missing".into()],
            ..Default::default()
        }))
        .await;
    assert_eq!(precondition(missing), "PRODUCT_SET_NOT_FOUND");
    let deleted = c
        .create_risk_entry(risk(pb::RiskEntry {
            product_sets: vec!["productSets/old".into()],
            ..Default::default()
        }))
        .await;
    assert_eq!(precondition(deleted), "PRODUCT_SET_DELETED");
    assert!(matches!(
        c.get_risk_entry("risks/mineral-monopoly").await,
        Err(Error::NotFound { .. })
    ));
    let goal_missing = c
        .create_policy_goal(create(
            "resilience",
            pb::PolicyGoal {
                product_sets: vec!["productSets/missing".into()],
                ..goal("Supply-chain resilience", pb::Pillar::TradeNationalInterest)
            },
        ))
        .await;
    assert_eq!(precondition(goal_missing), "PRODUCT_SET_NOT_FOUND");
    assert!(matches!(
        c.get_policy_goal("policyGoals/resilience").await,
        Err(Error::NotFound { .. })
    ));

    // An update to a deleted set is refused and leaves the risk as it was.
    let stored = c
        .create_risk_entry(risk(pb::RiskEntry {
            product_sets: vec!["productSets/minerals".into()],
            ..Default::default()
        }))
        .await
        .unwrap();
    let relink = c
        .update_risk_entry(pb::UpdateRiskEntryRequest {
            risk: Some(pb::RiskEntry {
                name: stored.name.clone(),
                product_sets: vec!["productSets/old".into()],
                ..Default::default()
            }),
            update_mask: mask(&["product_sets"]),
            ..Default::default()
        })
        .await;
    assert_eq!(precondition(relink), "PRODUCT_SET_DELETED");
    assert_eq!(c.get_risk_entry(&stored.name).await.unwrap(), stored);

    // A deleted risk whose set was deleted meanwhile cannot be restored.
    c.delete_risk_entry(pb::DeleteRiskEntryRequest {
        name: stored.name.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.delete_product_set(pb::DeleteProductSetRequest {
        name: "productSets/minerals".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let undelete = c
        .undelete_risk_entry(pb::UndeleteRiskEntryRequest {
            name: stored.name.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(precondition(undelete), "PRODUCT_SET_DELETED");
    assert!(c.get_risk_entry(&stored.name).await.unwrap().delete_time.is_some());
}

#[tokio::test]
async fn the_analysis_reads_the_figures_as_stored_at_read_time() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let flows = trade(&app).await;
    let deps = |read_time| async move {
        c.list_import_dependencies(pb::ListImportDependenciesRequest {
            year: 2023,
            read_time,
            page_size: 2,
            ..Default::default()
        })
        .try_collect::<Vec<pb::ImportDependency>>()
        .await
        .unwrap()
    };
    let dominated = |read_time| async move {
        c.list_dominated_products(pb::ListDominatedProductsRequest {
            supplier: "CN".into(),
            year: 2023,
            read_time,
            ..Default::default()
        })
        .try_collect::<Vec<pb::DominatedProduct>>()
        .await
        .unwrap()
    };
    let first = deps(None).await;
    let first_dominated = dominated(None).await;
    assert!(first_dominated.iter().any(|d| d.product == "811292"));

    // Revised: China's 2023 sales of 811292 to Korea fall to 1 USD.
    let (record, _, changed) = revise_cobalt_from_china(&app, &flows).await;
    let loaded_at = record.valid_time.unwrap();
    let now = deps(None).await;
    assert_ne!(now, first, "the revision changes the analysis");

    // As stored when first loaded: what the analysis said then, value for value.
    let same = |a: &[pb::ImportDependency], b: &[pb::ImportDependency]| {
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(b) {
            assert_eq!(
                (&a.product, &a.top_supplier, a.supplier_count, a.dependent, &a.unknown),
                (&b.product, &b.top_supplier, b.supplier_count, b.dependent, &b.unknown)
            );
            assert!(close(a.import_hhi, b.import_hhi) && close(a.import_export_ratio, b.import_export_ratio));
            match (a.world_export_hhi, b.world_export_hhi) {
                (Some(x), Some(y)) => assert!(close(x, y), "{}: {x} vs {y}", a.product),
                (x, y) => assert_eq!(x, y, "{}", a.product),
            }
            assert_eq!(a.explanation, b.explanation);
        }
    };
    same(&deps(Some(loaded_at)).await, &first);
    assert_eq!(dominated(Some(loaded_at)).await, first_dominated);
    // As stored now: the current analysis; the revision checked against the computation.
    let now_time = registry_client::prost_types::Timestamp::from(std::time::SystemTime::now());
    same(&deps(Some(now_time)).await, &now);
    assert_eq!(dominated(Some(now_time)).await, dominated(None).await);
    let e = expected(&changed, "KR", "811292", 2023);
    let d = now.iter().find(|d| d.product == "811292").unwrap();
    assert!(close(d.import_hhi, e.import_hhi));
    // Before anything was loaded: nothing.
    let mut early = loaded_at;
    early.seconds -= 1;
    assert!(deps(Some(early)).await.is_empty());
    assert!(dominated(Some(early)).await.is_empty());
}

#[tokio::test]
async fn racing_risk_links_and_product_set_deletes_leave_no_link_to_a_deleted_set() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for round in 0..12 {
        let set = format!("set-{round}");
        product_set(&app, &set, &["811292"]).await;
        let (linked, deleted) = tokio::join!(
            c.create_risk_entry(pb::CreateRiskEntryRequest {
                risk_id: format!("risk-{round}"),
                ..risk(pb::RiskEntry {
                    product_sets: vec![format!("productSets/{set}")],
                    ..Default::default()
                })
            }),
            c.delete_product_set(pb::DeleteProductSetRequest {
                name: format!("productSets/{set}"),
                ..Default::default()
            })
        );
        match (&linked, &deleted) {
            (Ok(_), Err(Error::FailedPrecondition { reason, .. })) => assert_eq!(reason, "LINKED_BY_RISKS"),
            (Err(Error::FailedPrecondition { reason, .. }), Ok(_)) => assert_eq!(reason, "PRODUCT_SET_DELETED"),
            other => panic!("round {round}: {other:?}"),
        }
    }
    let (dangling,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM risks r, unnest(r.product_sets) s JOIN product_sets p ON p.id = s
         WHERE r.delete_time IS NULL AND p.delete_time IS NOT NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(dangling, 0);
}
