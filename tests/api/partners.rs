//! TradePartnerService end to end through registry-client: partners, memberships, goal links,
//! trade flows and export concentration.

use futures::TryStreamExt;
use pb::trade_partner::{Kind, Priority};
use registry_e2e::{Error, TestApp, create, create_partner, goal, partner, pb, precondition, violations};

fn country(name: &str) -> pb::TradePartner {
    partner(Kind::Country, name)
}

fn group(kind: Kind, name: &str, members: &[&str]) -> pb::TradePartner {
    pb::TradePartner {
        members: members.iter().map(|m| format!("tradePartners/{m}")).collect(),
        ..partner(kind, name)
    }
}

async fn make(app: &TestApp, id: &str, p: pb::TradePartner) -> pb::TradePartner {
    app.client.create_trade_partner(create_partner(id, p)).await.unwrap()
}

fn names(ps: &[pb::TradePartner]) -> Vec<&str> {
    ps.iter().map(|p| p.name.as_str()).collect()
}

#[tokio::test]
async fn countries_use_iso_codes_and_blocs_list_existing_countries() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let us = make(&app, "us", country("United States")).await;
    assert_eq!((us.name.as_str(), us.revision), ("tradePartners/us", 1));
    assert!(!us.etag.is_empty());

    // A COUNTRY id must be an ISO 3166-1 alpha-2 code.
    for bad in ["xx", "usa", "united-states"] {
        assert_eq!(
            violations(c.create_trade_partner(create_partner(bad, country("Nowhere"))).await),
            ["trade_partner_id"],
            "{bad}"
        );
    }
    // Every invalid field at once, nothing stored.
    let bad = pb::TradePartner {
        kind: 42,
        display_name: String::new(),
        region: "East Asia".into(),
        priority: 9,
        members: vec!["policyGoals/x".into()],
        ..Default::default()
    };
    let mut got = violations(c.create_trade_partner(create_partner("bad", bad)).await);
    got.sort();
    assert_eq!(
        got,
        [
            "trade_partner.display_name",
            "trade_partner.kind",
            "trade_partner.members[0]",
            "trade_partner.priority",
            "trade_partner.region"
        ]
    );
    assert_eq!(
        violations(
            c.create_trade_partner(create_partner("cn", group(Kind::Country, "China", &["us"])))
                .await
        ),
        ["trade_partner.members"],
        "a country has no members"
    );

    // Members must exist, be live and be countries.
    assert_eq!(
        precondition(
            c.create_trade_partner(create_partner(
                "asean",
                group(Kind::EconomicBloc, "ASEAN", &["us", "vn"])
            ))
            .await
        ),
        "PARTNER_NOT_FOUND"
    );
    make(&app, "vn", country("Viet Nam")).await;
    let asean = make(&app, "asean", group(Kind::EconomicBloc, "ASEAN", &["vn"])).await;
    assert_eq!(asean.members, ["tradePartners/vn"]);
    assert_eq!(
        precondition(
            c.create_trade_partner(create_partner("apec", group(Kind::Forum, "APEC", &["us", "asean"])))
                .await
        ),
        "MEMBER_NOT_A_COUNTRY"
    );
    let apec = make(&app, "apec", group(Kind::Forum, "APEC", &["us", "vn"])).await;
    assert_eq!(apec.members, ["tradePartners/us", "tradePartners/vn"]);

    // A country lists its memberships (reverse lookup).
    let vn = c.get_trade_partner("tradePartners/vn").await.unwrap();
    assert_eq!(vn.memberships, ["tradePartners/apec", "tradePartners/asean"]);
    assert!(matches!(
        c.create_trade_partner(create_partner("us", country("Again"))).await,
        Err(Error::AlreadyExists { .. })
    ));
    let got = c
        .batch_get_trade_partners(["tradePartners/apec", "tradePartners/us"])
        .await
        .unwrap();
    assert_eq!(names(&got), ["tradePartners/apec", "tradePartners/us"]);
    assert!(matches!(
        c.batch_get_trade_partners(["tradePartners/us", "tradePartners/jp"])
            .await,
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        c.get_trade_partner("tradePartners/jp").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn engagements_and_risks_are_validated() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut us = country("United States");
    // Inline agreements are output only (moved to agreements/…): a write ignores them.
    #[allow(deprecated)]
    {
        us.agreements = vec![pb::Agreement {
            title: "Tariff follow-up".into(),
            ..Default::default()
        }];
    }
    us.engagements = vec![pb::Engagement {
        title: "Follow-up negotiations".into(),
        kind: pb::engagement::Kind::Negotiation.into(),
        linked_goals: vec!["tradePartners/us".into()],
        ..Default::default()
    }];
    us.risks = vec![pb::Risk {
        category: 0,
        title: "Protectionism".into(),
        ..Default::default()
    }];
    let mut got = violations(c.create_trade_partner(create_partner("us", us.clone())).await);
    got.sort();
    assert_eq!(
        got,
        [
            "trade_partner.engagements[0].linked_goals[0]",
            "trade_partner.risks[0].category",
        ]
    );

    // Engagements may only serve goals that exist.
    us.engagements[0].linked_goals = vec!["policyGoals/trade".into()];
    us.risks[0].category = pb::RiskCategory::Protectionism.into();
    assert_eq!(
        precondition(c.create_trade_partner(create_partner("us", us.clone())).await),
        "GOAL_NOT_FOUND"
    );
    c.create_policy_goal(create("trade", goal("Trade", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    let stored = c.create_trade_partner(create_partner("us", us)).await.unwrap();
    assert_eq!(stored.engagements[0].state, pb::engagement::State::Unspecified as i32);
    assert_eq!(stored.engagements[0].linked_goals, ["policyGoals/trade"]);
    #[allow(deprecated)]
    let inline = &stored.agreements;
    assert!(inline.is_empty());
}

#[tokio::test]
async fn update_with_mask_etag_and_immutable_kind() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let jp = make(&app, "jp", country("Japan")).await;
    let upd = |p: pb::TradePartner, paths: &[&str]| pb::UpdateTradePartnerRequest {
        trade_partner: Some(p),
        update_mask: (!paths.is_empty()).then(|| registry_client::prost_types::FieldMask {
            paths: paths.iter().map(|s| s.to_string()).collect(),
        }),
        ..Default::default()
    };
    let change = pb::TradePartner {
        name: jp.name.clone(),
        etag: jp.etag.clone(),
        priority: Priority::Strategic.into(),
        region: "east-asia".into(),
        display_name: "ignored".into(),
        ..Default::default()
    };
    let v2 = c
        .update_trade_partner(upd(change.clone(), &["priority", "region"]))
        .await
        .unwrap();
    assert_eq!(
        (v2.revision, v2.priority, v2.region.as_str(), v2.display_name.as_str()),
        (2, Priority::Strategic as i32, "east-asia", "Japan")
    );
    // The old etag is stale now.
    assert!(matches!(
        c.update_trade_partner(upd(change, &["priority"])).await,
        Err(Error::Aborted { .. })
    ));
    // The kind cannot change.
    let as_bloc = pb::TradePartner {
        name: jp.name.clone(),
        kind: Kind::EconomicBloc.into(),
        ..Default::default()
    };
    assert_eq!(
        violations(c.update_trade_partner(upd(as_bloc, &["kind"])).await),
        ["trade_partner.kind"]
    );
    // An update that changes nothing is no new revision.
    let same = c
        .update_trade_partner(upd(
            pb::TradePartner {
                name: jp.name.clone(),
                region: "east-asia".into(),
                ..Default::default()
            },
            &["region"],
        ))
        .await
        .unwrap();
    assert_eq!(same.revision, 2);
    // Output-only paths are refused.
    assert_eq!(
        violations(c.update_trade_partner(upd(v2.clone(), &["memberships"])).await),
        ["update_mask.paths[0]"]
    );
    // allow_missing creates; the id is checked against the kind.
    let cn = c
        .update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(pb::TradePartner {
                name: "tradePartners/cn".into(),
                ..country("China")
            }),
            allow_missing: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cn.revision, 1);
    assert_eq!(
        violations(
            c.update_trade_partner(pb::UpdateTradePartnerRequest {
                trade_partner: Some(pb::TradePartner {
                    name: "tradePartners/qq".into(),
                    ..country("Nowhere")
                }),
                allow_missing: true,
                ..Default::default()
            })
            .await
        ),
        ["trade_partner.name"]
    );
    // Members can be changed; the reverse lookup follows.
    make(&app, "asean", group(Kind::EconomicBloc, "ASEAN", &[])).await;
    c.update_trade_partner(upd(
        pb::TradePartner {
            name: "tradePartners/asean".into(),
            members: vec!["tradePartners/jp".into(), "tradePartners/cn".into()],
            ..Default::default()
        },
        &["members"],
    ))
    .await
    .unwrap();
    assert_eq!(
        c.get_trade_partner("tradePartners/cn").await.unwrap().memberships,
        ["tradePartners/asean"]
    );
}

#[tokio::test]
async fn goal_links_must_name_live_partners_and_block_deletion() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut g = goal("Strategic cooperation", pb::Pillar::TradeNationalInterest);
    g.linked_partners = vec!["tradePartners/us".into()];
    assert_eq!(
        precondition(c.create_policy_goal(create("coop", g.clone())).await),
        "PARTNER_NOT_FOUND"
    );
    make(&app, "us", country("United States")).await;
    make(&app, "cn", country("China")).await;
    make(&app, "g-south", group(Kind::Group, "Global South", &["cn"])).await;
    c.create_policy_goal(create("coop", g)).await.unwrap();
    let us = c.get_trade_partner("tradePartners/us").await.unwrap();
    assert_eq!(us.linked_goals, ["policyGoals/coop"]);

    // Deleting a linked partner, or a member of a live group, needs force.
    let del = |name: &str, force: bool| pb::DeleteTradePartnerRequest {
        name: name.into(),
        force,
        ..Default::default()
    };
    assert_eq!(
        precondition(c.delete_trade_partner(del("tradePartners/us", false)).await),
        "LINKED_BY_GOALS"
    );
    assert_eq!(
        precondition(c.delete_trade_partner(del("tradePartners/cn", false)).await),
        "MEMBER_OF_GROUPS"
    );
    assert!(
        c.get_trade_partner("tradePartners/us")
            .await
            .unwrap()
            .delete_time
            .is_none()
    );

    // Force removes the links and memberships (new revisions of the goal and the group).
    let gone = c.delete_trade_partner(del("tradePartners/us", true)).await.unwrap();
    assert!(gone.delete_time.is_some() && gone.expire_time.is_some());
    let coop = c.get_policy_goal("policyGoals/coop").await.unwrap();
    assert!(coop.linked_partners.is_empty());
    assert_eq!(coop.revision, 2);
    c.delete_trade_partner(del("tradePartners/cn", true)).await.unwrap();
    let south = c.get_trade_partner("tradePartners/g-south").await.unwrap();
    assert!(south.members.is_empty());
    assert_eq!(south.revision, 2);

    // A goal cannot link a deleted partner.
    let link_us = pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: "policyGoals/coop".into(),
            linked_partners: vec!["tradePartners/us".into()],
            ..Default::default()
        }),
        update_mask: Some(registry_client::prost_types::FieldMask {
            paths: vec!["linked_partners".into()],
        }),
        ..Default::default()
    };
    assert_eq!(
        precondition(c.update_policy_goal(link_us.clone()).await),
        "PARTNER_DELETED"
    );
    // Deleted partners are hidden unless asked for, and can be restored.
    let live = c.list_trade_partners_page(Default::default()).await.unwrap();
    assert_eq!(names(&live.trade_partners), ["tradePartners/g-south"]);
    let all = c
        .list_trade_partners_page(pb::ListTradePartnersRequest {
            show_deleted: true,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total_size, 3);
    let back = c
        .undelete_trade_partner(pb::UndeleteTradePartnerRequest {
            name: "tradePartners/us".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(back.delete_time.is_none());
    assert!(matches!(
        c.undelete_trade_partner(pb::UndeleteTradePartnerRequest {
            name: "tradePartners/us".into(),
            ..Default::default()
        })
        .await,
        Err(Error::AlreadyExists { .. })
    ));
    c.update_policy_goal(link_us).await.unwrap();
    // A goal deleted while its partner was deleted cannot come back until the partner does.
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/coop".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    c.delete_trade_partner(del("tradePartners/us", false)).await.unwrap();
    assert_eq!(
        precondition(
            c.undelete_policy_goal(pb::UndeletePolicyGoalRequest {
                name: "policyGoals/coop".into(),
                ..Default::default()
            })
            .await
        ),
        "PARTNER_DELETED"
    );
}

#[tokio::test]
async fn list_filters_orders_and_pages() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let mut us = country("United States");
    us.region = "north-america".into();
    us.priority = Priority::Strategic.into();
    us.risks = vec![pb::Risk {
        category: pb::RiskCategory::Protectionism.into(),
        title: "U.S. protectionism".into(),
        ..Default::default()
    }];
    us.labels.insert("source".into(), "statement".into());
    make(&app, "us", us).await;
    let mut cn = country("China");
    cn.region = "east-asia".into();
    cn.priority = Priority::High.into();
    cn.risks = vec![pb::Risk {
        category: pb::RiskCategory::CriticalMineralConcentration.into(),
        title: "Key-mineral monopoly".into(),
        ..Default::default()
    }];
    make(&app, "cn", cn).await;
    let mut jp = country("Japan");
    jp.region = "east-asia".into();
    make(&app, "jp", jp).await;
    let mut asean = group(Kind::EconomicBloc, "ASEAN", &["jp"]);
    asean.priority = Priority::High.into();
    make(&app, "asean", asean).await;
    make(&app, "apec", group(Kind::Forum, "APEC", &["us", "cn", "jp"])).await;

    let list = |filter: &str, order_by: &str| {
        let req = pb::ListTradePartnersRequest {
            filter: filter.into(),
            order_by: order_by.into(),
            ..Default::default()
        };
        async move {
            let page = c.list_trade_partners_page(req).await.unwrap();
            page.trade_partners.into_iter().map(|p| p.name).collect::<Vec<_>>()
        }
    };
    let p = |ids: &[&str]| ids.iter().map(|i| format!("tradePartners/{i}")).collect::<Vec<_>>();
    assert_eq!(list("kind = COUNTRY", "").await, p(&["cn", "jp", "us"]));
    assert_eq!(list("kind != COUNTRY", "").await, p(&["apec", "asean"]));
    assert_eq!(list("region = \"east-asia\"", "").await, p(&["cn", "jp"]));
    assert_eq!(list("priority = HIGH", "").await, p(&["asean", "cn"]));
    assert_eq!(list("risks.category = PROTECTIONISM", "").await, p(&["us"]));
    assert_eq!(
        list(
            "risks.category = CRITICAL_MINERAL_CONCENTRATION OR labels.source = statement",
            ""
        )
        .await,
        p(&["cn", "us"])
    );
    assert_eq!(list("member_of = tradePartners/asean", "").await, p(&["jp"]));
    assert_eq!(list("member_of = tradePartners/apec", "").await, p(&["cn", "jp", "us"]));
    assert_eq!(
        list("kind = COUNTRY AND NOT member_of = tradePartners/asean", "").await,
        p(&["cn", "us"])
    );
    assert_eq!(list("members:tradePartners/us", "").await, p(&["apec"]));
    assert_eq!(list("search:\"japan\"", "").await, p(&["jp"]));
    assert_eq!(
        list("", "priority desc").await,
        p(&["us", "cn", "asean", "jp", "apec"]),
        "STRATEGIC > HIGH > unset; ties by name, descending like every key"
    );
    assert_eq!(list("", "display_name").await, p(&["apec", "asean", "cn", "jp", "us"]));
    // Bad filters name the field and the choices.
    assert_eq!(
        violations(
            c.list_trade_partners_page(pb::ListTradePartnersRequest {
                filter: "kind = PLANET".into(),
                ..Default::default()
            })
            .await
        ),
        ["filter"]
    );
    // Pages of 2 visit everyone once, in order.
    let all: Vec<String> = c
        .list_trade_partners(pb::ListTradePartnersRequest {
            page_size: 2,
            order_by: "region, display_name desc".into(),
            ..Default::default()
        })
        .map_ok(|p| p.name)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all, p(&["asean", "apec", "jp", "cn", "us"]));
}

