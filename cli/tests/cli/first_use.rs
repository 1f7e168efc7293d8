//! What a new user types first works: positional arguments, defaults, readable tables
//! when piped (see the review of 2026-12-01, "Running it as a new user").

#![allow(clippy::unwrap_used, clippy::expect_used)]

use registry_e2e::TestApp;

use crate::support::{ctl, ok, stderr, stdout, words};

/// Runs registryctl as the admin of `app`, stdout piped; returns (exit code, stdout, stderr).
fn registryctl(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let out = ctl(app, args);
    (out.status.code(), stdout(&out), stderr(&out))
}

#[track_caller]
fn succeeds(app: &TestApp, args: &[&str]) -> String {
    ok(ctl(app, args))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_takes_metric_and_value_as_positional_arguments() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ax.yaml");
    std::fs::write(
        &file,
        "id: manufacturing-ax\ntitle: AX\npillar: INDUSTRIAL_RESURGENCE\ntargets:\n\
         - metric: ai-factories\n  unit: factories\n  target_value: 500\n  direction: INCREASE_TO\n  target_year: 2030\n",
    )
    .unwrap();
    succeeds(&app, &["-q", "goals", "create", "-f", file.to_str().unwrap()]);

    let m: serde_json::Value = serde_json::from_str(&succeeds(
        &app,
        &words("-o json goals record manufacturing-ax ai-factories 120"),
    ))
    .unwrap();
    assert_eq!(m["metric"], "ai-factories");
    assert_eq!(m["value"].as_f64(), Some(120.0));

    // The flags still work, and the two forms do not mix into nonsense.
    succeeds(
        &app,
        &words("-q goals record manufacturing-ax --metric ai-factories --value 130"),
    );
    let (code, _, stderr) = registryctl(&app, &["goals", "record", "manufacturing-ax", "ai-factories"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("VALUE"), "{stderr}");
    let (code, _, stderr) = registryctl(&app, &["goals", "record", "manufacturing-ax", "ai-factories", "lots"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("not a number"), "{stderr}");

    let progress = succeeds(&app, &["-o", "json", "goals", "progress", "manufacturing-ax"]);
    let p: serde_json::Value = serde_json::from_str(&progress).unwrap();
    assert_eq!(p[0]["latest_value"].as_f64(), Some(130.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concentration_defaults_to_the_latest_year_with_data() {
    let app = TestApp::spawn().await;
    let (code, _, stderr) = registryctl(&app, &["concentration"]);
    assert_eq!(code, Some(1), "no flows yet: {stderr}");
    assert!(stderr.contains("--year"), "{stderr}");

    for (id, name) in [("de", "Germany"), ("kr", "Korea")] {
        succeeds(
            &app,
            &[
                "-q",
                "partners",
                "create",
                id,
                "--kind",
                "COUNTRY",
                "--display-name",
                name,
            ],
        );
    }
    for (id, year, exports) in [("de", "2023", "100"), ("de", "2024", "300"), ("kr", "2024", "100")] {
        succeeds(
            &app,
            &[
                "-q",
                "partners",
                "flows",
                "set",
                id,
                year,
                "--exports",
                exports,
                "--imports",
                "0",
            ],
        );
    }
    let c: serde_json::Value = serde_json::from_str(&succeeds(&app, &["-o", "json", "concentration"])).unwrap();
    assert_eq!(c["year"], 2024);
    assert_eq!(c["total_exports_usd"], 400);
    // An explicit year still wins.
    let c: serde_json::Value =
        serde_json::from_str(&succeeds(&app, &["-o", "json", "concentration", "--year", "2023"])).unwrap();
    assert_eq!(c["total_exports_usd"], 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn piped_tables_cut_long_cells_but_json_and_yaml_keep_the_full_text() {
    let app = TestApp::spawn().await;
    let source = format!(
        "The statement says: \"{}\"",
        "a very long quotation ".repeat(15).trim_end()
    );
    assert!(source.chars().count() > 300);
    succeeds(
        &app,
        &[
            "-q",
            "goals",
            "create",
            "long",
            "--title",
            "Long",
            "--pillar",
            "SUSTAINABLE_GROWTH_PARTNERSHIP",
            "--source",
            &source,
        ],
    );

    let table = succeeds(&app, &["goals", "get", "long"]);
    assert!(table.contains('…'), "{table}");
    assert!(!table.contains(&source), "{table}");
    let widest = table.lines().map(|l| l.chars().count()).max().unwrap_or_default();
    assert!(widest < 120, "a {widest}-character line:\n{table}");

    let json: serde_json::Value =
        serde_json::from_str(&succeeds(&app, &["-o", "json", "goals", "get", "long"])).unwrap();
    assert_eq!(json["source"], source.as_str());
    let yaml: serde_json::Value =
        serde_norway::from_str(&succeeds(&app, &["-o", "yaml", "goals", "get", "long"])).unwrap();
    assert_eq!(yaml["source"], source.as_str());
}
