//! Smoke test of the benchmark (`registry-bench`): the whole run with a tiny dataset and very
//! short phases against this package's `registryd` binary (`--registryd` mode). It checks the
//! report's shape (every scenario, with a baseline and a ratio), never the speed.

use std::{path::PathBuf, time::Duration};

use clap::Parser;
use registry_bench::{Options, Scenario, server::Launch};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_has_a_ratio() {
    let url = registry_e2e::admin_url();
    let dir = tempfile::tempdir().expect("temp dir");
    let json = dir.path().join("bench.json");
    let opts = Options::parse_from([
        "registry-bench",
        "--all",
        "--dataset-size",
        "300",
        "--duration",
        "150ms",
        "--warmup",
        "50ms",
        "--concurrency",
        "4",
        "--watchers",
        "8",
        "--import-size",
        "120",
        "--watch-write-rate",
        "20",
        "--h2load-requests",
        "400",
        "--h2load-rounds",
        "1",
        "--database-url",
        &url,
        "--json",
        json.to_str().expect("utf-8 path"),
    ]);
    let launch = Launch::registryd(PathBuf::from(env!("CARGO_BIN_EXE_registryd")));
    let report = tokio::time::timeout(Duration::from_secs(120), registry_bench::run(&opts, launch))
        .await
        .expect("the smoke run finishes")
        .expect("the smoke run succeeds");
    report.write_json(&json).expect("write JSON");
    let _ = report.render();

    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).expect("read JSON")).expect("JSON");
    let scenarios = v["scenarios"].as_array().expect("scenarios");
    for s in Scenario::ALL {
        let r = scenarios
            .iter()
            .find(|r| r["name"] == s.name())
            .unwrap_or_else(|| panic!("{} missing from {v:#}", s.name()));
        assert!(r["ratio"].is_f64(), "{}: no ratio in {r:#}", s.name());
        assert!(
            !r["baseline"].as_str().unwrap_or("").is_empty(),
            "{}: no baseline",
            s.name()
        );
        for k in ["throughput", "errors"] {
            assert!(r[k].is_number(), "{}: no {k}", s.name());
        }
        for k in ["p50_ms", "p90_ms", "p99_ms", "max_ms"] {
            assert!(r["latency"][k].is_number(), "{}: no latency.{k}", s.name());
        }
    }
    // The import scenario goes through registry-cli's import: 120 goals created, then unchanged.
    let import = scenarios.iter().find(|r| r["name"] == "import").expect("import");
    assert_eq!(import["errors"], 0, "import failed: {import:#}");
    assert!(import["throughput"].as_f64().is_some_and(|t| t > 0.0), "{import:#}");
    assert!(v["server"]["idle_rss_kib"].is_u64(), "idle RSS read from /proc: {v:#}");
    assert!(!v["checks"].as_array().expect("checks").is_empty());
}
