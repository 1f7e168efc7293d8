//! `registryctl risks …` and the `risks:` section of data files, against a real registryd.

use std::process::Output;

use registry_e2e::TestApp;

use crate::support::{app_with_file, assert_exports_the_same, assert_row, ctl, fails, json, ok, run, words, write};

/// `risks create minerals` (China's monopoly on key minerals) with the `more` flags.
fn create_minerals(app: &TestApp, more: &str) -> Output {
    let mut args = vec![
        "risks",
        "create",
        "minerals",
        "--title",
        "China's monopoly on key minerals",
        "--category",
        "CRITICAL_MINERAL_CONCENTRATION",
    ];
    args.extend(words(more));
    ctl(app, &args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risks_standard_commands_and_import_export() {
    let (app, _dir, data) = app_with_file(
        "data.yaml",
        "partners:\n- id: us\n  kind: COUNTRY\n  display_name: United States\n\
         goals:\n- id: trade\n  title: Trade\n  pillar: TRADE_NATIONAL_INTEREST\n\
         risks:\n- id: us-protectionism\n  title: US protectionism\n  category: PROTECTIONISM\n  \
         goals: [trade]\n  partners: [us]\n  labels:\n    link: judgement\n",
    )
    .await;
    let out = ok(ctl(&app, &["import", data.to_str().unwrap()]));
    assert_eq!(out.trim(), "3 created, 0 updated, 0 unchanged");
    let out = ok(ctl(&app, &["import", data.to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 0 updated, 3 unchanged");

    let r = json(ctl(&app, &["risks", "get", "us-protectionism", "-o", "json"]));
    assert_eq!(r["name"], "risks/us-protectionism");
    assert_eq!(r["category"], "PROTECTIONISM");
    assert_eq!(r["goals"][0], "trade");
    assert_eq!(r["partners"][0], "us");
    assert!(r.get("state").is_none(), "unspecified is left out: {r}");
    let us = json(ctl(&app, &["partners", "get", "us", "-o", "json"]));
    assert_eq!(us["risk_register"][0], "us-protectionism");
    let trade = ok(ctl(&app, &["goals", "get", "trade"]));
    assert_row(&trade, "risk_register", "us-protectionism");
    let table = ok(ctl(&app, &["risks", "list"]));
    assert!(
        table.contains("us-protectionism") && table.contains("PROTECTIONISM"),
        "{table}"
    );

    // Flags: plain fields from the descriptor, links by id.
    ok(create_minerals(&app, "-q --likelihood 3"));
    let updated = json(ctl(
        &app,
        &[
            "risks", "update", "minerals", "--state", "OPEN", "--goal", "trade", "-o", "json",
        ],
    ));
    assert_eq!(
        (updated["state"].as_str(), updated["revision"].as_i64()),
        (Some("OPEN"), Some(2))
    );
    assert_eq!(updated["likelihood"], 3);
    let listed = json(ctl(
        &app,
        &[
            "risks",
            "list",
            "--filter",
            "goals:\"policyGoals/trade\" AND state = OPEN",
            "-o",
            "json",
        ],
    ));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "risks/minerals");
    // A link to a goal that does not exist is refused (exit 1 with the reason).
    let err = fails(ctl(&app, &["risks", "update", "minerals", "--goal", "nope"]), 1);
    assert!(err.contains("GOAL_NOT_FOUND"), "{err}");

    ok(ctl(&app, &["-q", "risks", "delete", "minerals"]));
    ok(ctl(&app, &["-q", "risks", "undelete", "minerals"]));
    let history = ok(ctl(&app, &["risks", "history", "minerals"]));
    for (kind, revision) in [("CREATED", 1), ("UPDATED", 2), ("DELETED", 3), ("UNDELETED", 4)] {
        assert!(
            history
                .lines()
                .any(|l| l.contains(&format!(" {kind} ")) && l.contains(&format!(" {revision} "))),
            "{history}"
        );
    }

    // export → fresh registry → export: the same risks.
    let d1 = tempfile::tempdir().unwrap();
    ok(ctl(&app, &["-q", "export", d1.path().to_str().unwrap()]));
    let f1 = std::fs::read_to_string(d1.path().join("risks.yaml")).unwrap();
    assert!(
        f1.contains("id: minerals") && f1.contains("id: us-protectionism"),
        "{f1}"
    );
    let fresh = TestApp::spawn().await;
    let out = ok(ctl(&fresh, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "4 created, 0 updated, 0 unchanged");
    assert_exports_the_same(&fresh, d1.path(), &["risks.yaml"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risks_link_product_sets_and_goals_and_partners_show_the_dependent_products() {
    let (app, dir, data) = app_with_file(
        "data.yaml",
        "product_sets:\n- id: critical-minerals\n  display_name: Critical minerals\n  products: ['811292', '260500']\n\
         partners:\n- id: cn\n  kind: COUNTRY\n  display_name: China\n\
         goals:\n- id: supply\n  title: Supply chains\n  pillar: TRADE_NATIONAL_INTEREST\n",
    )
    .await;
    let out = ok(ctl(&app, &["import", data.to_str().unwrap()]));
    assert_eq!(out.trim(), "3 created, 0 updated, 0 unchanged");
    // Eleven importers buy unwrought cobalt (811292) mostly from China (BACI 156), a little
    // from Canada (124), for three years; Korea (410) exports none: a dependency.
    let importers = [410, 392, 276, 36, 76, 152, 704, 360, 458, 764, 124];
    let mut lines = vec!["t,i,j,k,v,q".to_owned()];
    for year in 2021..=2023 {
        for j in importers {
            lines.push(format!("{year},156,{j},811292,900.000,NA"));
            if j != 124 {
                lines.push(format!("{year},124,{j},811292,100.000,NA"));
            }
        }
    }
    let baci = write(dir.path(), "BACI_HS22_Y2023.csv", &(lines.join("\n") + "\n"));
    ok(ctl(
        &app,
        &["-q", "trade", "import", "--format", "baci", baci.to_str().unwrap()],
    ));

    // As stored before the load: nothing; a time that is not RFC 3339 is a usage error.
    let before = json(run(
        &app,
        "dependencies --year 2023 --read-time 2020-01-01T00:00:00Z -o json",
    ));
    assert_eq!(before, serde_json::json!([]));
    fails(
        run(&app, "dominated --supplier CN --year 2023 --read-time yesterday"),
        2,
    );

    let created = json(create_minerals(
        &app,
        "--product-set critical-minerals --goal supply --partner cn -o json",
    ));
    assert_eq!(created["product_sets"][0], "critical-minerals");
    let goal = ok(ctl(&app, &["goals", "get", "supply"]));
    assert_row(&goal, "dependent_products", "811292 2023: CN 90.0%");
    let cn = json(ctl(&app, &["partners", "get", "cn", "-o", "json"]));
    assert_eq!(cn["dependent_products"][0]["product"], "811292");
    assert_eq!(cn["dependent_products"][0]["risks"][0], "minerals");
    // A set that does not exist is refused.
    let err = fails(ctl(&app, &["risks", "update", "minerals", "--product-set", "nope"]), 1);
    assert!(err.contains("PRODUCT_SET_NOT_FOUND"), "{err}");

    // export → fresh registry → export: the sets and the links come along.
    let d1 = tempfile::tempdir().unwrap();
    ok(ctl(&app, &["-q", "export", d1.path().to_str().unwrap()]));
    let risks = std::fs::read_to_string(d1.path().join("risks.yaml")).unwrap();
    assert!(risks.contains("product_sets:\n  - critical-minerals"), "{risks}");
    let fresh = TestApp::spawn().await;
    let out = ok(ctl(&fresh, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "4 created, 0 updated, 0 unchanged");
    assert_exports_the_same(&fresh, d1.path(), &["product_sets.yaml", "risks.yaml"]);
}
