//! `registryctl` driven as a process against a real registryd (in-process, port 0, fresh
//! database per test; see registry-e2e).

use std::process::Command;

use registry_e2e::{TestApp, pb};
use serde_json::Value;

use crate::support::{
    BIN, assert_exports_the_same, ctl, each, endpoint, fails, json, ok, run, run_with, seeds_dir, words, write, yaml,
};

async fn goal_count(app: &TestApp) -> usize {
    use futures::TryStreamExt;
    let all: Vec<pb::PolicyGoal> = app
        .client
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            show_deleted: true,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    all.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_create_get_list_update_in_every_format() {
    let app = TestApp::spawn().await;

    let out = ok(ctl(
        &app,
        &words(
            "goals create industrial-resurgence --title 'Industrial resurgence' --pillar industrial_resurgence --sector semiconductors --label team=ax",
        ),
    ));
    assert!(out.contains("policyGoals/industrial-resurgence"), "{out}");
    assert!(out.contains("Industrial resurgence"), "{out}");

    // A child from a file (the seed schema), JSON output.
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "ax.yaml",
        "id: manufacturing-ax\ntitle: Spread Manufacturing AX\nparent: industrial-resurgence\n\
         targets:\n- metric: ai-factories\n  unit: factories\n  target_value: 500\n  direction: INCREASE_TO\n  comparator: MORE_THAN\n  target_year: 2030\n\
         milestones:\n- title: Commence\n  due: 2026\n",
    );
    let created = json(ctl(&app, &["-o", "json", "goals", "create", "-f", f.to_str().unwrap()]));
    assert_eq!(created["name"], "policyGoals/manufacturing-ax");
    assert_eq!(created["pillar"], "INDUSTRIAL_RESURGENCE", "inherited: {created}");
    assert_eq!(created["targets"][0]["target_value"], 500);
    assert_eq!(created["targets"][0]["comparator"], "MORE_THAN");
    assert_eq!(created["milestones"][0]["due"], 2026);
    assert!(created.get("state").is_none(), "not stated: {created}");
    assert_eq!(created["revision"], 1);

    // get in the three formats.
    let g = json(ctl(&app, &["goals", "get", "manufacturing-ax", "-o", "json"]));
    assert_eq!(g["ancestors"][0], "policyGoals/industrial-resurgence");
    let y = yaml(ctl(
        &app,
        &["goals", "get", "policyGoals/manufacturing-ax", "-o", "yaml"],
    ));
    assert_eq!(y["title"], "Spread Manufacturing AX");
    let t = ok(ctl(&app, &["goals", "get", "manufacturing-ax"]));
    assert!(t.contains("ai-factories: MORE_THAN 500 factories by 2030"), "{t}");
    // Neither the goal's state nor the milestone's is given: shown as UNSPECIFIED.
    assert!(t.contains("Commence (due 2026) [UNSPECIFIED]"), "{t}");

    // list: table, json, yaml, filter, order, limit (several pages).
    for i in 0..5 {
        ok(ctl(
            &app,
            &[
                "-q",
                "goals",
                "create",
                &format!("extra-{i}"),
                "--title",
                &format!("Extra {i}"),
                "--pillar",
                "SUSTAINABLE_GROWTH_PARTNERSHIP",
            ],
        ));
    }
    let table = ok(ctl(&app, &["goals", "list"]));
    assert!(
        table.contains("manufacturing-ax") && table.contains("extra-4"),
        "{table}"
    );
    assert!(table.contains("ID") && table.contains("PILLAR"), "{table}");
    // Tables fit the width: the terminal's, or $COLUMNS when not on a terminal.
    let narrow = ok(Command::new(BIN)
        .env("REGISTRY_ENDPOINT", endpoint(&app))
        .env("REGISTRY_TOKEN", &app.admin_token)
        .env("COLUMNS", "70")
        .args(["goals", "list"])
        .output()
        .unwrap());
    assert!(narrow.lines().all(|l| l.chars().count() <= 70), "{narrow}");
    assert!(table.lines().any(|l| l.chars().count() > 70), "{table}");
    let all = json(ctl(&app, &["goals", "list", "-o", "json"]));
    assert_eq!(all.as_array().unwrap().len(), 7);
    let some = yaml(ctl(&app, &["goals", "list", "-o", "yaml", "--limit", "3"]));
    assert_eq!(some.as_array().unwrap().len(), 3);
    let filtered = json(run(
        &app,
        "goals list -o json --filter 'pillar = SUSTAINABLE_GROWTH_PARTNERSHIP' --order-by 'title desc'",
    ));
    let titles: Vec<&str> = each(&filtered, "title");
    assert_eq!(titles, ["Extra 4", "Extra 3", "Extra 2", "Extra 1", "Extra 0"]);
    let err = fails(ctl(&app, &["goals", "list", "--filter", "owner = x"]), 1);
    assert!(err.contains("filter"), "{err}");

    // update: only the given fields.
    let before = json(ctl(&app, &["goals", "get", "industrial-resurgence", "-o", "json"]));
    let after = json(run(
        &app,
        "goals update industrial-resurgence --description 'New words' --label stage=one -o json",
    ));
    assert_eq!(after["description"], "New words");
    assert_eq!(after["title"], "Industrial resurgence");
    assert_eq!(after["sectors"], before["sectors"]);
    assert_eq!(after["labels"]["team"], "ax");
    assert_eq!(after["labels"]["stage"], "one");
    assert_eq!(after["revision"], 2);
    let after = json(run(
        &app,
        "goals update industrial-resurgence --remove-label team --clear sectors -o json",
    ));
    assert!(after["labels"].get("team").is_none(), "{after}");
    assert!(after.get("sectors").is_none(), "{after}");
    assert_eq!(after["description"], "New words");

    // --etag: a stale one is a conflict (exit 4), the current one works.
    let stale = before["etag"].as_str().unwrap();
    let err = fails(
        ctl(
            &app,
            &[
                "goals",
                "update",
                "industrial-resurgence",
                "--title",
                "X",
                "--etag",
                stale,
            ],
        ),
        4,
    );
    assert!(err.contains("ETAG_MISMATCH"), "{err}");
    let current = after["etag"].as_str().unwrap();
    ok(ctl(
        &app,
        &[
            "goals",
            "update",
            "industrial-resurgence",
            "--title",
            "Industrial resurgence!",
            "--etag",
            current,
        ],
    ));

    // update -f with edited `get -o yaml` output: only the file's fields, its etag honoured.
    let exported = ok(ctl(&app, &["goals", "get", "manufacturing-ax", "-o", "yaml"]));
    let edited = exported.replace(
        "title: Spread Manufacturing AX",
        "title: Spread Manufacturing AX widely",
    );
    let f = write(dir.path(), "edit.yaml", &edited);
    let g = json(ctl(&app, &["goals", "update", "-f", f.to_str().unwrap(), "-o", "json"]));
    assert_eq!(g["title"], "Spread Manufacturing AX widely");
    assert_eq!(g["targets"][0]["metric"], "ai-factories");
    // The same file again: its etag is stale now.
    fails(ctl(&app, &["goals", "update", "-f", f.to_str().unwrap()]), 4);

    // Nothing to update is a usage error.
    fails(ctl(&app, &["goals", "update", "manufacturing-ax"]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goals_state_delete_undelete_tree_and_history() {
    let app = TestApp::spawn().await;
    ok(run(
        &app,
        "-q goals create root --title Root --pillar TRADE_NATIONAL_INTEREST",
    ));
    ok(ctl(
        &app,
        &["-q", "goals", "create", "child", "--title", "Child", "--parent", "root"],
    ));
    ok(ctl(
        &app,
        &["-q", "goals", "create", "leaf", "--title", "Leaf", "--parent", "child"],
    ));

    let g = json(ctl(&app, &["goals", "state", "child", "ACTIVE", "-o", "json"]));
    assert_eq!(g["state"], "ACTIVE");
    let g = json(run(&app, "goals state child closed --outcome achieved -o json"));
    assert_eq!(
        (g["state"].as_str(), g["outcome"].as_str()),
        (Some("CLOSED"), Some("ACHIEVED"))
    );
    let err = fails(ctl(&app, &["goals", "state", "child", "ON_HOLD"]), 1);
    assert!(err.contains("INVALID_STATE_TRANSITION"), "{err}");

    // Tree: table and json.
    let tree = ok(ctl(&app, &["goals", "tree"]));
    assert!(
        tree.contains("root  Root {TRADE_NATIONAL_INTEREST} [UNSPECIFIED]"),
        "{tree}"
    );
    assert!(tree.contains("└── child  Child [CLOSED]"), "{tree}");
    assert!(tree.contains("    └── leaf  Leaf [UNSPECIFIED]"), "{tree}");
    let t = json(ctl(&app, &["goals", "tree", "-o", "json"]));
    assert_eq!(t[0]["children"][0]["children"][0]["id"], "leaf");
    let t = yaml(ctl(&app, &["goals", "tree", "child", "-o", "yaml"]));
    assert_eq!(t[0]["id"], "child");

    // Delete: live children need --force (failed precondition, exit 1).
    let err = fails(ctl(&app, &["goals", "delete", "root"]), 1);
    assert!(err.contains("HAS_LIVE_CHILDREN"), "{err}");
    ok(ctl(&app, &["goals", "delete", "root", "--force", "--validate-only"]));
    assert_eq!(
        json(ctl(&app, &["goals", "list", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let out = ok(ctl(&app, &["goals", "delete", "root", "--force"]));
    assert!(out.contains("policyGoals/root"), "{out}");
    assert_eq!(
        json(ctl(&app, &["goals", "list", "-o", "json"]))
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let deleted = json(ctl(&app, &["goals", "list", "--show-deleted", "-o", "json"]));
    assert_eq!(deleted.as_array().unwrap().len(), 3);
    assert!(deleted[0]["delete_time"].is_string());
    let table = ok(ctl(&app, &["goals", "list", "--show-deleted"]));
    assert!(table.contains("(deleted)"), "{table}");

    let g = json(ctl(&app, &["goals", "undelete", "root", "-o", "json"]));
    assert!(g.get("delete_time").is_none(), "{g}");
    // Undelete of a live goal: already exists (conflict, exit 4).
    fails(ctl(&app, &["goals", "undelete", "root"]), 4);
    ok(ctl(&app, &["goals", "delete", "nope", "--allow-missing"]));

    // History of one goal, every format.
    let h = json(ctl(&app, &["history", "child", "-o", "json"]));
    let kinds: Vec<&str> = each(&h, "kind");
    assert_eq!(kinds, ["CREATED", "UPDATED", "UPDATED", "DELETED"]);
    assert_eq!(h[0]["actor"], app.admin_token_id.as_str());
    assert_eq!(h[0]["policy_goal"]["title"], "Child");
    let h = yaml(run(&app, "history policyGoals/root -o yaml --newest-first --limit 1"));
    assert_eq!(h[0]["kind"], "UNDELETED");
    let table = ok(ctl(&app, &["history", "root"]));
    assert!(table.contains("CREATED") && table.contains("UNDELETED"), "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_distinct_exit_codes_and_list_every_violation() {
    let app = TestApp::spawn().await;
    let ep = endpoint(&app);

    // Usage: unknown flag, bad enum value.
    fails(ctl(&app, &["goals", "list", "--nope"]), 2);
    fails(ctl(&app, &["-o", "xml", "goals", "list"]), 2);
    fails(ctl(&app, &["goals", "state", "x", "SLEEPING"]), 2);

    // Not found.
    let err = fails(ctl(&app, &["goals", "get", "missing"]), 3);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: getting policyGoals/missing: not found"),
        "{err}"
    );

    // Invalid: one line, then each field violation.
    let err = fails(
        ctl(
            &app,
            &["goals", "create", "bad", "--title", "", "--confidence_note", "x"],
        ),
        2,
    );
    assert!(err.contains("--confidence_note"), "{err}");
    let err = fails(ctl(&app, &["goals", "create", "bad"]), 1);
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("error: creating policyGoals/bad: invalid argument"),
        "{err}"
    );
    assert!(lines.iter().any(|l| l.starts_with("  - policy_goal.title:")), "{err}");
    assert!(lines.iter().any(|l| l.starts_with("  - policy_goal.pillar:")), "{err}");

    // Conflict.
    ok(run(
        &app,
        "-q goals create dup --title D --pillar INDUSTRIAL_RESURGENCE",
    ));
    fails(
        run(&app, "goals create dup --title D --pillar INDUSTRIAL_RESURGENCE"),
        4,
    );

    // Auth: no token, bad token, too small a role.
    fails(run_with(&ep, None, &["goals", "list"]), 5);
    fails(run_with(&ep, Some("rgy_abcdefabcdef_nope"), &["goals", "list"]), 5);
    let viewer = json(run(&app, "tokens create --role viewer --description ro -o json"));
    let secret = viewer["secret"].as_str().unwrap();
    ok(run_with(&ep, Some(secret), &["goals", "list"]));
    let err = fails(
        run_with(
            &ep,
            Some(secret),
            &[
                "goals",
                "create",
                "v",
                "--title",
                "V",
                "--pillar",
                "INDUSTRIAL_RESURGENCE",
            ],
        ),
        5,
    );
    assert!(err.contains("permission denied"), "{err}");

    // Unavailable: nothing listens on a port that was just free.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = fails(
        run_with(&format!("http://127.0.0.1:{port}"), None, &["goals", "list"]),
        6,
    );
    assert!(err.contains("cannot reach the server"), "{err}");

    // A malformed --read-time is a usage error.
    fails(ctl(&app, &["goals", "get", "dup", "--read-time", "yesterday"]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_health_watch_completions_and_token_file() {
    let app = TestApp::spawn().await;
    let ep = endpoint(&app);

    // Tokens.
    let created = json(run(
        &app,
        "tokens create --role EDITOR --description ci --expires-in-days 7 -o json",
    ));
    let name = created["token"]["name"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("rgy_"), "{created}");
    assert_eq!(created["token"]["role"], "EDITOR");
    assert!(created["token"]["expire_time"].is_string());
    let table = ok(ctl(
        &app,
        &["tokens", "create", "--role", "viewer", "--description", "t"],
    ));
    assert!(table.contains("secret") && table.contains("rgy_"), "{table}");
    let list = json(ctl(&app, &["tokens", "list", "-o", "json"]));
    assert!(list.as_array().unwrap().iter().any(|t| t["name"] == name.as_str()));
    let list = ok(ctl(&app, &["tokens", "list"]));
    assert!(list.contains(&name) && list.contains("EDITOR"), "{list}");
    // Without --expires-in-days a token expires (in 90 days) unless --no-expiry says not.
    let default = json(run(&app, "tokens create --role viewer --description d -o json"));
    assert!(default["token"]["expire_time"].is_string(), "{default}");
    let forever = json(run(
        &app,
        "tokens create --role viewer --description f --no-expiry -o json",
    ));
    assert!(forever["token"]["expire_time"].is_null(), "{forever}");
    // Rotation: a successor with the same role, the old one revoked after the grace period
    // (0 hours: at once).
    let rotated = json(ctl(
        &app,
        &[
            "tokens",
            "rotate",
            default["token"]["name"].as_str().unwrap(),
            "--grace-hours",
            "0",
            "-o",
            "json",
        ],
    ));
    assert_eq!(rotated["token"]["role"], "VIEWER", "{rotated}");
    assert!(rotated["secret"].as_str().unwrap().starts_with("rgy_"));
    assert_eq!(rotated["previous"]["name"], default["token"]["name"]);
    assert!(rotated["previous"]["revoke_time"].is_string(), "{rotated}");
    ok(run_with(&ep, rotated["secret"].as_str(), &["goals", "list"]));
    fails(run_with(&ep, default["secret"].as_str(), &["goals", "list"]), 5);

    // The token from a file (container secret), e.g. REGISTRY_TOKEN_FILE.
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "token", &format!("{secret}\n"));
    let o = Command::new(BIN)
        .env_remove("REGISTRY_TOKEN")
        .env("REGISTRY_ENDPOINT", &ep)
        .env("REGISTRY_TOKEN_FILE", &file)
        .args([
            "-q",
            "goals",
            "create",
            "by-file",
            "--title",
            "F",
            "--pillar",
            "INDUSTRIAL_RESURGENCE",
        ])
        .output()
        .unwrap();
    ok(o);

    let revoked = yaml(ctl(&app, &["tokens", "revoke", &name, "-o", "yaml"]));
    assert!(revoked["revoke_time"].is_string());
    fails(run_with(&ep, Some(&secret), &["goals", "list"]), 5);
    let all = json(ctl(&app, &["tokens", "list", "--all", "-o", "json"]));
    assert!(all.as_array().unwrap().iter().any(|t| t["name"] == name.as_str()));
    let active = json(ctl(&app, &["tokens", "list", "-o", "json"]));
    assert!(!active.as_array().unwrap().iter().any(|t| t["name"] == name.as_str()));
    // Tokens need ADMIN.
    let viewer = json(run(&app, "tokens create --role viewer --description v -o json"));
    fails(run_with(&ep, viewer["secret"].as_str(), &["tokens", "list"]), 5);

    // Health (no token needed).
    assert_eq!(ok(run_with(&ep, None, &["health"])).trim(), "SERVING");
    let h = json(run_with(&ep, None, &["health", "-o", "json"]));
    assert_eq!(h["status"], "SERVING");
    let h = yaml(run_with(
        &ep,
        None,
        &[
            "health",
            "--service",
            "motie.registry.v1.PolicyGoalService",
            "-o",
            "yaml",
        ],
    ));
    assert_eq!(h["status"], "SERVING");

    // Watch from the start of history, stopping after two changes, in each format.
    ok(ctl(&app, &["-q", "goals", "update", "by-file", "--title", "G"]));
    let lines = ok(ctl(
        &app,
        &["watch", "--after", "0", "--type", "goal", "--limit", "2", "-o", "json"],
    ));
    let changes: Vec<Value> = lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(changes.len(), 2);
    assert_eq!(changes[0]["resource_name"], "policyGoals/by-file");
    assert_eq!(changes[0]["kind"], "CREATED");
    assert_eq!(changes[1]["kind"], "UPDATED");
    assert_eq!(changes[1]["update_mask"][0], "title");
    let first = changes[0]["sequence"].as_i64().unwrap().to_string();
    let docs = ok(ctl(
        &app,
        &[
            "watch",
            "--after",
            &first,
            "--limit",
            "1",
            "-o",
            "yaml",
            "--prefix",
            "policyGoals/",
        ],
    ));
    assert!(docs.starts_with("---\n") && docs.contains("kind: UPDATED"), "{docs}");
    let table = ok(ctl(
        &app,
        &["watch", "--after", "0", "--prefix", "tokens/", "--limit", "1"],
    ));
    assert!(table.contains("CREATED") && table.contains("tokens/"), "{table}");

    // Completions.
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(run_with(&ep, None, &["completions", shell]));
        assert!(script.contains("registryctl"), "{shell}");
    }
    fails(run_with(&ep, None, &["completions", "tcsh"]), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeds_import_idempotently_and_round_trip_through_export() {
    let app = TestApp::spawn().await;
    let seeds = seeds_dir();
    let seeds = seeds.to_str().unwrap();

    // Dry run: validated on the server, nothing written.
    let out = ok(ctl(&app, &["import", "--dry-run", seeds]));
    assert_eq!(
        out.trim(),
        "dry run: would be 26 created, 0 updated, 0 unchanged (nothing written)"
    );
    assert_eq!(goal_count(&app).await, 0);

    let out = ok(ctl(&app, &["import", seeds]));
    assert_eq!(out.trim(), "26 created, 0 updated, 0 unchanged");
    let out = ok(ctl(&app, &["import", seeds]));
    assert_eq!(out.trim(), "0 created, 0 updated, 26 unchanged");
    let report = json(ctl(&app, &["import", seeds, "-o", "json"]));
    assert_eq!(report["goals"]["unchanged"], 12);
    assert_eq!(report["partners"]["unchanged"], 6);
    assert_eq!(report["agreements"]["unchanged"], 1);
    assert_eq!(report["risks"]["unchanged"], 7);
    // The tariff agreements: parties KR and US, no event, so the status is unknown; the
    // follow-up negotiation points to them, and the partner lists them.
    let tariffs = json(ctl(
        &app,
        &["agreements", "get", "kr-us-tariff-agreements", "-o", "json"],
    ));
    assert_eq!(tariffs["parties"], serde_json::json!(["kr", "us"]));
    assert_eq!(tariffs["status"], "UNKNOWN");
    assert!(tariffs.get("events").is_none(), "{tariffs}");
    let us = json(ctl(&app, &["partners", "get", "us", "-o", "json"]));
    assert_eq!(us["engagements"][0]["agreement"], "kr-us-tariff-agreements");
    assert_eq!(us["trade_agreements"], serde_json::json!(["kr-us-tariff-agreements"]));

    let ax = json(ctl(&app, &["goals", "get", "manufacturing-ax", "-o", "json"]));
    assert_eq!(ax["pillar"], "INDUSTRIAL_RESURGENCE");
    assert_eq!(ax["targets"].as_array().unwrap().len(), 2);
    let tree = ok(ctl(&app, &["goals", "tree"]));
    assert!(tree.contains("re100-industrial-complexes"), "{tree}");

    // export → import → export: no change, identical files.
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    ok(ctl(&app, &["export", d1.path().to_str().unwrap()]));
    let out = ok(ctl(&app, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 0 updated, 26 unchanged");
    let r = json(ctl(&app, &["export", d2.path().to_str().unwrap(), "-o", "json"]));
    assert_eq!(r["goals"], 12);
    assert_eq!(r["partners"], 6);
    assert_eq!(r["risks"], 7);
    let f1 = std::fs::read_to_string(d1.path().join("goals.yaml")).unwrap();
    let f2 = std::fs::read_to_string(d2.path().join("goals.yaml")).unwrap();
    assert_eq!(f1, f2);
    let a1 = std::fs::read_to_string(d1.path().join("agreements.yaml")).unwrap();
    assert_eq!(a1, std::fs::read_to_string(d2.path().join("agreements.yaml")).unwrap());
    assert_eq!(r["agreements"], 1);
    let p1 = std::fs::read_to_string(d1.path().join("partners.yaml")).unwrap();
    assert_eq!(p1, std::fs::read_to_string(d2.path().join("partners.yaml")).unwrap());
    let us = json(ctl(&app, &["partners", "get", "us", "-o", "json"]));
    assert_eq!(us["linked_goals"][0], "trade-national-interest");

    // A change in the registry is undone by the next import (1 updated).
    ok(run(&app, "-q goals update embedded-ai --title Changed --label x=y"));
    ok(ctl(&app, &["-q", "goals", "state", "medium-sized-companies", "ACTIVE"]));
    let out = ok(ctl(&app, &["import", seeds]));
    assert_eq!(
        out.trim(),
        "0 created, 1 updated, 25 unchanged",
        "seeds leave the state alone"
    );
    let g = json(ctl(&app, &["goals", "get", "embedded-ai", "-o", "json"]));
    assert_eq!(
        g["title"],
        "Foster embedded AI industries, including robotics and autonomous vehicles"
    );
    assert!(g.get("labels").is_none(), "{g}");
    // The export holds the state; importing it puts the state back.
    let active = tempfile::tempdir().unwrap();
    ok(ctl(&app, &["-q", "export", active.path().to_str().unwrap()]));
    ok(ctl(
        &app,
        &["-q", "goals", "state", "medium-sized-companies", "ON_HOLD"],
    ));
    let out = ok(ctl(&app, &["import", active.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 1 updated, 25 unchanged");
    let g = json(ctl(&app, &["goals", "get", "medium-sized-companies", "-o", "json"]));
    assert_eq!(g["state"], "ACTIVE");
    // No goal goes back to PLANNED: refused before anything is written.
    let planned = tempfile::tempdir().unwrap();
    write(
        planned.path(),
        "goals.yaml",
        "goals:\n- id: medium-sized-companies\n  title: Support the innovative growth of medium-sized companies\n  \
         parent: sustainable-growth-partnership\n  state: PLANNED\n",
    );
    let err = fails(ctl(&app, &["import", planned.path().to_str().unwrap()]), 1);
    assert!(
        err.contains("INVALID_STATE_TRANSITION") && err.contains("goals.yaml:"),
        "{err}"
    );

    // A soft-deleted goal is restored by import.
    ok(ctl(
        &app,
        &["-q", "goals", "delete", "sustainable-growth-partnership", "--force"],
    ));
    // The forced delete also took the deleted regional goal out of re100's contributes_to;
    // the import puts the four goals and the links back.
    let g = json(ctl(&app, &["goals", "get", "re100-industrial-complexes", "-o", "json"]));
    assert!(g.get("contributes_to").is_none(), "{g}");
    // … and the regional-imbalance risk its links to the two deleted goals.
    let risk = json(ctl(&app, &["risks", "get", "regional-imbalance", "-o", "json"]));
    assert!(risk.get("goals").is_none(), "{risk}");
    let out = ok(ctl(&app, &["import", seeds]));
    assert_eq!(out.trim(), "0 created, 6 updated, 20 unchanged");
    let risk = json(ctl(&app, &["risks", "get", "regional-imbalance", "-o", "json"]));
    assert_eq!(risk["goals"].as_array().unwrap().len(), 2);
    let g = json(ctl(&app, &["goals", "get", "re100-industrial-complexes", "-o", "json"]));
    assert_eq!(g["contributes_to"][0], "regional-growth-engines");

    // Into a fresh registry: the export recreates exactly the same records.
    let fresh = TestApp::spawn().await;
    let out = ok(ctl(&fresh, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "26 created, 0 updated, 0 unchanged");
    let d3 = tempfile::tempdir().unwrap();
    ok(ctl(&fresh, &["export", d3.path().to_str().unwrap()]));
    assert_eq!(f1, std::fs::read_to_string(d3.path().join("goals.yaml")).unwrap());
    assert_eq!(p1, std::fs::read_to_string(d3.path().join("partners.yaml")).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_stops_at_the_first_invalid_record_having_written_nothing() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();

    // A server-side violation in the second record: nothing is written, file:line named.
    let f = write(
        dir.path(),
        "goals.yaml",
        "goals:\n- id: good\n  title: Good\n  pillar: INDUSTRIAL_RESURGENCE\n\
         - id: child\n  parent: good\n  title: Child\n  targets:\n  - metric: m\n    unit: u\n    target_value: 1\n    direction: INCREASE_TO\n    target_year: 1800\n",
    );
    let err = fails(ctl(&app, &["import", f.to_str().unwrap()]), 1);
    assert!(err.contains("goals.yaml:5: goal \"child\""), "{err}");
    assert!(err.contains("target_year"), "{err}");
    assert_eq!(goal_count(&app).await, 0, "nothing written");
    // --dry-run reports the same error.
    let err = fails(ctl(&app, &["import", "--dry-run", f.to_str().unwrap()]), 1);
    assert!(err.contains("goals.yaml:5"), "{err}");

    // Local problems: unknown enum, unknown field, syntax, duplicates, missing parent, cycles.
    let cases = [
        (
            "goals:\n- id: a\n  title: A\n  pillar: NOPE\n",
            "goals.yaml:2: goal \"a\": invalid",
        ),
        ("goals:\n- id: a\n  title: A\n  colour: red\n", "unknown field `colour`"),
        ("goals:\n- id: a\n  title: [\n", "goals.yaml:"),
        (
            "goals:\n- id: a\n  title: A\n  pillar: INDUSTRIAL_RESURGENCE\n- id: a\n  title: B\n  pillar: INDUSTRIAL_RESURGENCE\n",
            "goals.yaml:2: goal \"a\": duplicate",
        ),
        (
            "goals:\n- id: a\n  title: A\n  parent: ghost\n",
            "neither in the import nor in the registry",
        ),
        (
            "goals:\n- id: a\n  title: A\n  parent: b\n- id: b\n  title: B\n  parent: a\n",
            "cycle: a -> b -> a",
        ),
    ];
    for (text, expected) in cases {
        let f = write(dir.path(), "goals.yaml", text);
        let err = fails(ctl(&app, &["import", f.to_str().unwrap()]), 1);
        assert!(err.contains(expected), "{text}\n→ {err}");
    }
    assert_eq!(goal_count(&app).await, 0);

    // JSON files take the same schema; children may come before their parents.
    let f = write(
        dir.path(),
        "goals.json",
        r#"{"goals": [
  {"id": "kid", "title": "Kid", "parent": "top"},
  {"id": "top", "title": "Top", "pillar": "TRADE_NATIONAL_INTEREST"}
]}"#,
    );
    std::fs::remove_file(dir.path().join("goals.yaml")).unwrap();
    let out = ok(ctl(&app, &["import", dir.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "2 created, 0 updated, 0 unchanged");
    let out = ok(ctl(&app, &["import", f.to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 0 updated, 2 unchanged");
    let missing = fails(ctl(&app, &["import", "/nonexistent/path"]), 1);
    assert!(missing.contains("/nonexistent/path"), "{missing}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_import_goes_in_batches_and_still_names_the_first_bad_record() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    // 2,100 goals: three roots, each with 699 children; c1005's parent c999 is in the first
    // batch of a thousand, c1005 in the second.
    let file = |bad: bool| {
        let mut text = String::from("goals:\n");
        for i in 0..2100 {
            if i % 700 == 0 {
                text.push_str(&format!(
                    "- id: r{i}\n  title: Root {i}\n  pillar: INDUSTRIAL_RESURGENCE\n"
                ));
                continue;
            }
            let parent = if i == 1005 {
                "c999".to_owned()
            } else {
                format!("r{}", i / 700 * 700)
            };
            let year = if bad && i == 1600 { 1800 } else { 2030 };
            text.push_str(&format!(
                "- id: c{i}\n  title: Child {i}\n  parent: {parent}\n  targets:\n  - metric: m\n    unit: u\n    \
                 target_value: 1\n    direction: INCREASE_TO\n    target_year: {year}\n"
            ));
        }
        write(dir.path(), "goals.yaml", &text)
    };
    let f = file(true);
    let text = std::fs::read_to_string(&f).unwrap();
    let line = text.lines().position(|l| l == "- id: c1600").unwrap() + 1;
    let err = fails(ctl(&app, &["import", f.to_str().unwrap()]), 1);
    assert!(err.contains(&format!("goals.yaml:{line}: goal \"c1600\"")), "{err}");
    assert!(err.contains("target_year"), "{err}");
    assert_eq!(goal_count(&app).await, 0, "nothing written");

    let f = file(false);
    let out = ok(ctl(&app, &["import", f.to_str().unwrap()]));
    assert_eq!(out.trim(), "2100 created, 0 updated, 0 unchanged");
    assert_eq!(goal_count(&app).await, 2100);
    let g = app.client.get_policy_goal("policyGoals/c1005").await.unwrap();
    assert_eq!(g.parent, "policyGoals/c999");
    let out = ok(ctl(&app, &["import", f.to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 0 updated, 2100 unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_flows_concentration_and_progress_in_every_format() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();

    // create: flags, and -f with the seed schema.
    let out = ok(run(&app, "partners create kr --kind COUNTRY --display-name Korea"));
    assert!(out.contains("tradePartners/kr"), "{out}");
    let file = write(
        dir.path(),
        "de.yaml",
        "id: de\nkind: COUNTRY\ndisplay_name: Germany\nrisks:\n  - category: OTHER\n    title: t\n",
    );
    let de = json(ctl(
        &app,
        &["partners", "create", "-f", file.to_str().unwrap(), "-o", "json"],
    ));
    assert_eq!(de["risks"][0]["category"], "OTHER");
    let file = write(
        dir.path(),
        "eu.json",
        r#"{"partners": [{"id": "eu", "kind": "ECONOMIC_BLOC", "display_name": "EU", "members": ["de"]}]}"#,
    );
    ok(ctl(&app, &["-q", "partners", "create", "-f", file.to_str().unwrap()]));

    // get and list in every format.
    let eu = yaml(ctl(&app, &["partners", "get", "eu", "-o", "yaml"]));
    assert_eq!(eu["members"][0].as_str(), Some("de"));
    let de = json(ctl(&app, &["partners", "get", "de", "-o", "json"]));
    assert_eq!(de["memberships"][0], "eu");
    let table = ok(ctl(&app, &["partners", "get", "eu"]));
    assert!(table.contains("ECONOMIC_BLOC") && table.contains("EU"), "{table}");
    let list = json(ctl(
        &app,
        &["partners", "list", "-o", "json", "--order-by", "display_name"],
    ));
    let ids: Vec<&str> = each(&list, "id");
    assert_eq!(ids, ["eu", "de", "kr"]);
    let list = yaml(run(&app, "partners list -o yaml --filter 'kind = COUNTRY' --limit 1"));
    assert_eq!(list.as_array().unwrap().len(), 1);
    let table = ok(ctl(&app, &["partners", "list"]));
    assert!(table.contains("Germany") && table.contains("Korea"), "{table}");

    // update: only the given fields; --etag.
    let etag = de["etag"].as_str().unwrap().to_owned();
    let up = json(ctl(
        &app,
        &[
            "partners", "update", "de", "--region", "europe", "--etag", &etag, "-o", "json",
        ],
    ));
    assert_eq!(up["region"], "europe");
    assert_eq!(up["display_name"], "Germany", "fields outside the mask stay");
    assert_eq!(up["risks"][0]["title"], "t");
    let err = fails(
        ctl(&app, &["partners", "update", "de", "--region", "x", "--etag", &etag]),
        4,
    );
    assert!(err.contains("error:"), "{err}");
    fails(ctl(&app, &["partners", "update", "de"]), 2);
    fails(ctl(&app, &["partners", "get", "nope"]), 3);
    fails(
        ctl(
            &app,
            &["partners", "create", "kr", "--kind", "COUNTRY", "--display-name", "K"],
        ),
        4,
    );
    let err = fails(
        ctl(
            &app,
            &["partners", "create", "xx", "--kind", "PLANET", "--display-name", "X"],
        ),
        1,
    );
    assert!(err.contains("kind"), "{err}");

    // Flows: set, list by partner and by year, in every format.
    ok(run(&app, "-q partners flows set de 2024 --exports 300 --imports 10"));
    let set = json(run(
        &app,
        "partners flows set kr 2024 --exports 100 --imports 5 --source test --estimated -o json",
    ));
    assert_eq!(set["name"], "tradePartners/kr/tradeFlows/2024");
    assert_eq!(set["estimated"], true);
    let flows = json(ctl(&app, &["partners", "flows", "--year", "2024", "-o", "json"]));
    assert_eq!(flows.as_array().unwrap().len(), 2);
    let flows = yaml(ctl(&app, &["partners", "flows", "de", "-o", "yaml"]));
    assert_eq!(flows[0]["exports_usd"].as_i64(), Some(300));
    let table = ok(ctl(&app, &["partners", "flows", "kr"]));
    assert!(table.contains("100") && table.contains("yes"), "{table}");
    fails(ctl(&app, &["partners", "flows"]), 2);

    // Concentration: shares, HHI, top-N, group shares, dependency flags.
    let c = json(run(&app, "concentration --year 2024 --top-n 1 --threshold 0.5 -o json"));
    assert_eq!(c["total_exports_usd"], 400);
    assert_eq!(c["shares"][0]["partner"], "de");
    assert_eq!(c["shares"][0]["dependency_risk"], true);
    assert_eq!(c["top_n"], 1);
    assert_eq!(c["group_shares"][0]["partner"], "eu");
    let y = yaml(ctl(&app, &["concentration", "--year", "2024", "-o", "yaml"]));
    assert_eq!(y["hhi"].as_f64(), Some(6250.0));
    let table = ok(ctl(&app, &["concentration", "--year", "2024"]));
    assert!(table.contains("HHI") && table.contains("75.0%"), "{table}");

    // Export → import into a fresh registry → export: identical partner and flow files.
    let d1 = tempfile::tempdir().unwrap();
    ok(ctl(&app, &["-q", "export", d1.path().to_str().unwrap()]));
    let out = ok(ctl(&app, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "0 created, 0 updated, 5 unchanged");
    let fresh = TestApp::spawn().await;
    let out = ok(ctl(&fresh, &["import", "--dry-run", d1.path().to_str().unwrap()]));
    assert_eq!(
        out.trim(),
        "dry run: would be 5 created, 0 updated, 0 unchanged (nothing written)"
    );
    let out = ok(ctl(&fresh, &["import", d1.path().to_str().unwrap()]));
    assert_eq!(out.trim(), "5 created, 0 updated, 0 unchanged");
    assert_exports_the_same(&fresh, d1.path(), &["partners.yaml", "trade_flows.yaml"]);

    // delete: refused while a group lists it, --force removes it; undelete.
    let err = fails(ctl(&app, &["partners", "delete", "de"]), 1);
    assert!(err.contains("member"), "{err}");
    ok(ctl(&app, &["-q", "partners", "delete", "de", "--force"]));
    let gone = json(ctl(&app, &["partners", "get", "de", "-o", "json"]));
    assert!(gone["delete_time"].is_string(), "{gone}");
    let back = json(ctl(&app, &["partners", "undelete", "de", "-o", "json"]));
    assert_eq!(back["id"], "de");

    // goals record / progress.
    ok(ctl(&app, &["-q", "import", seeds_dir().to_str().unwrap()]));
    let m = json(ctl(
        &app,
        &words(
            "goals record manufacturing-ax --metric ai-factories --value 100 --observed-at 2025-01-01T00:00:00Z --source test -o json",
        ),
    ));
    assert!(
        m["name"]
            .as_str()
            .unwrap()
            .starts_with("policyGoals/manufacturing-ax/measurements/")
    );
    let p = json(ctl(&app, &["goals", "progress", "manufacturing-ax", "-o", "json"]));
    assert_eq!(p[0]["metric"], "ai-factories");
    assert_eq!(p[0]["latest_value"].as_f64(), Some(100.0));
    // "increase productivity by more than 30%": relative, and the statement gives no baseline.
    assert_eq!(p[1]["metric"], "productivity");
    assert_eq!(p[1]["state"], "BASELINE_UNKNOWN");
    let p = yaml(ctl(&app, &["goals", "progress", "manufacturing-ax", "-o", "yaml"]));
    assert_eq!(p[0]["target_value"].as_f64(), Some(500.0));
    let table = ok(ctl(&app, &["goals", "progress", "manufacturing-ax"]));
    assert!(
        table.contains("ai-factories") && table.contains("BASELINE_UNKNOWN"),
        "{table}"
    );
    assert!(table.contains("+30% of the baseline by 2030"), "{table}");
    let table = ok(run(
        &app,
        "goals record manufacturing-ax --metric ai-factories --value 120",
    ));
    assert!(table.contains("120"), "{table}");
    let err = fails(run(&app, "goals record manufacturing-ax --metric nope --value 1"), 1);
    assert!(err.contains("error:"), "{err}");
    fails(
        ctl(&app, &["goals", "record", "nope", "--metric", "x", "--value", "1"]),
        3,
    );
    fails(
        run(
            &app,
            "goals record manufacturing-ax --metric x --value 1 --observed-at yesterday",
        ),
        2,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_sets_trade_import_dependencies_and_dominated() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    ok(ctl(
        &app,
        &words(
            "product-sets create critical-minerals --display-name 'Critical minerals' --product 811292 --product 028530",
        ),
    ));
    let set = json(ctl(&app, &["product-sets", "get", "critical-minerals", "-o", "json"]));
    assert_eq!(set["products"], serde_json::json!(["811292", "028530"]));

    // KR buys 811292 from CN (90%) and JP for three years; 028530 (written 28530) from TW
    // (BACI 490) and the US (BACI 842), NA quantities.
    let mut lines = vec!["t,i,j,k,v,q".to_owned()];
    for year in 2021..=2023 {
        lines.push(format!("{year},156,410,811292,900.000,12.5"));
        lines.push(format!("{year},392,410,811292,100.000,NA"));
        lines.push(format!("{year},490,410,28530,60.000,NA"));
        lines.push(format!("{year},842,410,28530,40.000,1"));
    }
    let good = lines.join("\n") + "\n";
    let bad_file = write(dir.path(), "bad.csv", &format!("{good}2023,410,999,811292,1,1\n"));
    let err = fails(
        ctl(
            &app,
            &["trade", "import", "--format", "baci", bad_file.to_str().unwrap()],
        ),
        1,
    );
    assert!(err.contains(&format!("{}:14:", bad_file.display())), "{err}");
    assert!(err.contains("nothing was loaded"), "{err}");
    let none: Vec<pb::TradeRecord> = app
        .client
        .list_trade_records_page(pb::ListTradeRecordsRequest {
            year: 2023,
            ..Default::default()
        })
        .await
        .unwrap()
        .records;
    assert!(none.is_empty());

    let file = write(dir.path(), "BACI_HS22_Y2023.csv", &good);
    let import = || {
        let args = [
            "trade",
            "import",
            "--format",
            "baci",
            file.to_str().unwrap(),
            "-o",
            "json",
        ];
        json(ctl(&app, &args))
    };
    let loaded = import();
    assert_eq!(
        (loaded[0]["records"].as_u64(), loaded[0]["inserted"].as_i64()),
        (Some(12), Some(12))
    );
    let again = import();
    assert_eq!(
        (again[0]["inserted"].as_i64(), again[0]["unchanged"].as_i64()),
        (Some(0), Some(12))
    );

    let deps = json(run(&app, "dependencies --year 2023 --set critical-minerals -o json"));
    let products: Vec<&str> = each(&deps, "product");
    assert_eq!(products, ["028530", "811292"]);
    let cobalt = &deps[1];
    assert_eq!(cobalt["top_supplier"], "CN");
    assert!((cobalt["import_hhi"].as_f64().unwrap() - 0.82).abs() < 1e-9);
    // Two importers only: the world criterion is unknown, so nothing is called dependent.
    assert!(cobalt.get("world_export_hhi").is_none());
    assert_eq!(cobalt["dependent"], false);
    assert!(cobalt["explanation"].as_str().unwrap().contains("undecided"));
    let table = ok(ctl(&app, &["dependencies", "--year", "2023"]));
    assert!(table.contains("811292") && table.contains("unknown"), "{table}");

    let dominated = yaml(ctl(
        &app,
        &["dominated", "--supplier", "CN", "--year", "2023", "-o", "yaml"],
    ));
    assert_eq!(dominated[0]["product"].as_str(), Some("811292"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agreements_create_update_with_events_list_and_delete() {
    let app = TestApp::spawn().await;
    ok(run(&app, "-q partners create cl --kind COUNTRY --display-name Chile"));
    // From flags: parties by id, Korea implied; no event, so the status is unknown.
    let created = json(run(
        &app,
        "-o json agreements create kr-cl-fta --title 'Korea-Chile FTA' --kind fta --party cl",
    ));
    assert_eq!(created["name"], "agreements/kr-cl-fta");
    assert_eq!(created["kind"], "FTA");
    assert_eq!(created["parties"], serde_json::json!(["cl"]));
    assert_eq!(created["status"], "UNKNOWN");
    // Events from a file, partial dates as written; the status follows them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("events.yaml");
    std::fs::write(
        &file,
        "events:\n  - {kind: SIGNED, date: 2003-02}\n  - {kind: entered_into_force, date: 2004}\n",
    )
    .unwrap();
    let updated = json(ctl(
        &app,
        &[
            "-o",
            "json",
            "agreements",
            "update",
            "kr-cl-fta",
            "-f",
            file.to_str().unwrap(),
        ],
    ));
    assert_eq!(updated["status"], "IN_FORCE");
    assert_eq!(updated["events"][0]["date"], "2003-02");
    assert_eq!(updated["events"][1]["date"], 2004);
    assert_eq!(updated["revision"], 2);
    let table = ok(ctl(&app, &["agreements", "list", "--filter", "status = IN_FORCE"]));
    assert!(table.contains("kr-cl-fta") && table.contains("IN_FORCE"), "{table}");
    // A party that does not exist: exit 1 (failed precondition), nothing stored.
    let err = fails(
        run(
            &app,
            "agreements create kr-jp --title Korea-Japan --kind FTA --party jp",
        ),
        1,
    );
    assert!(
        err.contains("PARTNER_NOT_FOUND") || err.contains("tradePartners/jp"),
        "{err}"
    );
    // The history shows each revision of the agreement.
    let history = json(ctl(&app, &["-o", "json", "history", "agreements/kr-cl-fta"]));
    assert_eq!(history[1]["kind"], "UPDATED");
    assert_eq!(history[1]["trade_agreement"]["status"], "IN_FORCE");
    assert_eq!(history[1]["trade_agreement"]["revision"], 2);
    ok(ctl(&app, &["-q", "agreements", "delete", "kr-cl-fta"]));
    let listed = json(ctl(&app, &["-o", "json", "agreements", "list"]));
    assert_eq!(listed, serde_json::json!([]));
}
