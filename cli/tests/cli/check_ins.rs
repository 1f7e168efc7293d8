//! `registryctl goals check-in`, `goals check-ins`, the stated confidence in `goals get` and
//! `goals progress`, and the `check_ins:` section of data files (export → import round
//! trip), against a real registryd.

use registry_e2e::TestApp;

use crate::support::{app_with_file, assert_row, ctl, each, fails, json, ok, run, words, write};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_in_commands_and_an_export_import_round_trip() {
    let (app, dir, data) = app_with_file(
        "goals.yaml",
        "goals:\n- id: ax\n  title: Manufacturing AX\n  pillar: INDUSTRIAL_RESURGENCE\n",
    )
    .await;
    ok(ctl(&app, &["-q", "import", data.to_str().unwrap()]));

    // No check-in yet: said so beside the computed progress.
    let table = ok(ctl(&app, &["goals", "progress", "ax"]));
    assert!(table.contains("stated confidence: none (no check-in)"), "{table}");

    let c = json(ctl(
        &app,
        &words(
            "goals check-in ax --confidence at-risk --note 'supply chain delays' --author MOTIE --date 2026-03-31 --id q1 -o json",
        ),
    ));
    assert_eq!(c["name"], "policyGoals/ax/checkIns/q1");
    assert_eq!(c["confidence"], "AT_RISK");
    assert_eq!(c["check_in_time"], "2026-03-31T00:00:00Z");
    assert_eq!(c["author"], "MOTIE");
    let table = ok(run(&app, "goals check-in ax --confidence on-track --date 2025-12-31"));
    assert!(table.contains("ON_TRACK"), "{table}");
    let err = fails(ctl(&app, &["goals", "check-in", "ax", "--confidence", "fine"]), 2);
    assert!(err.contains("on-track, at-risk, off-track"), "{err}");
    let err = fails(
        ctl(
            &app,
            &["goals", "check-in", "ax", "--confidence", "on-track", "--date", "soon"],
        ),
        2,
    );
    assert!(err.contains("--date"), "{err}");
    let err = fails(ctl(&app, &["goals", "check-in", "nope", "--confidence", "on-track"]), 3);
    assert!(err.contains("policyGoals/nope"), "{err}");

    // Newest first, in every format.
    let listed = json(ctl(&app, &["goals", "check-ins", "ax", "-o", "json"]));
    let ids: Vec<&str> = each(&listed, "id");
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "q1");
    let yaml: serde_json::Value =
        serde_norway::from_str(&ok(ctl(&app, &["goals", "check-ins", "ax", "-o", "yaml"]))).unwrap();
    assert_eq!(yaml[0]["confidence"], "AT_RISK");
    let table = ok(ctl(&app, &["goals", "check-ins", "ax"]));
    let at_risk = table.find("AT_RISK").unwrap();
    assert!(at_risk < table.find("ON_TRACK").unwrap(), "{table}");
    let filtered = json(run(&app, "goals check-ins ax --filter 'confidence = ON_TRACK' -o json"));
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    // The goal shows its latest stated confidence.
    let table = ok(ctl(&app, &["goals", "progress", "ax"]));
    assert!(
        table.contains("stated confidence: AT_RISK on 2026-03-31 by MOTIE: supply chain delays"),
        "{table}"
    );
    let g = json(ctl(&app, &["goals", "get", "ax", "-o", "json"]));
    assert_eq!(g["latest_check_in"]["confidence"], "AT_RISK");
    assert_eq!(g["latest_check_in"]["name"], "policyGoals/ax/checkIns/q1");
    let table = ok(ctl(&app, &["goals", "get", "ax"]));
    assert_row(&table, "stated confidence", "AT_RISK on 2026-03-31");

    // A goal read with its check-in goes back through update as it is (output only).
    let yaml = ok(ctl(&app, &["goals", "get", "ax", "-o", "yaml"]));
    assert!(yaml.contains("latest_check_in:"), "{yaml}");
    let file = write(
        dir.path(),
        "ax.yaml",
        &yaml.replace("Manufacturing AX", "Manufacturing AX (edited)"),
    );
    ok(ctl(&app, &["-q", "goals", "update", "-f", file.to_str().unwrap()]));

    // The briefing report shows it beside the computed states.
    let html = ok(ctl(&app, &["report"]));
    assert!(
        html.contains(r#"data-stated="AT_RISK""#) && html.contains("stated AT_RISK on 2026-03-31"),
        "no stated confidence in the report"
    );

    // export → import into a fresh registry keeps them (ids, times, authors, notes); importing
    // the export again changes nothing.
    let out = tempfile::tempdir().unwrap();
    let r = json(ctl(&app, &["export", out.path().to_str().unwrap(), "-o", "json"]));
    assert_eq!(r["check_ins"], 2);
    let exported = std::fs::read_to_string(out.path().join("check_ins.yaml")).unwrap();
    assert!(
        exported.contains("id: q1") && exported.contains("goal: ax"),
        "{exported}"
    );
    let again = ok(ctl(&app, &["import", out.path().to_str().unwrap()]));
    assert_eq!(again.trim(), "0 created, 0 updated, 3 unchanged");

    let fresh = TestApp::spawn().await;
    let report = json(ctl(&fresh, &["import", out.path().to_str().unwrap(), "-o", "json"]));
    assert_eq!(report["check_ins"]["created"], 2);
    let before = json(ctl(&app, &["goals", "check-ins", "ax", "-o", "json"]));
    let after = json(ctl(&fresh, &["goals", "check-ins", "ax", "-o", "json"]));
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        for c in v.as_array_mut().unwrap() {
            let c = c.as_object_mut().unwrap();
            // When and by which token it was recorded: the import's, not the original's.
            c.remove("create_time");
            c.remove("creator");
        }
        v
    };
    assert_eq!(strip(&before), strip(&after));
    let g = json(ctl(&fresh, &["goals", "get", "ax", "-o", "json"]));
    assert_eq!(g["latest_check_in"]["name"], "policyGoals/ax/checkIns/q1");

    // Append-only: a file that says otherwise about a recorded check-in is refused.
    let changed = exported.replace("AT_RISK", "OFF_TRACK");
    let bad = write(dir.path(), "check_ins.yaml", &changed);
    let err = fails(ctl(&fresh, &["import", bad.to_str().unwrap()]), 1);
    assert!(err.contains("append-only"), "{err}");
}
