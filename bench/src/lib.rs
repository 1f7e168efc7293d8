//! `registry-bench`: load generator and performance baselines for registryd (issue 10).
//!
//! [`run`] is the whole benchmark: it creates a scratch database, starts registryd as a
//! child process (see [`server`]), loads the dataset with plain SQL, runs the selected
//! scenarios and returns a [`Report`]; `main` prints it as a table and writes it as JSON.
//! docs/performance.md explains the method and the latest figures.

pub mod dataset;
pub mod h2load;
pub mod hist;
pub mod report;
pub mod runner;
pub mod scenarios;
pub mod server;
pub mod trade;

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};
use registry_client::RegistryClient;
use serde::Serialize;

pub use report::{Check, Report, ScenarioResult};

use crate::{
    hist::LatencySummary,
    runner::{Budget, Op, Phase},
    server::{Launch, ServerProcess},
};

/// Benchmarks registryd and the PostgreSQL under it.
#[derive(Debug, Clone, Parser)]
#[command(name = "registry-bench", version, about)]
pub struct Options {
    /// Scenarios to run (comma separated); the baselines they are compared with run too.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// Run every scenario (the default when --scenarios is not given).
    #[arg(long, conflicts_with = "scenarios")]
    pub all: bool,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the requests are spread over.
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Length of each measured phase (e.g. `5s`, `500ms`).
    #[arg(long, default_value = "5s", value_parser = parse_duration, conflicts_with = "requests")]
    pub duration: Duration,
    /// Requests per measured phase instead of a duration.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Warm-up before each scenario (not measured).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Goals in the dataset (loaded with SQL, not through the API).
    #[arg(long, default_value_t = 100_000)]
    pub dataset_size: u64,
    /// The goals `get` reads (its working set, read once before the warm-up so that the
    /// server's cache holds them): the first N of the dataset.
    #[arg(long, default_value_t = 10_000)]
    pub get_keys: u64,
    /// HTTP/2 connections of the h2-health and h2-get scenarios (--concurrency streams are
    /// spread over them).
    #[arg(long, default_value_t = 8)]
    pub h2_connections: usize,
    /// Where to write the JSON report.
    #[arg(long, default_value = "target/registry-bench/latest.json")]
    pub json: PathBuf,
    /// Rate of the open-loop latency phase, as a fraction of the closed-loop throughput.
    #[arg(long, default_value_t = 0.75)]
    pub latency_load: f64,
    /// Names per BatchGet.
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// The List filter.
    #[arg(long, default_value = "state = ACTIVE AND pillar = INDUSTRIAL_RESURGENCE")]
    pub list_filter: String,
    /// List page size.
    #[arg(long, default_value_t = 50)]
    pub page_size: i32,
    /// Goals in the file of the import scenario (one root in 50, the others its children).
    #[arg(long, default_value_t = 10_000)]
    pub import_size: usize,
    /// Trade records trade-load generates and loads (3 years x products x 70 flows).
    #[arg(long, default_value_t = 1_000_000)]
    pub trade_rows: usize,
    /// Order of the generated trade file: `product` (each product's flows of every year
    /// together) or `baci` (by year, exporter, importer and product, as BACI's files are).
    #[arg(long, value_enum, default_value_t = trade::Order::Product)]
    pub trade_order: trade::Order,
    /// The h2load program (nghttp2-client) of the h2load-get scenario.
    #[arg(long, default_value = "h2load")]
    pub h2load: PathBuf,
    /// Requests of each h2load run (Check, then Get).
    #[arg(long, default_value_t = 100_000)]
    pub h2load_requests: u64,
    /// Times h2load-get alternates a Check run and a Get run (the medians are reported).
    #[arg(long, default_value_t = 3)]
    pub h2load_rounds: usize,
    /// WatchChanges streams of watch-fanout.
    #[arg(long, default_value_t = 10_000)]
    pub watchers: usize,
    /// Writes per second of the watch-fanout writer.
    #[arg(long, default_value_t = 20.0)]
    pub watch_write_rate: f64,
    /// PostgreSQL. Without --endpoint: the server on which a scratch database is created
    /// (and dropped at the end). With --endpoint: the database of that registry.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// Drive a running registry (e.g. `http://127.0.0.1:50051`) instead of starting one.
    #[arg(long, requires = "token")]
    pub endpoint: Option<String>,
    /// Token of the running registry (EDITOR or ADMIN).
    #[arg(long, env = "REGISTRY_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// With --endpoint: the server's pid, to read its memory from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Start this registryd binary (`registryd serve`) instead of re-executing the bench
    /// binary as the server.
    #[arg(long)]
    pub registryd: Option<PathBuf>,
    /// Database pool size of the started server and of the db-* baselines.
    #[arg(long, default_value_t = 16)]
    pub db_connections: u32,
    /// Keep the scratch database instead of dropping it.
    #[arg(long)]
    pub keep_database: bool,
    /// Progress on stderr.
    #[arg(long, short)]
    pub verbose: bool,
}

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    Health,
    DbSelect,
    DbInsert,
    Get,
    BatchGet,
    List,
    Create,
    Update,
    Mixed,
    Import,
    WatchFanout,
    /// Bulk load of product-level trade records (not in `--all`: it loads --trade-rows rows).
    TradeLoad,
    /// ListImportDependencies over the trade-load rows (runs trade-load first).
    Dependencies,
    /// Health/Check over raw HTTP/2 streams, h2load-style (see [`h2load`]).
    H2Health,
    /// GetPolicyGoal of one goal over raw HTTP/2 streams, h2load-style.
    H2Get,
    /// The real `h2load` (nghttp2): Check, then GetPolicyGoal of one goal, alternately
    /// (results `h2load-health` and `h2load-get`; skipped with a note when not installed).
    H2loadGet,
}

