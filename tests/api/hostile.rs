//! Hostile input over every RPC: each bad request gets its exact code (and, for
//! INVALID_ARGUMENT, the offending field), and the database is byte-for-byte unchanged
//! afterwards.

use std::{future::Future, pin::Pin};

use registry_client::prost_types::{FieldMask, Timestamp};
use registry_e2e::{Error, TestApp, create, create_partner, goal, partner, pb};

type Call<'a> = Pin<Box<dyn Future<Output = Result<(), Error>> + 'a>>;

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// INVALID_ARGUMENT naming this field (or a field starting with it).
    Invalid(&'static str),
    NotFound,
    FailedPrecondition,
    ResourceExhausted,
}

fn check(label: &str, expect: Expect, got: Result<(), Error>) {
    match (expect, &got) {
        (Expect::Invalid(field), Err(Error::InvalidArgument { violations, .. })) => assert!(
            violations.iter().any(|v| v.field.starts_with(field)),
            "{label}: expected a violation of {field}, got {violations:?}"
        ),
        (Expect::NotFound, Err(Error::NotFound { .. }))
        | (Expect::FailedPrecondition, Err(Error::FailedPrecondition { .. }))
        | (Expect::ResourceExhausted, Err(Error::ResourceExhausted { .. })) => {}
        _ => panic!("{label}: expected {expect:?}, got {got:?}"),
    }
}

/// A digest of every table the API writes (token use times excluded: authentication
/// refreshes them).
async fn fingerprint(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "policy_goals",
        "trade_partners",
        "partner_members",
        "goal_partner_links",
        "trade_flows",
        "change_log",
        "request_ids",
    ] {
        let sql = format!("SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t");
        let (d,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_one(app.pool())
            .await
            .unwrap();
        out.push(format!("{table}:{d}"));
    }
    let (d,): (String,) = sqlx::query_as(
        "SELECT md5(coalesce(string_agg(concat_ws(',', id, role, description, revoke_time, expire_time), '|' ORDER BY id), ''))
         FROM api_tokens",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    out.push(format!("api_tokens:{d}"));
    out
}

const SQL: &str = "'; DROP TABLE policy_goals; --";

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| p.to_string()).collect(),
    })
}

fn goal_with(f: impl FnOnce(&mut pb::PolicyGoal)) -> pb::PolicyGoal {
    let mut g = goal("Valid title", pb::Pillar::IndustrialResurgence);
    f(&mut g);
    g
}

fn partner_with(f: impl FnOnce(&mut pb::TradePartner)) -> pb::TradePartner {
    let mut p = partner(pb::trade_partner::Kind::Country, "Japan");
    f(&mut p);
    p
}

/// On a thread of its own: the body builds every case's call in one frame, which in a debug
/// build comes close to the 2 MiB stack a test thread gets (about 1.9 MB).
#[test]
fn every_rpc_rejects_hostile_input_and_changes_nothing() {
    let run = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(hostile_calls());
    };
    let done = std::thread::Builder::new()
        .stack_size(16 << 20)
        .spawn(run)
        .expect("thread")
        .join();
    if let Err(panic) = done {
        std::panic::resume_unwind(panic);
    }
}

