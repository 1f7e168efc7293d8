//! ListPolicyGoals `filter` (AIP-160) end to end, through registry-client.

use std::collections::HashSet;

use futures::TryStreamExt;
use registry_e2e::{Error, TestApp, create, goal, pb};

fn mask(paths: &[&str]) -> Option<registry_client::prost_types::FieldMask> {
    Some(registry_client::prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

fn target(metric: &str, year: i32) -> pb::Target {
    pb::Target {
        metric: metric.into(),
        unit: "units".into(),
        target_value: 100.0,
        direction: pb::target::Direction::IncreaseTo.into(),
        target_year: year,
        ..Default::default()
    }
}

fn label_map(pairs: &[(&str, &str)]) -> std::collections::HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

async fn set_state(app: &TestApp, id: &str, state: pb::policy_goal::State, outcome: pb::policy_goal::Outcome) {
    app.client
        .change_policy_goal_state(pb::ChangePolicyGoalStateRequest {
            name: format!("policyGoals/{id}"),
            state: state.into(),
            outcome: outcome.into(),
            ..Default::default()
        })
        .await
        .unwrap();
}

/// A small registry:
///
/// | id | pillar | parent | state | sectors | target years | other |
/// | --- | --- | --- | --- | --- | --- | --- |
/// | ir | INDUSTRIAL_RESURGENCE | | ACTIVE | semiconductors, ai | 2030 | regions gyeonggi, partner us, labels env=prod tier=1, org "MOTIE Industrial Policy" |
/// | fabs | (IR) | ir | ACTIVE | semiconductors | 2028, 2035 | title "Semiconductor fabs" |
/// | late | (IR) | ir | ACTIVE | semiconductors | 2035 | |
/// | cells | INDUSTRIAL_RESURGENCE | | PLANNED | batteries | 2030 | labels env=dev |
/// | fta | TRADE_NATIONAL_INTEREST | | ACTIVE | semiconductors | 2029 | regions seoul, partners vn us, org KOTRA |
/// | green | SUSTAINABLE_GROWTH_PARTNERSHIP | | CLOSED | | | title_ko 탄소중립, description "Hydrogen valleys" |
async fn fixture() -> TestApp {
    use pb::policy_goal::{Outcome, State};
    let app = TestApp::spawn().await;
    let c = &app.client;
    for (code, name) in [("us", "United States"), ("vn", "Viet Nam")] {
        c.create_trade_partner(pb::CreateTradePartnerRequest {
            trade_partner_id: code.into(),
            trade_partner: Some(pb::TradePartner {
                kind: pb::trade_partner::Kind::Country.into(),
                display_name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut ir = goal("Industrial resurgence through AI", pb::Pillar::IndustrialResurgence);
    ir.sectors = vec!["semiconductors".into(), "ai".into()];
    ir.regions = vec!["gyeonggi".into()];
    ir.linked_partners = vec!["tradePartners/us".into()];
    ir.labels = label_map(&[("env", "prod"), ("tier", "1")]);
    ir.lead_organization = "MOTIE Industrial Policy".into();
    ir.targets = vec![target("ai-factories", 2030)];
    c.create_policy_goal(create("ir", ir)).await.unwrap();

    let child = |title: &str, years: &[i32]| pb::PolicyGoal {
        title: title.into(),
        parent: "policyGoals/ir".into(),
        sectors: vec!["semiconductors".into()],
        targets: years
            .iter()
            .enumerate()
            .map(|(i, y)| target(&format!("m{i}"), *y))
            .collect(),
        ..Default::default()
    };
    c.create_policy_goal(create("fabs", child("Semiconductor fabs", &[2028, 2035])))
        .await
        .unwrap();
    c.create_policy_goal(create("late", child("Next-generation packaging", &[2035])))
        .await
        .unwrap();

    let mut cells = goal("Battery cells", pb::Pillar::IndustrialResurgence);
    cells.sectors = vec!["batteries".into()];
    cells.labels = label_map(&[("env", "dev")]);
    cells.targets = vec![target("gwh", 2030)];
    cells.state = pb::policy_goal::State::Planned.into();
    c.create_policy_goal(create("cells", cells)).await.unwrap();

    let mut fta = goal("FTA network", pb::Pillar::TradeNationalInterest);
    fta.sectors = vec!["semiconductors".into()];
    fta.regions = vec!["seoul".into()];
    fta.linked_partners = vec!["tradePartners/vn".into(), "tradePartners/us".into()];
    fta.lead_organization = "KOTRA".into();
    fta.targets = vec![target("ftas", 2029)];
    c.create_policy_goal(create("fta", fta)).await.unwrap();

    let mut green = goal("Green growth", pb::Pillar::SustainableGrowthPartnership);
    green.title_ko = "탄소중립 성장".into();
    green.description = "Hydrogen valleys and offshore wind".into();
    c.create_policy_goal(create("green", green)).await.unwrap();

    for id in ["ir", "fabs", "late", "fta"] {
        set_state(&app, id, State::Active, Outcome::Unspecified).await;
    }
    set_state(&app, "green", State::Closed, Outcome::Achieved).await;
    app
}

/// Ids of every goal the filter selects (all pages), sorted.
async fn ids(app: &TestApp, filter: &str) -> Vec<String> {
    let goals: Vec<pb::PolicyGoal> = app
        .client
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            page_size: 2,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap_or_else(|e| panic!("{filter:?}: {e}"));
    let mut ids: Vec<String> = goals
        .into_iter()
        .map(|g| g.name.trim_start_matches("policyGoals/").to_owned())
        .collect();
    ids.sort();
    ids
}

async fn check(app: &TestApp, filter: &str, expected: &[&str]) {
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
    expected.sort();
    assert_eq!(ids(app, filter).await, expected, "filter {filter:?}");
}

/// The description of the `filter` violation of an INVALID_ARGUMENT (panics otherwise).
async fn filter_error(app: &TestApp, filter: &str) -> String {
    let r = app
        .client
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            ..Default::default()
        })
        .await;
    match r {
        Err(Error::InvalidArgument { violations, .. }) => {
            assert_eq!(violations.len(), 1, "{filter:?}: {violations:?}");
            assert_eq!(violations[0].field, "filter", "{filter:?}");
            violations[0].description.clone()
        }
        other => panic!("{filter:?}: expected INVALID_ARGUMENT, got {other:?}"),
    }
}

#[tokio::test]
async fn the_issue_question_is_one_list_call() {
    let app = fixture().await;
    // "All ACTIVE goals under INDUSTRIAL_RESURGENCE touching semiconductors with a target due
    // by 2030."
    let page = app
        .client
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: "state = ACTIVE AND pillar = INDUSTRIAL_RESURGENCE AND sectors:semiconductors \
                     AND targets.target_year <= 2030"
                .into(),
            order_by: "title".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let names: Vec<&str> = page.policy_goals.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["policyGoals/ir", "policyGoals/fabs"]);
    assert_eq!(page.total_size, 2);
    assert!(page.next_page_token.is_empty());
    // The same with full enum names and juxtaposition.
    check(
        &app,
        "state=STATE_ACTIVE pillar=PILLAR_INDUSTRIAL_RESURGENCE sectors=\"semiconductors\" targets.target_year<=2030",
        &["fabs", "ir"],
    )
    .await;
}

#[tokio::test]
async fn pillar() {
    let app = fixture().await;
    check(&app, "pillar = INDUSTRIAL_RESURGENCE", &["cells", "fabs", "ir", "late"]).await;
    check(&app, "pillar = PILLAR_TRADE_NATIONAL_INTEREST", &["fta"]).await;
    check(&app, "pillar != INDUSTRIAL_RESURGENCE", &["fta", "green"]).await;
    check(
        &app,
        "NOT pillar = SUSTAINABLE_GROWTH_PARTNERSHIP AND pillar != INDUSTRIAL_RESURGENCE",
        &["fta"],
    )
    .await;
}

#[tokio::test]
async fn state() {
    let app = fixture().await;
    check(&app, "state = ACTIVE", &["fabs", "fta", "ir", "late"]).await;
    check(&app, "state = PLANNED", &["cells"]).await;
    check(&app, "state = STATE_CLOSED", &["green"]).await;
    check(&app, "state = ON_HOLD", &[]).await;
    check(&app, "state != ACTIVE", &["cells", "green"]).await;
}

#[tokio::test]
async fn parent() {
    let app = fixture().await;
    check(&app, "parent = \"policyGoals/ir\"", &["fabs", "late"]).await;
    check(&app, "parent = policyGoals/fta", &[]).await;
    check(&app, "parent = \"\"", &["cells", "fta", "green", "ir"]).await;
    check(&app, "parent:*", &["fabs", "late"]).await;
    // Root goals have no parent, so they are "not equal" to one.
    check(&app, "parent != \"policyGoals/ir\"", &["cells", "fta", "green", "ir"]).await;
}

#[tokio::test]
async fn sectors() {
    let app = fixture().await;
    check(&app, "sectors:semiconductors", &["fabs", "fta", "ir", "late"]).await;
    check(&app, "sectors = \"batteries\"", &["cells"]).await;
    check(&app, "sectors:ai", &["ir"]).await;
    check(&app, "sectors:semi", &[]).await;
    check(&app, "sectors:*", &["cells", "fabs", "fta", "ir", "late"]).await;
    check(&app, "NOT sectors:semiconductors", &["cells", "green"]).await;
}

#[tokio::test]
async fn regions() {
    let app = fixture().await;
    check(&app, "regions:seoul", &["fta"]).await;
    check(&app, "regions = gyeonggi", &["ir"]).await;
    check(&app, "regions:busan", &[]).await;
    check(&app, "regions:* ", &["fta", "ir"]).await;
}

#[tokio::test]
async fn linked_partners() {
    let app = fixture().await;
    check(&app, "linked_partners:\"tradePartners/us\"", &["fta", "ir"]).await;
    check(&app, "linked_partners = tradePartners/vn", &["fta"]).await;
    check(&app, "linked_partners:tradePartners/cn", &[]).await;
    check(&app, "linked_partners:*", &["fta", "ir"]).await;
    assert!(
        filter_error(&app, "linked_partners:us")
            .await
            .contains("tradePartners/{id}")
    );
}

#[tokio::test]
async fn lead_organization() {
    let app = fixture().await;
    check(&app, "lead_organization = KOTRA", &["fta"]).await;
    check(&app, "lead_organization = \"kotra\"", &[]).await;
    check(&app, "lead_organization:\"industrial\"", &["ir"]).await;
    check(&app, "lead_organization = \"motie*\"", &["ir"]).await;
    check(&app, "lead_organization:*", &["fta", "ir"]).await;
    check(&app, "lead_organization = \"\"", &["cells", "fabs", "green", "late"]).await;
    // An empty organization is "not equal" too.
    check(
        &app,
        "lead_organization != \"KOTRA\"",
        &["cells", "fabs", "green", "ir", "late"],
    )
    .await;
}

#[tokio::test]
async fn title() {
    let app = fixture().await;
    check(&app, "title = \"Battery cells\"", &["cells"]).await;
    check(&app, "title = \"battery cells\"", &[]).await;
    check(&app, "title = \"*AI*\"", &["ir"]).await;
    check(&app, "title = \"*ai*\"", &["ir"]).await; // case-insensitive
    check(&app, "title = \"*through ai\"", &["ir"]).await;
    check(&app, "title = \"semi*\"", &["fabs"]).await;
    check(&app, "title != \"*a*\"", &["green"]).await;
    check(&app, "title:\"FAB\"", &["fabs"]).await;
    check(&app, "title:\"zzz\"", &[]).await;
    check(&app, "title < \"C\"", &["cells"]).await;
    check(&app, "title >= \"N\"", &["fabs", "late"]).await;
}

#[tokio::test]
async fn labels() {
    let app = fixture().await;
    check(&app, "labels.env = prod", &["ir"]).await;
    check(&app, "labels.env:dev", &["cells"]).await;
    check(&app, "labels.env = staging", &[]).await;
    check(&app, "labels.tier = 1", &["ir"]).await;
    check(&app, "labels.env:*", &["cells", "ir"]).await;
    check(&app, "labels:tier", &["ir"]).await;
    check(&app, "labels:*", &["cells", "ir"]).await;
    // A missing label is "not equal" too.
    check(&app, "labels.env != prod", &["cells", "fabs", "fta", "green", "late"]).await;
}

#[tokio::test]
async fn create_time_and_update_time() {
    let app = fixture().await;
    let c = &app.client;
    let all: Vec<pb::PolicyGoal> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            order_by: "create_time".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let created = |id: &str| {
        all.iter()
            .find(|g| g.name == format!("policyGoals/{id}"))
            .and_then(|g| g.create_time)
            .unwrap()
            .to_string()
    };
    // Goals were created in the order ir, fabs, late, cells, fta, green.
    check(
        &app,
        &format!("create_time > \"{}\"", created("cells")),
        &["fta", "green"],
    )
    .await;
    check(
        &app,
        &format!("create_time >= \"{}\"", created("cells")),
        &["cells", "fta", "green"],
    )
    .await;
    check(&app, &format!("create_time = \"{}\"", created("late")), &["late"]).await;
    check(&app, &format!("create_time < \"{}\"", created("ir")), &[]).await;
    check(&app, "create_time > \"2100-01-01T00:00:00Z\"", &[]).await;
    check(
        &app,
        "create_time > \"2000-01-01T09:00:00+09:00\"",
        &["cells", "fabs", "fta", "green", "ir", "late"],
    )
    .await;

    // Touch one goal; it alone is updated after everything else.
    let newest = all
        .iter()
        .filter_map(|g| g.update_time)
        .max_by_key(|t| (t.seconds, t.nanos))
        .unwrap();
    c.update_policy_goal(pb::UpdatePolicyGoalRequest {
        policy_goal: Some(pb::PolicyGoal {
            name: "policyGoals/cells".into(),
            title: "Battery cells (revised)".into(),
            ..Default::default()
        }),
        update_mask: mask(&["title"]),
        ..Default::default()
    })
    .await
    .unwrap();
    check(&app, &format!("update_time > \"{newest}\""), &["cells"]).await;
    check(
        &app,
        &format!("update_time <= \"{newest}\" AND pillar = INDUSTRIAL_RESURGENCE"),
        &["fabs", "ir", "late"],
    )
    .await;
    assert!(filter_error(&app, "update_time > 2026").await.contains("RFC 3339"));
}

#[tokio::test]
async fn target_year() {
    let app = fixture().await;
    // A goal matches when ANY of its targets does (fabs has 2028 and 2035).
    check(&app, "targets.target_year = 2035", &["fabs", "late"]).await;
    check(&app, "targets.target_year < 2030", &["fabs", "fta"]).await;
    check(&app, "targets.target_year <= 2030", &["cells", "fabs", "fta", "ir"]).await;
    check(&app, "targets.target_year > 2030", &["fabs", "late"]).await;
    check(&app, "targets.target_year >= 2040", &[]).await;
    check(&app, "targets.target_year != 2030", &["fabs", "fta", "late"]).await;
    // No target at all: nothing to compare, and NOT flips that.
    check(&app, "NOT targets.target_year > 0", &["green"]).await;
}

#[tokio::test]
async fn search() {
    let app = fixture().await;
    check(&app, "search:\"semiconductor\"", &["fabs"]).await;
    check(&app, "search:hydrogen", &["green"]).await; // description
    check(&app, "search = \"탄소중립\"", &["green"]).await; // title_ko
    check(&app, "search:\"ai\"", &["ir"]).await; // case-insensitive
    check(&app, "search:\"VALLEYS\"", &["green"]).await;
    check(&app, "search:\"nothing like this\"", &[]).await;
    // A bare literal is a search, too.
    check(&app, "Hydrogen", &["green"]).await;
    check(&app, "\"battery cells\"", &["cells"]).await;
}

/// Korean text typed or pasted in decomposed form (NFD jamo, as some macOS input gives it)
/// is stored composed (NFC) and found by a search in either form; the other way round too.
#[tokio::test]
async fn search_compares_unicode_nfc_on_both_sides() {
    use unicode_normalization::UnicodeNormalization;
    let app = TestApp::spawn().await;
    let c = &app.client;
    let composed = "반도체 제조";
    let decomposed: String = composed.nfd().collect();
    assert_ne!(composed, decomposed);
    let mut g = goal(&decomposed, pb::Pillar::IndustrialResurgence);
    g.title_ko = decomposed.clone();
    let created = c.create_policy_goal(create("chips", g)).await.unwrap();
    assert_eq!(
        (created.title.as_str(), created.title_ko.as_str()),
        (composed, composed),
        "stored composed"
    );
    let mut other = goal("Other", pb::Pillar::IndustrialResurgence);
    other.title_ko = "무역".into();
    c.create_policy_goal(create("other", other)).await.unwrap();
    let nfd_term: String = "반도체".nfd().collect();
    check(&app, "search:\"반도체\"", &["chips"]).await;
    check(&app, &format!("search:\"{nfd_term}\""), &["chips"]).await;
    check(&app, &format!("title = \"{decomposed}\""), &["chips"]).await;
    check(&app, &format!("title = \"{composed}\""), &["chips"]).await;

    // Partners: a decomposed display name is stored composed; an update normalises too.
    c.create_trade_partner(pb::CreateTradePartnerRequest {
        trade_partner_id: "kr".into(),
        trade_partner: Some(pb::TradePartner {
            kind: pb::trade_partner::Kind::Country.into(),
            display_name: "Korea".into(),
            display_name_ko: "대한민국".nfd().collect(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let found: Vec<pb::TradePartner> = c
        .list_trade_partners(pb::ListTradePartnersRequest {
            filter: format!("search:\"{}\"", "한민".nfd().collect::<String>()),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].display_name_ko, "대한민국");
    let updated = c
        .update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(pb::TradePartner {
                name: "tradePartners/kr".into(),
                description_ko: "수출 시장".nfd().collect(),
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["description_ko".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(updated.description_ko, "수출 시장");
}

#[tokio::test]
async fn operators_combine_with_aip160_precedence() {
    let app = fixture().await;
    // OR binds tighter than AND.
    check(&app, "state = ACTIVE AND sectors:ai OR sectors:batteries", &["ir"]).await;
    check(
        &app,
        "(state = ACTIVE AND sectors:ai) OR sectors:batteries",
        &["cells", "ir"],
    )
    .await;
    check(&app, "-state = ACTIVE", &["cells", "green"]).await;
    check(&app, "NOT (state = ACTIVE OR state = PLANNED)", &["green"]).await;
    check(&app, "sectors:semiconductors -parent:*", &["fta", "ir"]).await;
}

#[tokio::test]
async fn metacharacters_match_literally() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for (id, title) in [
        ("injection", "'; DROP TABLE policy_goals; --"),
        ("percent", "Tariffs cut by 50% overall"),
        ("fifty", "Tariffs cut by 50 overall"),
        ("underscore", "snake_case plan"),
        ("nounderscore", "snakeXcase plan"),
        ("backslash", r"path\to plan"),
        ("quotes", r#"it's "quoted""#),
        ("star", "five * stars"),
    ] {
        c.create_policy_goal(create(id, goal(title, pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
    }
    check(&app, r#"title = "'; DROP TABLE policy_goals; --""#, &["injection"]).await;
    check(&app, r#"search:"DROP TABLE policy_goals""#, &["injection"]).await;
    check(&app, r#"title = '\'; DROP TABLE policy_goals; --'"#, &["injection"]).await;
    check(&app, r#"lead_organization = "x' OR '1'='1""#, &[]).await;
    check(&app, r#"labels.env = "'; DELETE FROM policy_goals; --""#, &[]).await;
    check(&app, r#"sectors:"') OR TRUE; --""#, &[]).await;
    check(&app, r#"title:"%""#, &["percent"]).await;
    check(&app, r#"title:"50%""#, &["percent"]).await;
    check(&app, r#"title = "*50%*""#, &["percent"]).await;
    check(&app, r#"title:"_""#, &["injection", "underscore"]).await; // policy_goals
    check(&app, r#"title:"e_c""#, &["underscore"]).await;
    check(&app, r#"title = "snake_case*""#, &["underscore"]).await;
    check(&app, r#"title:"\\""#, &["backslash"]).await;
    check(&app, r#"title = "path\\to plan""#, &["backslash"]).await;
    check(&app, r#"title = "*\\*""#, &["backslash"]).await;
    check(&app, r#"search:"it's \"quoted\"""#, &["quotes"]).await;
    check(&app, r#"title:"*""#, &["star"]).await; // `:` has no wildcards
    // Nothing broke: every goal is still there.
    assert_eq!(ids(&app, "").await.len(), 8);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM policy_goals")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(count, 8);
}

#[tokio::test]
async fn filter_errors_are_invalid_argument_on_filter() {
    let app = fixture().await;
    for (filter, expected) in [
        ("state = ACTIVE)", "at 14: unexpected token \")\""),
        ("state = BOGUS", "at 8: unknown state \"BOGUS\""),
        ("state < ACTIVE", "at 6: \"<\" does not apply to state"),
        (
            "bogus = 1",
            "at 0: unknown field \"bogus\"; allowed: pillar, state, parent,",
        ),
        (
            "targets.target_year = \"2030\"",
            "at 22: targets.target_year is an integer",
        ),
        ("create_time:*", "at 11: \":\" does not apply to create_time"),
        ("title = \"unterminated", "at 8: unterminated string"),
        ("(state = ACTIVE", "at 15: expected \")\""),
        ("state = ACTIVE and pillar = X", "at 15: unexpected token \"and\""),
    ] {
        let got = filter_error(&app, filter).await;
        assert!(got.starts_with(expected), "{filter:?}: {got:?}");
    }
    let long = format!("search:\"{}\"", "x".repeat(2000));
    assert!(filter_error(&app, &long).await.contains("at most 2000"));
    let deep = format!("{}state = ACTIVE{}", "(".repeat(40), ")".repeat(40));
    assert!(filter_error(&app, &deep).await.contains("nested more than 32"));
    let many = vec!["sectors:ai"; 101].join(" OR ");
    assert!(filter_error(&app, &many).await.contains("more than 100 restrictions"));
    // A filter violation is reported together with the request's other violations.
    let r = app
        .client
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: "state <".into(),
            page_size: -1,
            order_by: "bogus".into(),
            ..Default::default()
        })
        .await;
    let mut fields = registry_e2e::violations(r);
    fields.sort();
    assert_eq!(fields, ["filter", "order_by", "page_size"]);
}

#[tokio::test]
async fn paging_with_a_filter_returns_each_match_once() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    for i in 0..30 {
        let mut g = goal(&format!("Goal {:02}", (i * 7) % 30), pb::Pillar::IndustrialResurgence);
        g.sectors = vec![if i % 3 == 0 { "batteries" } else { "semiconductors" }.into()];
        g.lead_organization = format!("org-{}", i % 4);
        c.create_policy_goal(create(&format!("g{i:02}"), g)).await.unwrap();
    }
    // One matching goal is soft-deleted: hidden unless show_deleted.
    c.delete_policy_goal(pb::DeletePolicyGoalRequest {
        name: "policyGoals/g01".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let filter = "sectors:semiconductors AND NOT lead_organization = \"org-3\"";
    let expected: HashSet<String> = (0..30)
        .filter(|i| i % 3 != 0 && i % 4 != 3 && *i != 1)
        .map(|i| format!("policyGoals/g{i:02}"))
        .collect();
    assert_eq!(expected.len(), 15);
    for order_by in ["", "title desc", "lead_organization, create_time desc"] {
        let mut seen = Vec::new();
        let mut token = String::new();
        let mut pages = 0;
        loop {
            let page = c
                .list_policy_goals_page(pb::ListPolicyGoalsRequest {
                    filter: filter.into(),
                    order_by: order_by.into(),
                    page_size: 3,
                    page_token: token.clone(),
                    ..Default::default()
                })
                .await
                .unwrap();
            assert_eq!(page.total_size, 15);
            assert!(page.policy_goals.len() <= 3);
            pages += 1;
            seen.extend(page.policy_goals.into_iter().map(|g| g.name));
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let unique: HashSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{order_by:?}: a goal came twice");
        assert_eq!(unique, expected, "{order_by:?}");
        assert_eq!(pages, 5, "{order_by:?}");
    }
    // With show_deleted the deleted match is included.
    let all: Vec<pb::PolicyGoal> = c
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            show_deleted: true,
            page_size: 4,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 16);
    // A page token is bound to its filter.
    let first = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: filter.into(),
            page_size: 3,
            ..Default::default()
        })
        .await
        .unwrap();
    let r = c
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            filter: "sectors:semiconductors".into(),
            page_size: 3,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await;
    assert_eq!(registry_e2e::violations(r), ["page_token"]);
}