impl Scenario {
    pub const ALL: [Scenario; 14] = [
        Scenario::Health,
        Scenario::DbSelect,
        Scenario::DbInsert,
        Scenario::Get,
        Scenario::BatchGet,
        Scenario::List,
        Scenario::Create,
        Scenario::Update,
        Scenario::Mixed,
        Scenario::Import,
        Scenario::WatchFanout,
        Scenario::H2Health,
        Scenario::H2Get,
        Scenario::H2loadGet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::DbSelect => "db-select",
            Scenario::DbInsert => "db-insert",
            Scenario::Get => "get",
            Scenario::BatchGet => "batch-get",
            Scenario::List => "list",
            Scenario::Create => "create",
            Scenario::Update => "update",
            Scenario::Mixed => "mixed",
            Scenario::Import => "import",
            Scenario::WatchFanout => "watch-fanout",
            Scenario::TradeLoad => "trade-load",
            Scenario::Dependencies => "dependencies",
            Scenario::H2Health => "h2-health",
            Scenario::H2Get => "h2-get",
            Scenario::H2loadGet => "h2load-get",
        }
    }

    /// The baselines this scenario's ratio is computed against.
    pub fn baselines(self) -> &'static [Scenario] {
        match self {
            Scenario::Health | Scenario::DbSelect | Scenario::DbInsert | Scenario::H2Health => &[],
            // h2load-get measures its own baseline (h2load-health) in the same run.
            Scenario::H2loadGet => &[],
            Scenario::H2Get => &[Scenario::H2Health],
            Scenario::Get | Scenario::BatchGet | Scenario::List => &[Scenario::DbSelect],
            Scenario::Create | Scenario::Update | Scenario::Import => &[Scenario::DbInsert],
            Scenario::Mixed => &[Scenario::DbSelect, Scenario::DbInsert],
            Scenario::WatchFanout => &[Scenario::Health],
            // trade-load measures its own baseline (db-copy) in the same run.
            Scenario::TradeLoad => &[],
            Scenario::Dependencies => &[Scenario::DbSelect, Scenario::TradeLoad],
        }
    }
}

/// Accepts `5s`, `500ms`, `2m` or a number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 5s, 500ms)"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("invalid duration {s:?}"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

impl Options {
    /// The scenarios to run, with the baselines they need, in run order.
    pub fn selected(&self) -> Vec<Scenario> {
        let mut out: Vec<Scenario> = if self.all || self.scenarios.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            self.scenarios.clone()
        };
        let extra: Vec<Scenario> = out.iter().flat_map(|s| s.baselines().iter().copied()).collect();
        out.extend(extra);
        out.sort();
        out.dedup();
        out
    }

    fn budget(&self) -> Budget {
        match self.requests {
            Some(n) => Budget::Requests(n),
            None => Budget::Time(self.duration),
        }
    }
}

