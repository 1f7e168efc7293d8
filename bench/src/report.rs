//! The report: JSON (serde) and the terminal tables (comfy-table), ratios and target checks.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;

use crate::{
    Options, Scenario,
    hist::LatencySummary,
    runner::{Phase, per_second},
    scenarios::Fanout,
    server::Memory,
};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: String,
    pub started_at: String,
    pub total_seconds: f64,
    pub config: Config,
    pub machine: Machine,
    pub server: ServerInfo,
    pub dataset: DatasetInfo,
    pub scenarios: Vec<ScenarioResult>,
    pub checks: Vec<Check>,
    pub method: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Config {
    pub concurrency: usize,
    pub connections: usize,
    pub duration_seconds: Option<f64>,
    pub requests: Option<u64>,
    pub warmup_seconds: f64,
    pub latency_load: f64,
    pub dataset_size: u64,
    pub batch_size: usize,
    pub page_size: i32,
    pub list_filter: String,
    pub watchers: usize,
    pub watch_write_rate: f64,
    pub db_connections: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    /// /proc/loadavg at the start (other work on the machine skews the figures).
    pub load_average: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerInfo {
    /// `self` (bench binary re-executed as registryd), `registryd`, or `external`.
    pub mode: String,
    pub pid: Option<u32>,
    pub endpoint: String,
    /// VmRSS after start-up and migrations, before any request.
    pub idle_rss_kib: Option<u64>,
    /// VmRSS after the dataset was loaded (one Create through the API).
    pub idle_after_load_rss_kib: Option<u64>,
    /// Highest VmRSS sampled (every 100 ms) during the `get` scenario.
    pub get_load_max_rss_kib: Option<u64>,
    /// VmRSS and VmHWM (peak) at the end of the run.
    pub final_memory: Option<Memory>,
    /// watch-fanout: growth of VmRSS from before the watchers connected to all of them
    /// subscribed, per subscribed watcher (bytes).
    pub bytes_per_watcher: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DatasetInfo {
    pub size: u64,
    pub load_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioResult {
    pub name: String,
    /// `req/s`, `goals/s` or `deliveries/s`.
    pub unit: String,
    /// Closed-loop throughput (successful operations per second).
    pub throughput: f64,
    /// What the ratio compares with (the scenario itself for a baseline).
    pub baseline: String,
    /// throughput / baseline throughput (1.0 for a baseline).
    pub ratio: f64,
    pub requests: u64,
    pub errors: u64,
    pub error_sample: Option<String>,
    /// The latency figures: open-loop (coordinated-omission free) unless `latency_mode` says
    /// otherwise.
    pub latency: LatencySummary,
    pub latency_mode: String,
    /// Rate of the open-loop phase (requests/s) and the rate it achieved.
    pub open_loop_rate: Option<f64>,
    pub open_loop_achieved_rate: Option<f64>,
    /// Service times of the closed-loop phase (have the coordinated-omission blind spot).
    pub closed_loop_latency: Option<LatencySummary>,
    /// One request at a time (get and batch-get).
    pub unloaded_latency: Option<LatencySummary>,
    /// CPU used during the closed-loop phase (from /proc).
    pub cpu: Option<CpuUsage>,
    pub notes: Vec<String>,
}

/// Where the CPU went during a closed-loop phase.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuUsage {
    /// Server CPU time per operation, microseconds.
    pub server_us_per_op: Option<f64>,
    /// Load generator CPU time per operation, microseconds.
    pub bench_us_per_op: Option<f64>,
    /// Fraction of the machine's CPU busy (all processes, PostgreSQL and other work included).
    pub machine_busy: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub target: String,
    pub measured: String,
    pub pass: Option<bool>,
}

impl ScenarioResult {
    pub fn from_phases(scenario: Scenario, closed: &Phase, open: Option<&(f64, Phase)>) -> ScenarioResult {
        let (latency, mode, rate, achieved, closed_latency, errors, sample) = match open {
            Some((rate, p)) => (
                LatencySummary::of(&p.hist),
                format!("open-loop at {:.0}/s", rate),
                Some(*rate),
                Some(p.rate()),
                Some(LatencySummary::of(&closed.hist)),
                closed.errors + p.errors,
                closed.error_sample.clone().or_else(|| p.error_sample.clone()),
            ),
            None => (
                LatencySummary::of(&closed.hist),
                "closed-loop".to_owned(),
                None,
                None,
                None,
                closed.errors,
                closed.error_sample.clone(),
            ),
        };
        ScenarioResult {
            name: scenario.name().to_owned(),
            unit: "req/s".into(),
            throughput: closed.throughput(),
            baseline: String::new(),
            ratio: 0.0,
            requests: closed.ok + closed.errors + open.map_or(0, |(_, p)| p.ok + p.errors),
            errors,
            error_sample: sample,
            latency,
            latency_mode: mode,
            open_loop_rate: rate,
            open_loop_achieved_rate: achieved,
            closed_loop_latency: closed_latency,
            unloaded_latency: None,
            cpu: None,
            notes: Vec::new(),
        }
    }
}

/// The watch fan-out as a scenario result.
pub fn fanout_result(f: &Fanout, write_rate: f64) -> ScenarioResult {
    let expected = f.writes * f.connected as u64;
    let missing = expected.saturating_sub(f.delivered);
    let not_connected = (f.watchers - f.connected) as u64;
    let mut notes = vec![
        format!(
            "{} watchers ({} connected), one writer at {write_rate}/s: {} writes, {} of {} deliveries",
            f.watchers, f.connected, f.writes, f.delivered, expected
        ),
        "latency = receipt time - change_time (database clock in the writing transaction, before commit)".into(),
    ];
    if let Some(b) = f.bytes_per_watcher() {
        notes.push(format!(
            "server memory per watcher {:.1} KiB (RSS {} KiB before the watchers connected, {} KiB with all subscribed)",
            b / 1024.0,
            f.rss_before_kib.unwrap_or(0),
            f.rss_watching_kib.unwrap_or(0)
        ));
    }
    if f.watchers < 10_000 {
        notes.push("fewer than the 10000 watchers of the target".into());
    }
    ScenarioResult {
        name: Scenario::WatchFanout.name().to_owned(),
        unit: "deliveries/s".into(),
        throughput: per_second(f.delivered, f.elapsed),
        baseline: String::new(),
        ratio: 0.0,
        requests: f.writes + f.write_errors,
        errors: missing + not_connected + f.write_errors + f.stream_errors,
        error_sample: f.error_sample.clone(),
        latency: LatencySummary::of(&f.hist),
        latency_mode: "delivery after commit".into(),
        open_loop_rate: Some(write_rate),
        open_loop_achieved_rate: None,
        closed_loop_latency: None,
        unloaded_latency: None,
        cpu: None,
        notes,
    }
}

/// The import scenario: goals/s of the first import of the file; its "latency" is the
/// duration of the whole import (one sample each: the first run and the unchanged rerun).
pub fn import_result(run: &crate::scenarios::ImportRun) -> ScenarioResult {
    let mut hist = crate::hist::new_histogram();
    for d in [run.elapsed, run.again] {
        crate::hist::record(&mut hist, d);
    }
    ScenarioResult {
        name: Scenario::Import.name().to_owned(),
        unit: "goals/s".into(),
        throughput: if run.error.is_some() {
            0.0
        } else {
            per_second(run.goals as u64, run.elapsed)
        },
        baseline: String::new(),
        ratio: 0.0,
        requests: run.goals as u64,
        errors: u64::from(run.error.is_some()),
        error_sample: run.error.clone(),
        latency: LatencySummary::of(&hist),
        latency_mode: "whole import: first run, unchanged rerun".into(),
        open_loop_rate: None,
        open_loop_achieved_rate: None,
        closed_loop_latency: None,
        unloaded_latency: None,
        cpu: None,
        notes: vec![format!(
            "registry-cli import of one {:.1} MiB JSON file of {} full goals (1 root in 50, the rest children): \
             first run {:.2} s (all created), rerun {:.2} s (all unchanged, {:.0} goals/s)",
            run.file_bytes as f64 / 1048576.0,
            run.goals,
            run.elapsed.as_secs_f64(),
            run.again.as_secs_f64(),
            run.goals as f64 / run.again.as_secs_f64().max(1e-9),
        )],
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

impl Report {
    pub fn new(opts: &Options) -> Report {
        let now = time::OffsetDateTime::now_utc();
        Report {
            tool: format!("registry-bench {}", env!("CARGO_PKG_VERSION")),
            started_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            total_seconds: 0.0,
            config: Config {
                concurrency: opts.concurrency,
                connections: opts.connections,
                duration_seconds: opts.requests.is_none().then_some(opts.duration.as_secs_f64()),
                requests: opts.requests,
                warmup_seconds: opts.warmup.as_secs_f64(),
                latency_load: opts.latency_load,
                dataset_size: opts.dataset_size,
                batch_size: opts.batch_size,
                page_size: opts.page_size,
                list_filter: opts.list_filter.clone(),
                watchers: opts.watchers,
                watch_write_rate: opts.watch_write_rate,
                db_connections: opts.db_connections,
            },
            machine: Machine {
                cpus: std::thread::available_parallelism().map_or(0, usize::from),
                load_average: std::fs::read_to_string("/proc/loadavg")
                    .ok()
                    .map(|s| s.trim().to_owned()),
            },
            server: ServerInfo::default(),
            dataset: DatasetInfo::default(),
            scenarios: Vec::new(),
            checks: Vec::new(),
            method: vec![
                "throughput: closed loop, `concurrency` requests in flight back to back".into(),
                "latency: open loop at `latency_load` x the closed-loop throughput, measured from each \
                 request's intended start when the worker is behind schedule (no coordinated omission)"
                    .into(),
                "ratio: throughput / baseline throughput measured in the same run; mixed compares with \
                 1 / (0.9 / db-select + 0.1 / db-insert); watch-fanout's deliveries/s with health"
                    .into(),
            ],
        }
    }

    fn scenario(&self, name: &str) -> Option<&ScenarioResult> {
        self.scenarios.iter().find(|s| s.name == name)
    }

    /// Fills in ratios and target checks.
    pub fn finish(&mut self) {
        let tp = |name: &str| self.scenario(name).map(|s| s.throughput);
        let (select, insert, health) = (tp("db-select"), tp("db-insert"), tp("health"));
        let ratios: Vec<(String, f64)> = self
            .scenarios
            .iter()
            .map(|s| {
                let (label, base) = match s.name.as_str() {
                    "health" | "db-select" | "db-insert" | "db-copy" => (s.name.clone(), Some(s.throughput)),
                    "trade-load" => ("db-copy".into(), tp("db-copy")),
                    "dependencies" => ("db-select".into(), select),
                    "h2-health" => (s.name.clone(), Some(s.throughput)),
                    "h2-get" => ("h2-health".into(), tp("h2-health")),
                    "h2load-health" => (s.name.clone(), Some(s.throughput)),
                    "h2load-get" => ("h2load-health".into(), tp("h2load-health")),
                    "get" | "batch-get" | "list" => ("db-select".into(), select),
                    "create" | "update" | "import" => ("db-insert".into(), insert),
                    "mixed" => (
                        "0.9 db-select + 0.1 db-insert".into(),
                        match (select, insert) {
                            (Some(s), Some(i)) if s > 0.0 && i > 0.0 => Some(1.0 / (0.9 / s + 0.1 / i)),
                            _ => None,
                        },
                    ),
                    _ => ("health".into(), health),
                };
                let ratio = match base {
                    Some(b) if b > 0.0 => s.throughput / b,
                    _ => 0.0,
                };
                (label, ratio)
            })
            .collect();
        for (s, (label, ratio)) in self.scenarios.iter_mut().zip(ratios) {
            s.baseline = label;
            s.ratio = ratio;
        }
        self.checks = self.compute_checks();
    }

    fn compute_checks(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let mut add = |target: &str, measured: String, pass: Option<bool>| {
            checks.push(Check {
                target: target.into(),
                measured,
                pass,
            })
        };
        if let Some(g) = self.scenario("get") {
            add(
                "get >= 1.5 x db-select throughput",
                format!("{:.2} x ({:.0}/s)", g.ratio, g.throughput),
                Some(g.ratio >= 1.5),
            );
            add(
                "get p99 <= 5 ms",
                format!("{:.2} ms ({})", g.latency.p99_ms, g.latency_mode),
                Some(g.latency.p99_ms <= 5.0),
            );
        }
        if let Some(g) = self.scenario("h2-get") {
            add(
                "h2-get >= 0.6 x h2-health (GetPolicyGoal vs Health/Check, h2load-style)",
                format!("{:.2} x ({:.0}/s)", g.ratio, g.throughput),
                Some(g.ratio >= 0.6),
            );
        }
        if let Some(g) = self.scenario("h2load-get") {
            add(
                "h2load: GetPolicyGoal >= 0.6 x Health/Check (real h2load, same run)",
                match &g.error_sample {
                    Some(e) => format!("not measured: {e}"),
                    None => format!("{:.2} x ({:.0}/s)", g.ratio, g.throughput),
                },
                g.error_sample.is_none().then_some(g.ratio >= 0.6),
            );
        }
        if let Some(c) = self.scenario("create") {
            add(
                "create >= 0.5 x db-insert throughput",
                format!("{:.2} x ({:.0}/s)", c.ratio, c.throughput),
                Some(c.ratio >= 0.5),
            );
        }
        if let Some(l) = self.scenario("list") {
            add(
                &format!("list p99 <= 25 ms on {} goals", self.dataset.size),
                format!("{:.2} ms ({})", l.latency.p99_ms, l.latency_mode),
                Some(l.latency.p99_ms <= 25.0),
            );
        }
        if let (Some(b), Some(g)) = (self.scenario("batch-get"), self.scenario("get"))
            && let (Some(bu), Some(gu)) = (&b.unloaded_latency, &g.unloaded_latency)
            && gu.p50_ms > 0.0
        {
            let x = bu.p50_ms / gu.p50_ms;
            add(
                "batch-get(100) <= 3 x one get latency (p50, one at a time)",
                format!("{x:.2} x ({:.2} ms vs {:.2} ms)", bu.p50_ms, gu.p50_ms),
                Some(x <= 3.0),
            );
        }
        if let Some(w) = self.scenario("watch-fanout") {
            add(
                "watch-fanout: 10000 watchers, p99 delivery <= 200 ms",
                format!(
                    "{:.2} ms with {} watchers, {} errors",
                    w.latency.p99_ms, self.config.watchers, w.errors
                ),
                Some(w.latency.p99_ms <= 200.0 && self.config.watchers >= 10_000 && w.errors == 0),
            );
            // Memory freed by earlier scenarios is reused by the watchers: the growth of RSS
            // says what a watcher costs only on a server that ran nothing else before.
            let alone = self
                .scenarios
                .iter()
                .all(|s| ["health", "watch-fanout"].contains(&s.name.as_str()));
            if let Some(b) = self.server.bytes_per_watcher.filter(|_| alone) {
                add(
                    "watch-fanout: server memory <= 20 KB per watcher",
                    format!("{:.1} KB ({:.0} bytes)", b / 1000.0, b),
                    Some(b <= 20_000.0 && self.config.watchers >= 10_000),
                );
            }
        }
        if let Some(i) = self.scenario("import") {
            add(
                "import >= 5000 goals/s",
                format!("{:.0} goals/s", i.throughput),
                Some(i.throughput >= 5000.0),
            );
        }
        if let Some(t) = self.scenario("trade-load") {
            let seconds = t.requests as f64 / t.throughput.max(1e-9);
            add(
                "trade-load: 1,000,000 rows in <= 10 s",
                format!(
                    "{} rows in {seconds:.2} s ({:.0} rows/s, {:.2} x db-copy)",
                    t.requests, t.throughput, t.ratio
                ),
                Some(t.requests >= 1_000_000 && seconds <= 10.0 && t.errors == 0),
            );
        }
        if let Some(d) = self.scenario("dependencies") {
            add(
                "dependencies p99 <= 500 ms (one importer-year)",
                format!("{:.2} ms ({})", d.latency.p99_ms, d.latency_mode),
                Some(d.latency.p99_ms <= 500.0 && d.errors == 0),
            );
        }
        let idle = self.server.idle_rss_kib;
        add("idle RSS <= 30 MB", mib(idle), idle.map(|k| k as f64 / 1024.0 <= 30.0));
        if self.scenario("get").is_some() {
            let load = self.server.get_load_max_rss_kib;
            add(
                "RSS under get load <= 100 MB",
                mib(load),
                load.map(|k| k as f64 / 1024.0 <= 100.0),
            );
        }
        checks
    }

    /// Writes the report as pretty JSON to `path` (creating its directory).
    pub fn write_json(&self, path: &std::path::Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, serde_json::to_vec_pretty(self)?)?;
        Ok(())
    }

    /// The report as terminal tables.
    pub fn render(&self) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "scenario",
            "throughput",
            "ratio",
            "vs",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "errors",
            "latency measured",
            "CPU µs/op srv·bench",
        ]);
        for s in &self.scenarios {
            let right = |v: String| Cell::new(v).set_alignment(CellAlignment::Right);
            t.add_row(vec![
                Cell::new(&s.name),
                right(format!("{:.0} {}", s.throughput, s.unit)),
                right(format!("{:.2}", s.ratio)),
                Cell::new(&s.baseline),
                right(format!("{:.2}", s.latency.p50_ms)),
                right(format!("{:.2}", s.latency.p90_ms)),
                right(format!("{:.2}", s.latency.p99_ms)),
                right(format!("{:.2}", s.latency.max_ms)),
                right(s.errors.to_string()),
                Cell::new(&s.latency_mode),
                right(match &s.cpu {
                    Some(c) => format!(
                        "{}·{} ({}% busy)",
                        c.server_us_per_op.map_or("-".into(), |v| format!("{v:.0}")),
                        c.bench_us_per_op.map_or("-".into(), |v| format!("{v:.0}")),
                        c.machine_busy.map_or("-".into(), |v| format!("{:.0}", v * 100.0)),
                    ),
                    None => String::new(),
                }),
            ]);
        }
        let mut c = Table::new();
        c.load_style(UTF8_FULL_CONDENSED);
        c.set_header(vec!["target", "measured", "met"]);
        for check in &self.checks {
            c.add_row(vec![
                check.target.clone(),
                check.measured.clone(),
                match check.pass {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => "n/a".into(),
                },
            ]);
        }
        let mut out = format!(
            "registry-bench: concurrency {}, {} connection(s), {}, dataset {} goals (loaded in {:.1} s), server {} (pid {})\n",
            self.config.concurrency,
            self.config.connections,
            match (self.config.requests, self.config.duration_seconds) {
                (Some(n), _) => format!("{n} requests per phase"),
                (None, Some(d)) => format!("{d} s per phase"),
                _ => String::new(),
            },
            self.dataset.size,
            self.dataset.load_seconds,
            self.server.mode,
            self.server.pid.map_or("n/a".into(), |p| p.to_string()),
        );
        out.push_str(&t.to_string());
        out.push('\n');
        out.push_str(&format!(
            "server RSS: idle {}, after loading {}, under get load {}, peak {}\n",
            mib(self.server.idle_rss_kib),
            mib(self.server.idle_after_load_rss_kib),
            mib(self.server.get_load_max_rss_kib),
            mib(self.server.final_memory.map(|m| m.vm_hwm_kib)),
        ));
        for s in &self.scenarios {
            if let Some(u) = &s.unloaded_latency {
                out.push_str(&format!(
                    "{} one at a time: p50 {:.2} ms, p99 {:.2} ms\n",
                    s.name, u.p50_ms, u.p99_ms
                ));
            }
            if let Some(e) = &s.error_sample {
                out.push_str(&format!("{} first error: {e}\n", s.name));
            }
        }
        out.push_str(&c.to_string());
        out.push_str(&format!("\ntotal {:.0} s\n", self.total_seconds));
        out
    }
}