async fn hostile_calls() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    // Some state to leave untouched.
    c.create_trade_partner(create_partner(
        "us",
        partner(pb::trade_partner::Kind::Country, "United States"),
    ))
    .await
    .unwrap();
    let mut g = goal("Existing", pb::Pillar::TradeNationalInterest);
    g.linked_partners = vec!["tradePartners/us".into()];
    let existing = c.create_policy_goal(create("existing", g)).await.unwrap();
    c.upsert_trade_flow("tradePartners/us", 2024, 100, 50).await.unwrap();
    let before = fingerprint(&app).await;

    let long = "x".repeat(201);
    let nul = "bad\0title".to_owned();
    let huge_labels: std::collections::HashMap<String, String> =
        (0..100_000).map(|i| (format!("k{i}"), "v".to_owned())).collect();
    let nested_filter = format!("{}state = ACTIVE{}", "(".repeat(40), ")".repeat(40));
    let ts = |seconds| Some(Timestamp { seconds, nanos: 0 });

    let mut cases: Vec<(&str, Expect, Call)> = Vec::new();
    macro_rules! case {
        ($label:expr, $expect:expr, $call:expr) => {
            let fut = $call;
            cases.push(($label, $expect, Box::pin(async move { fut.await.map(|_| ()) })));
        };
    }
    use Expect::*;

    // ---- goals: create ----
    for (label, id) in [
        ("empty id", ""),
        ("path id", "../x"),
        ("upper id", "UPPER"),
        ("sql id", SQL),
        ("nul id", "a\0b"),
        (
            "long id",
            "a234567890123456789012345678901234567890123456789012345678901234",
        ),
    ] {
        case!(
            label,
            Invalid("policy_goal_id"),
            c.create_policy_goal(create(id, goal("T", pb::Pillar::IndustrialResurgence)))
        );
    }
    case!(
        "empty title",
        Invalid("policy_goal.title"),
        c.create_policy_goal(create("g1", goal_with(|g| g.title = String::new())))
    );
    case!(
        "oversized title",
        Invalid("policy_goal.title"),
        c.create_policy_goal(create("g1", goal_with(|g| g.title = long.clone())))
    );
    case!(
        "nul title",
        Invalid("policy_goal.title"),
        c.create_policy_goal(create("g1", goal_with(|g| g.title = nul.clone())))
    );
    case!(
        "unknown pillar",
        Invalid("policy_goal.pillar"),
        c.create_policy_goal(create("g1", goal_with(|g| g.pillar = 99)))
    );
    case!(
        "unknown state",
        Invalid("policy_goal.state"),
        c.create_policy_goal(create("g1", goal_with(|g| g.state = -3)))
    );
    for (label, v) in [("nan", f64::NAN), ("inf", f64::INFINITY), ("-inf", f64::NEG_INFINITY)] {
        case!(
            label,
            Invalid("policy_goal.targets[0].target_value"),
            c.create_policy_goal(create(
                "g1",
                goal_with(|g| g.targets = vec![pb::Target {
                    metric: "m".into(),
                    unit: "u".into(),
                    target_value: v,
                    direction: pb::target::Direction::IncreaseTo.into(),
                    target_year: 2030,
                    ..Default::default()
                }])
            ))
        );
    }
    for (label, year) in [("year 0", 0), ("year 99999", 99_999), ("year -1", -1)] {
        case!(
            label,
            Invalid("policy_goal.targets[0].target_year"),
            c.create_policy_goal(create(
                "g1",
                goal_with(|g| g.targets = vec![pb::Target {
                    metric: "m".into(),
                    unit: "u".into(),
                    target_value: 1.0,
                    direction: pb::target::Direction::IncreaseTo.into(),
                    target_year: year,
                    ..Default::default()
                }])
            ))
        );
    }
    case!(
        "100k labels",
        Invalid("policy_goal.labels"),
        c.create_policy_goal(create("g1", goal_with(|g| g.labels = huge_labels.clone())))
    );
    case!(
        "5 MB message",
        ResourceExhausted,
        c.create_policy_goal(create("g1", goal_with(|g| g.description = "x".repeat(5 * 1024 * 1024))))
    );
    case!(
        "sql label key",
        Invalid("policy_goal.labels"),
        c.create_policy_goal(create(
            "g1",
            goal_with(|g| {
                g.labels.insert(SQL.into(), "v".into());
            })
        ))
    );
    case!(
        "parent path trick",
        Invalid("policy_goal.parent"),
        c.create_policy_goal(create("g1", goal_with(|g| g.parent = "policyGoals/../existing".into())))
    );
    case!(
        "missing parent",
        FailedPrecondition,
        c.create_policy_goal(create("g1", goal_with(|g| g.parent = "policyGoals/nope".into())))
    );
    case!(
        "partner of another collection",
        Invalid("policy_goal.linked_partners"),
        c.create_policy_goal(create(
            "g1",
            goal_with(|g| g.linked_partners = vec!["policyGoals/existing".into()])
        ))
    );
    case!(
        "missing partner",
        FailedPrecondition,
        c.create_policy_goal(create(
            "g1",
            goal_with(|g| g.linked_partners = vec!["tradePartners/jp".into()])
        ))
    );
    // ---- goals: batch create (all or nothing: the valid first create is not stored) ----
    case!(
        "batch create nul title",
        Invalid("requests[1].policy_goal.title"),
        c.batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            requests: vec![
                create("g1", goal("T", pb::Pillar::IndustrialResurgence)),
                create("g2", goal(&nul, pb::Pillar::IndustrialResurgence)),
            ],
            ..Default::default()
        })
    );
    case!(
        "batch create path id",
        Invalid("requests[1].policy_goal_id"),
        c.batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            requests: vec![
                create("g1", goal("T", pb::Pillar::IndustrialResurgence)),
                create("../x", goal("T", pb::Pillar::IndustrialResurgence)),
            ],
            ..Default::default()
        })
    );
    case!(
        "batch create missing partner",
        FailedPrecondition,
        c.batch_create_policy_goals(pb::BatchCreatePolicyGoalsRequest {
            requests: vec![
                create("g1", goal("T", pb::Pillar::IndustrialResurgence)),
                create("g2", goal_with(|g| g.linked_partners = vec!["tradePartners/jp".into()])),
            ],
            ..Default::default()
        })
    );
    case!(
        "bad request id",
        Invalid("request_id"),
        c.create_policy_goal(pb::CreatePolicyGoalRequest {
            request_id: "has spaces and \0".into(),
            ..create("g1", goal("T", pb::Pillar::IndustrialResurgence))
        })
    );
    case!(
        "no goal",
        Invalid("policy_goal"),
        c.create_policy_goal(pb::CreatePolicyGoalRequest {
            policy_goal_id: "g1".into(),
            ..Default::default()
        })
    );

    // ---- goals: get, list, batch, update, delete, undelete, state ----
    for (label, name) in [
        ("get empty", ""),
        ("get traversal", "policyGoals/../existing"),
        ("get other collection", "tradePartners/us"),
        ("get sql", SQL),
        ("get nul", "policyGoals/a\0"),
    ] {
        case!(label, Invalid("name"), c.get_policy_goal(name));
    }
    case!("get missing", NotFound, c.get_policy_goal("policyGoals/missing"));
    case!(
        "read_time in the future",
        Invalid("read_time"),
        c.get_policy_goal_at(
            "policyGoals/existing",
            Timestamp {
                seconds: 32_503_680_000,
                nanos: 0
            }
        )
    );
    case!(
        "read_time bad nanos",
        Invalid("read_time"),
        c.get_policy_goal_at("policyGoals/existing", Timestamp { seconds: 0, nanos: -1 })
    );
    for (label, filter, order_by, page_token, page_size) in [
        ("filter sql", SQL.to_owned(), "", "", 0),
        ("filter unknown field", "secret = 1".to_owned(), "", "", 0),
        ("filter nested", nested_filter.clone(), "", "", 0),
        ("filter long", format!("title = \"{}\"", "x".repeat(3000)), "", "", 0),
        ("order_by sql", String::new(), "title; DROP TABLE x", "", 0),
        ("order_by unknown", String::new(), "etag", "", 0),
        ("page token forged", String::new(), "", "AAAA", 0),
        ("negative page size", String::new(), "", "", -5),
    ] {
        let field = match label {
            l if l.starts_with("filter") => "filter",
            l if l.starts_with("order_by") => "order_by",
            l if l.starts_with("page token") => "page_token",
            _ => "page_size",
        };
        case!(
            label,
            Invalid(field),
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                filter,
                order_by: order_by.into(),
                page_token: page_token.into(),
                page_size,
                ..Default::default()
            })
        );
    }
    case!(
        "batch empty",
        Invalid("names"),
        c.batch_get_policy_goals(Vec::<String>::new())
    );
    case!(
        "batch bad name",
        Invalid("names[1]"),
        c.batch_get_policy_goals(["policyGoals/existing", "../x"])
    );
    case!(
        "batch missing",
        NotFound,
        c.batch_get_policy_goals(["policyGoals/existing", "policyGoals/missing"])
    );
    case!(
        "update no goal",
        Invalid("policy_goal"),
        c.update_policy_goal(pb::UpdatePolicyGoalRequest::default())
    );
    case!(
        "update output-only mask",
        Invalid("update_mask"),
        c.update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: existing.name.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["revision"]),
            ..Default::default()
        })
    );
    case!(
        "update sql mask",
        Invalid("update_mask"),
        c.update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: existing.name.clone(),
                ..Default::default()
            }),
            update_mask: mask(&[SQL]),
            ..Default::default()
        })
    );
    case!(
        "update nul title",
        Invalid("policy_goal.title"),
        c.update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: existing.name.clone(),
                title: nul.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["title"]),
            ..Default::default()
        })
    );
    case!(
        "update missing",
        NotFound,
        c.update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/missing".into(),
                title: "T".into(),
                ..Default::default()
            }),
            update_mask: mask(&["title"]),
            ..Default::default()
        })
    );
    case!(
        "delete bad name",
        Invalid("name"),
        c.delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: SQL.into(),
            ..Default::default()
        })
    );
    case!(
        "delete missing",
        NotFound,
        c.delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: "policyGoals/missing".into(),
            ..Default::default()
        })
    );
    case!(
        "undelete live",
        Invalid("name"),
        c.undelete_policy_goal(pb::UndeletePolicyGoalRequest {
            name: "../x".into(),
            ..Default::default()
        })
    );
    case!(
        "state unknown",
        Invalid("state"),
        c.change_policy_goal_state(pb::ChangePolicyGoalStateRequest {
            name: existing.name.clone(),
            state: 42,
            ..Default::default()
        })
    );
    case!(
        "state close without outcome",
        Invalid("outcome"),
        c.change_policy_goal_state(pb::ChangePolicyGoalStateRequest {
            name: existing.name.clone(),
            state: pb::policy_goal::State::Closed.into(),
            ..Default::default()
        })
    );

    // ---- partners ----
    case!(
        "partner bad country code",
        Invalid("trade_partner_id"),
        c.create_trade_partner(create_partner("zz", partner_with(|_| {})))
    );
    case!(
        "partner sql id",
        Invalid("trade_partner_id"),
        c.create_trade_partner(create_partner(SQL, partner_with(|_| {})))
    );
    case!(
        "partner unknown kind",
        Invalid("trade_partner.kind"),
        c.create_trade_partner(create_partner("jp", partner_with(|p| p.kind = 77)))
    );
    case!(
        "partner nul name",
        Invalid("trade_partner.display_name"),
        c.create_trade_partner(create_partner("jp", partner_with(|p| p.display_name = nul.clone())))
    );
    case!(
        "partner huge labels",
        Invalid("trade_partner.labels"),
        c.create_trade_partner(create_partner("jp", partner_with(|p| p.labels = huge_labels.clone())))
    );
    case!(
        "partner members of a country",
        Invalid("trade_partner.members"),
        c.create_trade_partner(create_partner(
            "jp",
            partner_with(|p| p.members = vec!["tradePartners/us".into()])
        ))
    );
    case!(
        "bloc with missing member",
        FailedPrecondition,
        c.create_trade_partner(create_partner(
            "bloc",
            pb::TradePartner {
                members: vec!["tradePartners/jp".into()],
                ..partner(pb::trade_partner::Kind::EconomicBloc, "Bloc")
            }
        ))
    );
    case!(
        "partner get traversal",
        Invalid("name"),
        c.get_trade_partner("tradePartners/../us")
    );
    case!("partner get missing", NotFound, c.get_trade_partner("tradePartners/jp"));
    case!(
        "partner filter sql",
        Invalid("filter"),
        c.list_trade_partners_page(pb::ListTradePartnersRequest {
            filter: SQL.into(),
            ..Default::default()
        })
    );
    case!(
        "partner order sql",
        Invalid("order_by"),
        c.list_trade_partners_page(pb::ListTradePartnersRequest {
            order_by: SQL.into(),
            ..Default::default()
        })
    );
    case!(
        "partner batch missing",
        NotFound,
        c.batch_get_trade_partners(["tradePartners/us", "tradePartners/jp"])
    );
    case!(
        "partner update kind",
        Invalid("trade_partner.kind"),
        c.update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(pb::TradePartner {
                name: "tradePartners/us".into(),
                kind: pb::trade_partner::Kind::Forum.into(),
                ..Default::default()
            }),
            update_mask: mask(&["kind"]),
            ..Default::default()
        })
    );
    case!(
        "partner delete linked",
        FailedPrecondition,
        c.delete_trade_partner(pb::DeleteTradePartnerRequest {
            name: "tradePartners/us".into(),
            ..Default::default()
        })
    );
    case!(
        "partner undelete missing",
        NotFound,
        c.undelete_trade_partner(pb::UndeleteTradePartnerRequest {
            name: "tradePartners/jp".into(),
            ..Default::default()
        })
    );

    // ---- trade flows and analytics ----
    let flow = |name: &str, ex: i64| pb::UpdateTradeFlowRequest {
        trade_flow: Some(pb::TradeFlow {
            name: name.into(),
            exports_usd: ex,
            imports_usd: 0,
            ..Default::default()
        }),
        allow_missing: true,
        validate_only: false,
    };
    case!(
        "flow negative",
        Invalid("trade_flow.exports_usd"),
        c.update_trade_flow(flow("tradePartners/us/tradeFlows/2024", -1))
    );
    case!(
        "flow year text",
        Invalid("trade_flow.name"),
        c.update_trade_flow(flow("tradePartners/us/tradeFlows/20x4", 1))
    );
    case!(
        "flow year out of range",
        Invalid("trade_flow.name"),
        c.update_trade_flow(flow("tradePartners/us/tradeFlows/9999", 1))
    );
    case!(
        "flow sql",
        Invalid("trade_flow.name"),
        c.update_trade_flow(flow(SQL, 1))
    );
    case!(
        "flow missing partner",
        NotFound,
        c.update_trade_flow(flow("tradePartners/jp/tradeFlows/2024", 1))
    );
    case!(
        "flow get missing",
        NotFound,
        c.get_trade_flow("tradePartners/us/tradeFlows/1999")
    );
    case!(
        "flow list bad parent",
        Invalid("parent"),
        c.list_trade_flows_page(pb::ListTradeFlowsRequest {
            parent: "tradePartners/*".into(),
            ..Default::default()
        })
    );
    case!(
        "flow delete missing",
        NotFound,
        c.delete_trade_flow(pb::DeleteTradeFlowRequest {
            name: "tradePartners/us/tradeFlows/1999".into(),
            ..Default::default()
        })
    );
    case!(
        "concentration bad year",
        Invalid("year"),
        c.get_export_concentration(pb::GetExportConcentrationRequest {
            year: -2024,
            ..Default::default()
        })
    );
    case!(
        "concentration inf threshold",
        Invalid("dependency_threshold"),
        c.get_export_concentration(pb::GetExportConcentrationRequest {
            year: 2024,
            top_n: 0,
            dependency_threshold: Some(f64::INFINITY)
        })
    );

    // ---- change feed and admin ----
    case!(
        "changes bad type",
        Invalid("resource_type"),
        c.list_changes_page(pb::ListChangesRequest {
            resource_type: SQL.into(),
            ..Default::default()
        })
    );
    case!(
        "changes bad page size",
        Invalid("page_size"),
        c.list_changes_page(pb::ListChangesRequest {
            page_size: -1,
            ..Default::default()
        })
    );
    case!(
        "token bad role",
        Invalid("role"),
        c.create_token(pb::CreateTokenRequest {
            role: 99,
            description: "x".into(),
            ..Default::default()
        })
    );
    case!(
        "token nul description",
        Invalid("description"),
        c.create_token(pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            description: nul.clone(),
            ..Default::default()
        })
    );
    case!(
        "token past expiry",
        Invalid("expire_time"),
        c.create_token(pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            expire_time: ts(1),
            ..Default::default()
        })
    );
    case!("revoke bad name", Invalid("name"), c.revoke_token(SQL));
    case!("revoke missing", NotFound, c.revoke_token("tokens/aaaaaaaaaaaa"));

    let n = cases.len();
    for (label, expect, call) in cases {
        check(label, expect, call.await);
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "the database is byte-for-byte unchanged after {n} hostile calls"
    );

    // SQL metacharacters are just text where text is allowed: stored and returned verbatim.
    let stored = c
        .create_policy_goal(create(
            "verbatim",
            goal_with(|g| {
                g.title = SQL.into();
                g.description = "a\\b%c_d\"e'f".into();
            }),
        ))
        .await
        .unwrap();
    let got = c.get_policy_goal(&stored.name).await.unwrap();
    assert_eq!((got.title.as_str(), got.description.as_str()), (SQL, "a\\b%c_d\"e'f"));
}