/// Where the server under test runs.
struct Target {
    endpoint: String,
    token: String,
    database_url: String,
    server: Option<ServerProcess>,
    pid: Option<u32>,
    mode: String,
}

/// Runs the benchmark. `launch` says how to start the server (ignored with --endpoint).
pub async fn run(opts: &Options, launch: Launch) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let mut report = Report::new(opts);
    let scratch = if opts.endpoint.is_none() {
        Some(dataset::ScratchDb::create(&opts.database_url).await?)
    } else {
        None
    };
    // Ctrl-C still drops the scratch database (the server child is killed with its handle).
    let result = tokio::select! {
        r = run_on(opts, launch, scratch.as_ref(), &mut report) => r,
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    if let Some(db) = &scratch {
        if opts.keep_database {
            eprintln!("kept the database {}", db.name);
        } else if let Err(e) = db.drop_now().await {
            eprintln!("warning: cannot drop the database {}: {e:#}", db.name);
        }
    }
    result?;
    report.total_seconds = started.elapsed().as_secs_f64();
    report.finish();
    Ok(report)
}

async fn run_on(
    opts: &Options,
    launch: Launch,
    scratch: Option<&dataset::ScratchDb>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let say = |msg: &str| {
        if opts.verbose {
            eprintln!("{msg}");
        }
    };
    let mut target = match scratch {
        Some(db) => {
            // Migrate and create the admin token before the server starts.
            let store = registry_server::Store::connect(
                &db.url,
                registry_server::StoreOptions {
                    max_connections: 2,
                    ..Default::default()
                },
            )
            .await
            .context("migrating the scratch database")?;
            let ctx = registry_server::store::WriteCtx {
                actor: registry_server::domain::Actor::system(),
                request_id: None,
                validate_only: false,
            };
            let (_, token) = store
                .create_token(
                    registry_server::domain::enums::Role::Admin,
                    "registry-bench",
                    None,
                    &ctx,
                )
                .await?;
            store.pool().close().await;
            say(&format!("starting the server ({})", launch.program.display()));
            let server = ServerProcess::start(&launch, &db.url, opts.db_connections).await?;
            say(&format!("server pid {} listening on {}", server.pid, server.addr));
            Target {
                endpoint: format!("http://{}", server.addr),
                token,
                database_url: db.url.clone(),
                pid: Some(server.pid),
                server: Some(server),
                mode: launch.mode.to_owned(),
            }
        }
        None => Target {
            endpoint: opts.endpoint.clone().unwrap_or_default(),
            token: opts.token.clone().unwrap_or_default(),
            database_url: opts.database_url.clone(),
            server: None,
            pid: opts.server_pid,
            mode: "external".into(),
        },
    };
    report.server.mode = target.mode.clone();
    report.server.pid = target.pid;
    report.server.endpoint = target.endpoint.clone();
    let result = run_scenarios(opts, &target, report, &say).await;
    if let Some(server) = target.server.take() {
        if result.is_err() {
            eprintln!("server log (last lines):\n{}", server.log_tail());
        }
        server.stop(Duration::from_secs(10)).await;
    }
    result
}

async fn connect(opts: &Options, target: &Target) -> anyhow::Result<scenarios::Ctx> {
    let mut clients = Vec::new();
    let mut health = Vec::new();
    for _ in 0..opts.connections.max(1) {
        clients.push(
            RegistryClient::builder(target.endpoint.clone())
                .token(target.token.clone())
                .connect()
                .await
                .with_context(|| format!("cannot connect to {}", target.endpoint))?,
        );
        let channel = tonic::transport::Endpoint::from_shared(target.endpoint.clone())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        health.push(tonic_health::pb::health_client::HealthClient::new(channel));
    }
    let pool = dataset::baseline_pool(&target.database_url, opts.db_connections).await?;
    Ok(scenarios::Ctx::new(
        clients,
        health,
        target.endpoint.clone(),
        target.token.clone(),
        pool,
        opts.dataset_size,
        opts.get_keys,
        opts.concurrency,
        opts.batch_size,
        opts.list_filter.clone(),
        opts.page_size,
    ))
}