#[tokio::test]
async fn trade_flows_upsert_list_and_delete() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    make(&app, "us", country("United States")).await;
    make(&app, "cn", country("China")).await;
    let flow = |name: &str, ex: i64, im: i64| pb::TradeFlow {
        name: name.into(),
        exports_usd: ex,
        imports_usd: im,
        ..Default::default()
    };
    let put = |f: pb::TradeFlow, allow_missing: bool| pb::UpdateTradeFlowRequest {
        trade_flow: Some(f),
        allow_missing,
        validate_only: false,
    };
    // Without allow_missing, a missing flow is NOT_FOUND; with it, it is created.
    assert!(matches!(
        c.update_trade_flow(put(flow("tradePartners/us/tradeFlows/2024", 10, 5), false))
            .await,
        Err(Error::NotFound { .. })
    ));
    let f1 = c.upsert_trade_flow("tradePartners/us", 2024, 10, 5).await.unwrap();
    assert_eq!((f1.year, f1.exports_usd, f1.revision), (2024, 10, 1));
    let f2 = c.upsert_trade_flow("tradePartners/us", 2024, 12, 5).await.unwrap();
    assert_eq!((f2.exports_usd, f2.revision), (12, 2));
    let same = c.upsert_trade_flow("tradePartners/us", 2024, 12, 5).await.unwrap();
    assert_eq!(same.revision, 2, "the same figures are no new revision");
    // Stale etag.
    let mut stale = flow("tradePartners/us/tradeFlows/2024", 1, 1);
    stale.etag = f1.etag.clone();
    assert!(matches!(
        c.update_trade_flow(put(stale, true)).await,
        Err(Error::Aborted { .. })
    ));
    // Bad figures and names.
    let mut got = violations(
        c.update_trade_flow(put(flow("tradePartners/us/tradeFlows/2024", -1, -2), true))
            .await,
    );
    got.sort();
    assert_eq!(got, ["trade_flow.exports_usd", "trade_flow.imports_usd"]);
    for bad in [
        "tradePartners/us/tradeFlows/99",
        "tradePartners/us/tradeFlows/3000",
        "tradePartners/us/flows/2024",
        "tradePartners/../tradeFlows/2024",
    ] {
        assert_eq!(
            violations(c.update_trade_flow(put(flow(bad, 1, 1), true)).await),
            ["trade_flow.name"],
            "{bad}"
        );
    }
    assert!(matches!(
        c.upsert_trade_flow("tradePartners/jp", 2024, 1, 1).await,
        Err(Error::NotFound { .. })
    ));

    c.upsert_trade_flow("tradePartners/us", 2023, 9, 4).await.unwrap();
    c.upsert_trade_flow("tradePartners/cn", 2024, 20, 30).await.unwrap();
    let names = |fs: Vec<pb::TradeFlow>| fs.into_iter().map(|f| f.name).collect::<Vec<_>>();
    let of_us: Vec<pb::TradeFlow> = c
        .list_trade_flows(pb::ListTradeFlowsRequest {
            parent: "tradePartners/us".into(),
            page_size: 1,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names(of_us),
        ["tradePartners/us/tradeFlows/2023", "tradePartners/us/tradeFlows/2024"]
    );
    let in_2024: Vec<pb::TradeFlow> = c
        .list_trade_flows(pb::ListTradeFlowsRequest {
            parent: "tradePartners/-".into(),
            year: 2024,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        names(in_2024),
        ["tradePartners/cn/tradeFlows/2024", "tradePartners/us/tradeFlows/2024"]
    );
    assert_eq!(
        c.get_trade_flow("tradePartners/cn/tradeFlows/2024")
            .await
            .unwrap()
            .imports_usd,
        30
    );
    c.delete_trade_flow(pb::DeleteTradeFlowRequest {
        name: "tradePartners/cn/tradeFlows/2024".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(matches!(
        c.get_trade_flow("tradePartners/cn/tradeFlows/2024").await,
        Err(Error::NotFound { .. })
    ));
    // Flows are in the change feed with their snapshot.
    let changes = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: "tradePartners/us/tradeFlows/2024".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes;
    assert_eq!(changes.len(), 2);
    assert!(matches!(
        &changes[1].snapshot,
        Some(pb::change::Snapshot::TradeFlow(f)) if f.exports_usd == 12
    ));
}

#[tokio::test]
async fn export_concentration_counts_each_country_once() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    make(&app, "us", country("United States")).await;
    make(&app, "cn", country("China")).await;
    make(&app, "jp", country("Japan")).await;
    make(&app, "vn", country("Viet Nam")).await;
    make(&app, "asean", group(Kind::EconomicBloc, "ASEAN", &["vn"])).await;
    make(&app, "apec", group(Kind::Forum, "APEC", &["us", "cn", "jp", "vn"])).await;
    // Shares in 2024: us 40%, cn 30%, jp 20%, vn 10%.
    for (p, usd) in [("us", 400), ("cn", 300), ("jp", 200), ("vn", 100)] {
        c.upsert_trade_flow(&format!("tradePartners/{p}"), 2024, usd, 1)
            .await
            .unwrap();
    }
    // A flow recorded on a bloc is not counted again.
    c.upsert_trade_flow("tradePartners/asean", 2024, 1000, 0).await.unwrap();
    // Another year does not leak in.
    c.upsert_trade_flow("tradePartners/us", 2023, 5, 0).await.unwrap();

    let conc = c
        .get_export_concentration(pb::GetExportConcentrationRequest {
            year: 2024,
            top_n: 2,
            dependency_threshold: Some(0.35),
        })
        .await
        .unwrap();
    assert_eq!(conc.total_exports_usd, 1000);
    // HHI = 40² + 30² + 20² + 10² = 1600 + 900 + 400 + 100 = 3000.
    assert!((conc.hhi - 3000.0).abs() < 1e-6, "{}", conc.hhi);
    assert!((conc.top_n_share - 0.7).abs() < 1e-9);
    let shares: Vec<(&str, f64, bool)> = conc
        .shares
        .iter()
        .map(|s| (s.partner.as_str(), s.share, s.dependency_risk))
        .collect();
    assert_eq!(
        shares,
        [
            ("tradePartners/us", 0.4, true),
            ("tradePartners/cn", 0.3, false),
            ("tradePartners/jp", 0.2, false),
            ("tradePartners/vn", 0.1, false)
        ]
    );
    let groups: Vec<(&str, i64)> = conc
        .group_shares
        .iter()
        .map(|s| (s.partner.as_str(), s.exports_usd))
        .collect();
    assert_eq!(groups, [("tradePartners/apec", 1000), ("tradePartners/asean", 100)]);
    assert!((conc.group_shares[0].share - 1.0).abs() < 1e-9 && conc.group_shares[0].dependency_risk);
    assert_eq!(conc.excluded_partners, ["tradePartners/asean"]);

    // Defaults: top 5, threshold 0.2 (us and cn are above it).
    let d = c
        .get_export_concentration(pb::GetExportConcentrationRequest {
            year: 2024,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((d.top_n, d.dependency_threshold), (5, 0.2));
    assert_eq!(d.shares.iter().filter(|s| s.dependency_risk).count(), 2);
    // A deleted country drops out.
    c.delete_trade_partner(pb::DeleteTradePartnerRequest {
        name: "tradePartners/us".into(),
        force: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let after = c
        .get_export_concentration(pb::GetExportConcentrationRequest {
            year: 2024,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(after.total_exports_usd, 600);
    let mut bad = violations(
        c.get_export_concentration(pb::GetExportConcentrationRequest {
            year: 1,
            top_n: -1,
            dependency_threshold: Some(f64::NAN),
        })
        .await,
    );
    bad.sort();
    assert_eq!(bad, ["dependency_threshold", "top_n", "year"]);
}

/// Creating goals that link a partner while the partner is deleted never leaves a live goal
/// linking a deleted partner, whichever transaction wins.
#[tokio::test]
async fn concurrent_link_and_delete_leave_no_dangling_reference() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for round in 0..12 {
        let pid = format!("p{round}");
        make(&app, &pid, group(Kind::Group, "Partners", &[])).await;
        let mut g = goal("Linked", pb::Pillar::TradeNationalInterest);
        g.linked_partners = vec![format!("tradePartners/{pid}")];
        let (linked, deleted) = tokio::join!(
            c.create_policy_goal(create(&format!("g{round}"), g)),
            c.delete_trade_partner(pb::DeleteTradePartnerRequest {
                name: format!("tradePartners/{pid}"),
                ..Default::default()
            })
        );
        // Exactly one wins: either the goal links a live partner, or the partner is deleted
        // and the goal was refused.
        match (&linked, &deleted) {
            (Ok(_), Err(Error::FailedPrecondition { reason, .. })) => assert_eq!(reason, "LINKED_BY_GOALS"),
            (Err(Error::FailedPrecondition { reason, .. }), Ok(_)) => assert_eq!(reason, "PARTNER_DELETED"),
            other => panic!("round {round}: {other:?}"),
        }
    }
    let (dangling,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM goal_partner_links l JOIN policy_goals g ON g.id = l.goal_id
           JOIN trade_partners p ON p.id = l.partner_id
         WHERE g.delete_time IS NULL AND p.delete_time IS NOT NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(dangling, 0);
}

#[tokio::test]
async fn create_is_idempotent_validates_only_and_reads_history() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let req = pb::CreateTradePartnerRequest {
        request_id: "5d0c3a8e-0000-4000-8000-000000000001".into(),
        ..create_partner("jp", country("Japan"))
    };
    let first = c.create_trade_partner(req.clone()).await.unwrap();
    let again = c.create_trade_partner(req.clone()).await.unwrap();
    assert_eq!(first, again, "a retry returns the original response");
    let reused = pb::CreateTradePartnerRequest {
        trade_partner: Some(country("Nippon")),
        ..req
    };
    assert_eq!(violations(c.create_trade_partner(reused).await), ["request_id"]);

    let dry = c
        .create_trade_partner(pb::CreateTradePartnerRequest {
            validate_only: true,
            ..create_partner("kr", country("Korea"))
        })
        .await
        .unwrap();
    assert_eq!(dry.name, "tradePartners/kr");
    assert!(matches!(
        c.get_trade_partner("tradePartners/kr").await,
        Err(Error::NotFound { .. })
    ));

    // Get at the time of the create (from the change log) returns the partner as it was then.
    let created = c
        .list_changes_page(pb::ListChangesRequest {
            resource_name: "tradePartners/jp".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .changes;
    let before = created[0].change_time.unwrap();
    c.update_trade_partner(pb::UpdateTradePartnerRequest {
        trade_partner: Some(pb::TradePartner {
            name: "tradePartners/jp".into(),
            display_name_ko: "일본국".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    // Created with CLDR's Korean name, then renamed.
    let old = c.get_trade_partner_at("tradePartners/jp", before).await.unwrap();
    assert_eq!((old.revision, old.display_name_ko.as_str()), (1, "일본"));
    let now = c.get_trade_partner("tradePartners/jp").await.unwrap();
    assert_eq!((now.revision, now.display_name_ko.as_str()), (2, "일본국"));
    let (logged,): (i64,) = sqlx::query_as("SELECT count(*) FROM change_log WHERE resource_name = 'tradePartners/jp'")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(logged, 2, "one create (despite the retry) and one update");
}

/// Creating a group that lists a country while the country is deleted never leaves a live
/// group listing a deleted member, whichever transaction wins.
#[tokio::test]
async fn concurrent_membership_and_delete_leave_no_dangling_member() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    // Countries with real ISO codes, one per round.
    let codes = ["de", "fr", "it", "es", "pt", "nl", "be", "at", "se", "fi", "dk", "pl"];
    for (round, code) in codes.iter().enumerate() {
        make(&app, code, country("Country")).await;
        let (grouped, deleted) = tokio::join!(
            c.create_trade_partner(create_partner(
                &format!("g{round}"),
                group(Kind::Group, "Group", &[code])
            )),
            c.delete_trade_partner(pb::DeleteTradePartnerRequest {
                name: format!("tradePartners/{code}"),
                ..Default::default()
            })
        );
        match (&grouped, &deleted) {
            (Ok(_), Err(Error::FailedPrecondition { reason, .. })) => assert_eq!(reason, "MEMBER_OF_GROUPS"),
            (Err(Error::FailedPrecondition { reason, .. }), Ok(_)) => assert_eq!(reason, "PARTNER_DELETED"),
            other => panic!("round {round}: {other:?}"),
        }
    }
    let (dangling,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM partner_members m JOIN trade_partners g ON g.id = m.group_id
           JOIN trade_partners p ON p.id = m.member_id
         WHERE g.delete_time IS NULL AND p.delete_time IS NOT NULL",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(dangling, 0);
}

#[tokio::test]
async fn a_goal_that_engagements_serve_is_deleted_only_by_force_which_unlinks_it() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    c.create_policy_goal(create(
        "tariffs",
        goal("Tariff follow-up", pb::Pillar::TradeNationalInterest),
    ))
    .await
    .unwrap();
    c.create_policy_goal(create("other", goal("Other", pb::Pillar::TradeNationalInterest)))
        .await
        .unwrap();
    let mut us = country("United States");
    us.engagements = vec![pb::Engagement {
        title: "Follow-up negotiations".into(),
        kind: pb::engagement::Kind::Negotiation.into(),
        linked_goals: vec!["policyGoals/tariffs".into(), "policyGoals/other".into()],
        ..Default::default()
    }];
    make(&app, "us", us).await;
    let del = |force: bool| pb::DeletePolicyGoalRequest {
        name: "policyGoals/tariffs".into(),
        force,
        ..Default::default()
    };
    match c.delete_policy_goal(del(false)).await {
        Err(Error::FailedPrecondition { reason, message }) => {
            assert_eq!(reason, "LINKED_BY_PARTNERS");
            assert!(message.contains("tradePartners/us"), "{message}");
        }
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
    assert!(
        c.get_policy_goal("policyGoals/tariffs")
            .await
            .unwrap()
            .delete_time
            .is_none()
    );

    // Force deletes it and takes it out of the engagement (a new partner revision, logged).
    c.delete_policy_goal(del(true)).await.unwrap();
    let us = c.get_trade_partner("tradePartners/us").await.unwrap();
    assert_eq!(us.engagements[0].linked_goals, ["policyGoals/other"]);
    assert_eq!(us.revision, 2);
    let history: Vec<pb::Change> = c
        .list_changes(pb::ListChangesRequest {
            resource_name: "tradePartners/us".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        history[1].update_mask.as_ref().map(|m| m.paths.clone()),
        Some(vec!["engagements".to_owned()])
    );
}

/// A country partner created without a Korean name gets CLDR's (not typed by anyone), a
/// given one is kept, and search finds partners by their Korean name.
#[tokio::test]
async fn countries_carry_cldr_korean_names_and_are_found_by_them() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let kr = c
        .create_trade_partner(create_partner("kr", partner(pb::trade_partner::Kind::Country, "Korea")))
        .await
        .unwrap();
    assert_eq!(kr.display_name_ko, "대한민국");
    let mut vn = partner(pb::trade_partner::Kind::Country, "Viet Nam");
    vn.display_name_ko = "베트남 사회주의 공화국".into();
    let vn = c.create_trade_partner(create_partner("vn", vn)).await.unwrap();
    assert_eq!(vn.display_name_ko, "베트남 사회주의 공화국", "a given name is kept");
    let bloc = c
        .create_trade_partner(create_partner(
            "asean",
            partner(pb::trade_partner::Kind::EconomicBloc, "ASEAN"),
        ))
        .await
        .unwrap();
    assert_eq!(bloc.display_name_ko, "", "CLDR names countries only");
    let found: Vec<pb::TradePartner> = c
        .list_trade_partners(pb::ListTradePartnersRequest {
            filter: "search:\"대한민국\"".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "tradePartners/kr");
    // Clearing a country's Korean name gives it CLDR's again.
    let cleared = c
        .update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(pb::TradePartner {
                name: "tradePartners/vn".into(),
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["display_name_ko".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cleared.display_name_ko, "베트남");
}
