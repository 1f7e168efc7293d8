//! `registryctl report`: the HTML briefing, parsed, for the seeds plus recorded measurements
//! and trade flows; and `--as-of`, which must not show what changed after that time.

use std::{collections::HashMap, path::Path};

use registry_client::prost_types::Timestamp;
use registry_e2e::{TestApp, pb};
use scraper::{Html, Selector};

use crate::support::{ctl, ok, seeds_dir};

fn seeds() -> String {
    seeds_dir().to_string_lossy().into_owned()
}

/// The report written to a file, parsed.
fn report(app: &TestApp, dir: &Path, extra: &[&str]) -> Html {
    let file = dir.join(format!("report-{}.html", uuid::Uuid::new_v4().simple()));
    let file_arg = file.to_string_lossy().into_owned();
    let mut args = vec!["report", "--out", file_arg.as_str()];
    args.extend_from_slice(extra);
    ok(ctl(app, &args));
    let text = std::fs::read_to_string(&file).expect("the report file");
    let doc = Html::parse_document(&text);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    doc
}

fn sel(s: &str) -> Selector {
    Selector::parse(s).expect("selector")
}

fn day(y: i32, m: u8, d: u8) -> Timestamp {
    format!("{y:04}-{m:02}-{d:02}T00:00:00Z").parse().expect("timestamp")
}