async fn run_scenarios(opts: &Options, target: &Target, report: &mut Report, say: &dyn Fn(&str)) -> anyhow::Result<()> {
    if opts.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let ctx = connect(opts, target).await?;
    // Idle: started, migrated, nothing served yet.
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.server.idle_rss_kib = target.pid.and_then(server::memory).map(|m| m.vm_rss_kib);

    say(&format!("loading {} goals", opts.dataset_size));
    let t = std::time::Instant::now();
    dataset::load(&ctx.clients[0], &ctx.pool, opts.dataset_size, opts.verbose).await?;
    report.dataset.size = opts.dataset_size;
    report.dataset.load_seconds = t.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    report.server.idle_after_load_rss_kib = target.pid.and_then(server::memory).map(|m| m.vm_rss_kib);

    let c = opts.concurrency as u64;
    let per_worker = 4u64;
    for scenario in opts.selected() {
        say(&format!("scenario {}", scenario.name()));
        let result = match scenario {
            Scenario::Health => measure(opts, target.pid, scenario, &ctx.health(), true).await,
            Scenario::DbSelect => measure(opts, target.pid, scenario, &ctx.db_select(), true).await,
            Scenario::DbInsert => measure(opts, target.pid, scenario, &ctx.db_insert(), true).await,
            Scenario::Get => {
                ctx.warm_get_keys().await?;
                let sampler = target.pid.map(server::RssSampler::start);
                let mut r = measure(opts, target.pid, scenario, &ctx.get(), true).await;
                report.server.get_load_max_rss_kib = sampler.map(server::RssSampler::finish);
                r.unloaded_latency = Some(unloaded(opts, &ctx.get()).await);
                r.notes.push(format!(
                    "random goals of the first {} (read once before the warm-up)",
                    ctx.get_keys
                ));
                r
            }
            Scenario::H2Health | Scenario::H2Get => {
                let h2 = h2load::H2Pool::connect(&target.endpoint, &target.token, opts.h2_connections).await?;
                let op = match scenario {
                    Scenario::H2Health => h2.health()?,
                    _ => h2.get(&format!("policyGoals/{}", dataset::goal_id(0)))?,
                };
                let mut r = measure(opts, target.pid, scenario, &op, true).await;
                r.notes.push(format!(
                    "raw HTTP/2, {} connections x {} streams, one pre-encoded request",
                    opts.h2_connections,
                    opts.concurrency.div_ceil(opts.h2_connections.max(1))
                ));
                r
            }
            Scenario::H2loadGet => {
                let goal = format!("policyGoals/{}", dataset::goal_id(0));
                // h2load does not read trailers: check once that the Get succeeds.
                let h2 = h2load::H2Pool::connect(&target.endpoint, &target.token, 1).await?;
                h2.get(&goal)?(0)
                    .await
                    .map_err(|e| anyhow::anyhow!("GetPolicyGoal over h2: {e}"))?;
                let streams = opts.concurrency.div_ceil(opts.h2_connections.max(1));
                match h2load::external(
                    &opts.h2load,
                    &target.endpoint,
                    &target.token,
                    &goal,
                    h2load::Shape {
                        requests: opts.h2load_requests,
                        connections: opts.h2_connections,
                        streams,
                        rounds: opts.h2load_rounds,
                    },
                )
                .await
                {
                    Ok(ext) => {
                        let (check, got) = ext.medians();
                        let rounds = ext
                            .rounds
                            .iter()
                            .map(|(c, g)| format!("{c:.0}/{g:.0}"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let n = opts.h2load_requests * ext.rounds.len() as u64;
                        let mut health = trade::whole("h2load-health", "req/s", check, n, &[]);
                        health.latency_mode = "h2load, median of the rounds".into();
                        health
                            .notes
                            .push(format!("h2load, Check/Get req/s per round: {rounds}"));
                        report.scenarios.push(health);
                        let mut r = trade::whole("h2load-get", "req/s", got, n, &[]);
                        r.latency_mode = "h2load, median of the rounds".into();
                        r.notes.push(ext.command);
                        r
                    }
                    Err(e) => {
                        let mut r = trade::whole("h2load-get", "req/s", 0.0, 0, &[]);
                        r.errors = 1;
                        r.error_sample = Some(format!("{e:#}"));
                        r.notes
                            .push(format!("skipped: {e:#} (install nghttp2-client for h2load)"));
                        r
                    }
                }
            }
            Scenario::BatchGet => {
                let mut r = measure(opts, target.pid, scenario, &ctx.batch_get(), true).await;
                r.unloaded_latency = Some(unloaded(opts, &ctx.batch_get()).await);
                r.notes.push(format!("{} random names per request", opts.batch_size));
                r
            }
            Scenario::List => {
                let mut r = measure(opts, target.pid, scenario, &ctx.list(), true).await;
                r.notes.push(format!(
                    "page_size {}, filter `{}`, walking up to 20 pages with page tokens",
                    opts.page_size, opts.list_filter
                ));
                r
            }
            Scenario::Create => {
                let mut r = measure(opts, target.pid, scenario, &ctx.create(), true).await;
                r.notes
                    .push("minimal goal with a request_id; includes the change-log row".into());
                r
            }
            Scenario::Update => {
                let op = ctx.update(0, per_worker).await?;
                let mut r = measure(opts, target.pid, scenario, &op, true).await;
                r.notes
                    .push("title update with update_mask and the etag of the previous write".into());
                r
            }
            Scenario::Mixed => {
                let op = ctx.mixed(c * per_worker, per_worker).await?;
                measure(opts, target.pid, scenario, &op, true).await
            }
            Scenario::Import => {
                let run = scenarios::import(&ctx, opts.import_size).await?;
                report::import_result(&run)
            }
            Scenario::WatchFanout => {
                let f = scenarios::watch_fanout(&ctx, target.pid, opts.watchers, opts.watch_write_rate, opts.duration)
                    .await?;
                report.server.bytes_per_watcher = f.bytes_per_watcher();
                report::fanout_result(&f, opts.watch_write_rate)
            }
            Scenario::TradeLoad => {
                let run = trade::load(&ctx, opts.trade_rows, opts.trade_order).await?;
                let [copy, load] = trade::load_results(&run);
                report.scenarios.push(copy);
                load
            }
            Scenario::Dependencies => {
                let mut r = measure(opts, target.pid, scenario, &trade::dependencies_op(&ctx), true).await;
                r.notes.push(format!(
                    "ListImportDependencies KR 2023, page_size 1000, over {} stored trade records",
                    opts.trade_rows
                ));
                r
            }
        };
        report.scenarios.push(result);
    }
    ctx.pool.close().await;
    report.server.final_memory = target.pid.and_then(server::memory);
    Ok(())
}

/// Warm-up, closed loop (throughput), then open loop at `latency_load` × that throughput
/// (latency), unless `open` is false (then the closed-loop latency is reported, flagged).
async fn measure(opts: &Options, pid: Option<u32>, scenario: Scenario, op: &Op, open: bool) -> ScenarioResult {
    if !opts.warmup.is_zero() {
        runner::closed_loop(op, opts.concurrency, Budget::Time(opts.warmup)).await;
    }
    let server_cpu = || pid.and_then(|p| server::cpu_time(&p.to_string()));
    let before = (server_cpu(), server::cpu_time("self"), server::machine_jiffies());
    let closed = runner::closed_loop(op, opts.concurrency, opts.budget()).await;
    let after = (server_cpu(), server::cpu_time("self"), server::machine_jiffies());
    let ops = (closed.ok + closed.errors).max(1) as f64;
    let per_op = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => Some(a.saturating_sub(b).as_secs_f64() * 1e6 / ops),
        _ => None,
    };
    let cpu = report::CpuUsage {
        server_us_per_op: per_op(after.0, before.0),
        bench_us_per_op: per_op(after.1, before.1),
        machine_busy: match (after.2, before.2) {
            (Some((b1, t1)), Some((b0, t0))) if t1 > t0 => Some((b1 - b0) as f64 / (t1 - t0) as f64),
            _ => None,
        },
    };
    let open_phase = if open && closed.throughput() > 0.0 {
        let rate = closed.throughput() * opts.latency_load;
        Some((rate, runner::open_loop(op, opts.concurrency, rate, opts.budget()).await))
    } else {
        None
    };
    let mut result = ScenarioResult::from_phases(scenario, &closed, open_phase.as_ref());
    result.cpu = Some(cpu);
    result
}

/// Latency of one request at a time: the cost of a single call without queueing.
async fn unloaded(opts: &Options, op: &Op) -> LatencySummary {
    let budget = match opts.requests {
        Some(n) => Budget::Requests(n.min(500)),
        None => Budget::Time(opts.duration.min(Duration::from_secs(1))),
    };
    let phase: Phase = runner::closed_loop(op, 1, budget).await;
    LatencySummary::of(&phase.hist)
}