/// Records `value` of `metric` observed at `at`.
async fn record(app: &TestApp, goal: &str, metric: &str, value: f64, at: Timestamp) -> pb::Measurement {
    app.client
        .record_measurement(pb::RecordMeasurementRequest {
            parent: goal.to_owned(),
            measurement: Some(pb::Measurement {
                metric: metric.to_owned(),
                value,
                observe_time: Some(at),
                source: "report test".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("record a measurement")
}

/// data-measurements and circles of every target chart, by (goal, metric).
fn target_charts(doc: &Html) -> HashMap<(String, String), (usize, usize)> {
    doc.select(&sel("figure.target-chart"))
        .map(|f| {
            let v = f.value();
            let key = (
                v.attr("data-goal").unwrap_or_default().to_owned(),
                v.attr("data-metric").unwrap_or_default().to_owned(),
            );
            let svgs = f.select(&sel("svg")).count();
            assert_eq!(svgs, 1, "one inline SVG per chart: {key:?}");
            let declared = v
                .attr("data-measurements")
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            (key, (declared, f.select(&sel("svg circle")).count()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_has_every_chart_and_is_self_contained() {
    let app = TestApp::spawn().await;
    ok(ctl(&app, &["import", "-q", &seeds()]));
    let goals: Vec<pb::PolicyGoal> =
        futures::TryStreamExt::try_collect(app.client.list_policy_goals(pb::ListPolicyGoalsRequest::default()))
            .await
            .unwrap();
    let targets: Vec<(String, String)> = goals
        .iter()
        .flat_map(|g| g.targets.iter().map(|t| (g.name.clone(), t.metric.clone())))
        .collect();
    assert!(!targets.is_empty(), "the seeds have targets");
    // Two measurements of every target.
    for (goal, metric) in &targets {
        record(&app, goal, metric, 1.0, day(2025, 6, 30)).await;
        record(&app, goal, metric, 2.0, day(2025, 12, 31)).await;
    }
    // Trade flows for the concentration.
    app.client
        .upsert_trade_flow("tradePartners/us", 2024, 120, 50)
        .await
        .unwrap();
    app.client
        .upsert_trade_flow("tradePartners/cn", 2024, 130, 90)
        .await
        .unwrap();
    app.client
        .upsert_trade_flow("tradePartners/us", 2023, 100, 40)
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let doc = report(&app, dir.path(), &[]);

    // Every goal is in the tree, with its state.
    let in_tree: Vec<String> = doc
        .select(&sel("li.goal"))
        .filter_map(|li| li.value().attr("data-name").map(str::to_owned))
        .collect();
    for g in &goals {
        assert!(in_tree.contains(&g.name), "{} missing from the tree", g.name);
    }
    assert!(doc.select(&sel("li.goal[data-state]")).count() == goals.len());
    // Korean names where they exist.
    let korean = doc.select(&sel("[lang=ko]")).count();
    assert!(korean >= 1, "Korean headings/names are marked lang=ko");

    // One chart per target, each drawing both measurements.
    let charts = target_charts(&doc);
    assert_eq!(charts.len(), targets.len(), "{charts:?}");
    for t in &targets {
        assert_eq!(charts.get(t), Some(&(2, 2)), "{t:?}: {charts:?}");
    }

    // "By more than 30%" reads as a change from its baseline, which the statement does not
    // give: no path is drawn to a made-up value.
    let text: String = doc.root_element().text().collect();
    assert!(
        text.contains("productivity: target +30% of the baseline by 2030"),
        "{text}"
    );
    assert!(text.contains("productivity (baseline unknown)"), "{text}");

    // The concentration of the latest year with exports: a bar per partner, the HHI.
    let shares = doc
        .select(&sel("figure.shares-chart"))
        .next()
        .expect("the shares chart");
    assert_eq!(shares.value().attr("data-year"), Some("2024"));
    assert!(shares.select(&sel("svg rect")).count() >= 2);
    let hhi: f64 = doc
        .select(&sel(".hhi"))
        .next()
        .and_then(|e| e.value().attr("data-hhi"))
        .and_then(|v| v.parse().ok())
        .expect("the HHI");
    assert!(hhi > 0.0);

    // Partners with their engagements (the seeds record some).
    assert!(doc.select(&sel("div.partner")).count() >= 2);
    assert!(doc.select(&sel("table.engagements tr")).count() >= 2);

    // Self-contained and printable: no scripts, no external resources, a print stylesheet.
    assert_eq!(doc.select(&sel("script")).count(), 0);
    for (tag, attr) in [("link", "href"), ("img", "src"), ("a", "href"), ("image", "href")] {
        for e in doc.select(&sel(&format!("{tag}[{attr}]"))) {
            let v = e.value().attr(attr).unwrap_or_default();
            assert!(v.starts_with('#'), "external reference {tag} {attr}={v}");
        }
    }
    let style: String = doc.select(&sel("style")).map(|s| s.inner_html()).collect();
    assert!(style.contains("@media print"), "a print stylesheet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_as_of_t1_shows_nothing_changed_after_t1() {
    let app = TestApp::spawn().await;
    ok(ctl(&app, &["import", "-q", &seeds()]));
    let goal = "policyGoals/manufacturing-ax";
    let recorded = record(&app, goal, "ai-factories", 10.0, day(2025, 3, 31)).await;
    let before = app.client.get_policy_goal(goal).await.unwrap();
    // T1: once the goal was imported and the first measurement recorded.
    let t1 = recorded.create_time.expect("create time");
    let t1_arg = t1.to_string();

    // After T1: a new title, another measurement, a new partner.
    app.client
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: goal.into(),
                title: "Renamed after T1".into(),
                etag: before.etag.clone(),
                ..Default::default()
            }),
            update_mask: Some(registry_client::prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    record(&app, goal, "ai-factories", 20.0, day(2025, 9, 30)).await;
    app.client
        .create_trade_partner(pb::CreateTradePartnerRequest {
            trade_partner_id: "after-t1".into(), // a forum: any id
            trade_partner: Some(pb::TradePartner {
                kind: pb::trade_partner::Kind::Forum.into(),
                display_name: "Created after T1".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let then = report(&app, dir.path(), &["--as-of", &t1_arg]);
    let now = report(&app, dir.path(), &[]);
    let text = |doc: &Html| doc.root_element().text().collect::<String>();

    assert!(text(&now).contains("Renamed after T1"));
    assert!(text(&now).contains("Created after T1"));
    assert!(
        !text(&then).contains("Renamed after T1"),
        "a later title in the T1 report"
    );
    assert!(
        !text(&then).contains("Created after T1"),
        "a later partner in the T1 report"
    );
    assert!(text(&then).contains(&before.title));
    let as_of = then.select(&sel("#as-of")).next().expect("the as-of line");
    assert_eq!(as_of.value().attr("data-as-of"), Some(t1_arg.as_str()));

    let key = (goal.to_owned(), "ai-factories".to_owned());
    assert_eq!(
        target_charts(&then).get(&key),
        Some(&(1, 1)),
        "only the measurement of T1"
    );
    assert_eq!(target_charts(&now).get(&key), Some(&(2, 2)));
}
