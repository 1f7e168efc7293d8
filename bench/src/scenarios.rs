//! The requests of each scenario, as [`Op`]s for the runners, and the watch fan-out.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use registry_client::{RegistryClient, pb, prost_types};
use sqlx::PgPool;
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{
    dataset::goal_id,
    hist::{new_histogram, record},
    runner::Op,
};

/// Everything the scenarios share.
#[derive(Clone)]
pub struct Ctx {
    /// One client per connection; worker `w` uses `clients[w % len]`.
    pub clients: Vec<RegistryClient>,
    pub health: Vec<HealthClient<Channel>>,
    pub endpoint: String,
    pub token: String,
    pub pool: PgPool,
    /// Dataset size: goals `bench-0 … bench-{n-1}` exist.
    pub n: u64,
    /// `get` reads goals `bench-0 … bench-{get_keys-1}`.
    pub get_keys: u64,
    /// Short unique id of this run, part of the ids it creates.
    pub run: String,
    pub concurrency: usize,
    pub batch_size: usize,
    pub list_filter: String,
    pub page_size: i32,
    counter: Arc<AtomicU64>,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("endpoint", &self.endpoint).finish()
    }
}

/// splitmix64: a cheap, well-mixed sequence for picking random goals.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl Ctx {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        clients: Vec<RegistryClient>,
        health: Vec<HealthClient<Channel>>,
        endpoint: String,
        token: String,
        pool: PgPool,
        n: u64,
        get_keys: u64,
        concurrency: usize,
        batch_size: usize,
        list_filter: String,
        page_size: i32,
    ) -> Ctx {
        let run = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
        let seed = mix(SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1));
        Ctx {
            clients,
            health,
            endpoint,
            token,
            pool,
            n: n.max(1),
            get_keys: get_keys.clamp(1, n.max(1)),
            run,
            concurrency,
            batch_size,
            list_filter,
            page_size,
            counter: Arc::new(AtomicU64::new(seed)),
        }
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }

    fn random(&self) -> u64 {
        mix(self.next())
    }

    fn random_name(&self) -> String {
        format!("policyGoals/{}", goal_id(self.random() % self.n))
    }

    pub(crate) fn client(&self, w: usize) -> RegistryClient {
        self.clients[w % self.clients.len()].clone()
    }

    /// grpc.health.v1 Check of the server (`""`): the empty-RPC baseline.
    pub fn health(&self) -> Op {
        let health = self.health.clone();
        Arc::new(move |w| {
            let mut c = health[w % health.len()].clone();
            Box::pin(async move {
                c.check(HealthCheckRequest { service: String::new() })
                    .await
                    .map(|_| ())
                    .map_err(err)
            })
        })
    }

    /// The primary-key read GetPolicyGoal does, straight through sqlx.
    pub fn db_select(&self) -> Op {
        let ctx = self.clone();
        Arc::new(move |_| {
            let id = goal_id(ctx.random() % ctx.n);
            let pool = ctx.pool.clone();
            Box::pin(async move {
                sqlx::query_as::<_, GoalRow>("SELECT * FROM policy_goals WHERE id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .map(|_| ())
                    .map_err(err)
            })
        })
    }

    /// The single-row goal insert CreatePolicyGoal does (same columns, `RETURNING *`),
    /// without the change-log row, request id or transaction around it.
    pub fn db_insert(&self) -> Op {
        let ctx = self.clone();
        Arc::new(move |_| {
            let id = format!("d-{}-{}", ctx.run, ctx.next());
            let pool = ctx.pool.clone();
            Box::pin(async move {
                sqlx::query_as::<_, GoalRow>(
                    "INSERT INTO policy_goals (id, parent_id, ancestors, title, title_ko, pillar, description, sectors, regions,
                         lead_organization, state, confidence, confidence_note, targets, milestones, linked_partners, risks, source, labels,
                         create_time, update_time)
                     VALUES ($1, NULL, '{}', $2, '', 'INDUSTRIAL_RESURGENCE', '', '{}', '{}', '', 'PLANNED', NULL, '',
                         '[]', '[]', '{}', '[]', '', '{}', now(), now())
                     ON CONFLICT (id) DO NOTHING
                     RETURNING *",
                )
                .bind(&id)
                .bind(format!("Database baseline {id}"))
                .fetch_one(&pool)
                .await
                .map(|_| ())
                .map_err(err)
            })
        })
    }

    /// Reads every goal `get` reads once (BatchGet, 1000 a call): the server's cache then
    /// holds them, as it holds the working set of a registry read in tight loops.
    pub async fn warm_get_keys(&self) -> anyhow::Result<()> {
        let c = self.client(0);
        let mut start = 0;
        while start < self.get_keys {
            let end = (start + 1000).min(self.get_keys);
            c.batch_get_policy_goals((start..end).map(|i| format!("policyGoals/{}", goal_id(i))))
                .await?;
            start = end;
        }
        Ok(())
    }

    pub fn get(&self) -> Op {
        let ctx = self.clone();
        Arc::new(move |w| {
            let name = format!("policyGoals/{}", goal_id(ctx.random() % ctx.get_keys));
            let c = ctx.client(w);
            Box::pin(async move { c.get_policy_goal(name).await.map(|_| ()).map_err(err) })
        })
    }

    pub fn batch_get(&self) -> Op {
        let ctx = self.clone();
        Arc::new(move |w| {
            let names: Vec<String> = (0..ctx.batch_size).map(|_| ctx.random_name()).collect();
            let c = ctx.client(w);
            Box::pin(async move {
                let want = names.len();
                let got = c.batch_get_policy_goals(names).await.map_err(err)?;
                if got.len() == want {
                    Ok(())
                } else {
                    Err(format!("asked for {want} goals, got {}", got.len()))
                }
            })
        })
    }

    /// Pages of `list_filter`, `page_size` each: every worker walks the result with page
    /// tokens and starts over after 20 pages.
    pub fn list(&self) -> Op {
        let ctx = self.clone();
        let cursors: Arc<Vec<Mutex<(String, u32)>>> = Arc::new(
            (0..ctx.concurrency.max(1))
                .map(|_| Mutex::new((String::new(), 0)))
                .collect(),
        );
        Arc::new(move |w| {
            let slot = w % cursors.len();
            let (token, _) = cursors[slot].lock().map(|c| c.clone()).unwrap_or_default();
            let cursors = cursors.clone();
            let c = ctx.client(w);
            let req = pb::ListPolicyGoalsRequest {
                page_size: ctx.page_size,
                page_token: token,
                filter: ctx.list_filter.clone(),
                ..Default::default()
            };
            Box::pin(async move {
                let page = c.list_policy_goals_page(req).await.map_err(err)?;
                if page.policy_goals.is_empty() {
                    return Err("empty page: the filter matches nothing".into());
                }
                if let Ok(mut cur) = cursors[slot].lock() {
                    cur.1 += 1;
                    if page.next_page_token.is_empty() || cur.1 >= 20 {
                        *cur = (String::new(), 0);
                    } else {
                        cur.0 = page.next_page_token;
                    }
                }
                Ok(())
            })
        })
    }

    /// A minimal goal with a request id (as the SDK documentation recommends).
    pub fn create(&self) -> Op {
        let ctx = self.clone();
        Arc::new(move |w| {
            let id = format!("c-{}-{}", ctx.run, ctx.next());
            let c = ctx.client(w);
            let req = pb::CreatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    title: format!("Benchmark goal {id}"),
                    pillar: pb::Pillar::IndustrialResurgence.into(),
                    ..Default::default()
                }),
                policy_goal_id: id,
                request_id: uuid::Uuid::new_v4().to_string(),
                ..Default::default()
            };
            Box::pin(async move { c.create_policy_goal(req).await.map(|_| ()).map_err(err) })
        })
    }

    /// Each worker owns `per_worker` dataset goals (starting at index `first`), learns their
    /// etags, then updates their titles round robin, always with the etag of its last write.
    pub async fn update(&self, first: u64, per_worker: u64) -> anyhow::Result<Op> {
        let owned = self.owned_goals(first, per_worker).await?;
        let ctx = self.clone();
        Ok(Arc::new(move |w| update_one(&ctx, &owned, w)))
    }

    /// 90% `get`, 10% `update` (on goals this scenario owns).
    pub async fn mixed(&self, first: u64, per_worker: u64) -> anyhow::Result<Op> {
        let owned = self.owned_goals(first, per_worker).await?;
        let ctx = self.clone();
        let get = self.get();
        Ok(Arc::new(move |w| {
            if ctx.random().is_multiple_of(10) {
                update_one(&ctx, &owned, w)
            } else {
                get(w)
            }
        }))
    }

    async fn owned_goals(&self, first: u64, per_worker: u64) -> anyhow::Result<Arc<Vec<Owned>>> {
        let c = self.concurrency.max(1) as u64;
        let mut owned = Vec::new();
        for w in 0..c {
            let names: Vec<String> = (0..per_worker)
                .map(|m| format!("policyGoals/{}", goal_id((first + w * per_worker + m) % self.n)))
                .collect();
            let goals = self.clients[0].batch_get_policy_goals(names).await?;
            owned.push(Owned {
                goals: Mutex::new(goals.into_iter().map(|g| (g.name, g.etag)).collect()),
                turn: AtomicU64::new(0),
            });
        }
        Ok(Arc::new(owned))
    }
}

/// The goals (name, etag) a worker updates.
struct Owned {
    goals: Mutex<Vec<(String, String)>>,
    turn: AtomicU64,
}

fn update_one(
    ctx: &Ctx,
    owned: &Arc<Vec<Owned>>,
    w: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    let owned = owned.clone();
    let c = ctx.client(w);
    let n = ctx.next();
    Box::pin(async move {
        let mine = &owned[w % owned.len()];
        let turn = mine.turn.fetch_add(1, Ordering::Relaxed) as usize;
        let (i, name, etag) = {
            let goals = mine.goals.lock().map_err(err)?;
            if goals.is_empty() {
                return Err("no goals to update".into());
            }
            let i = turn % goals.len();
            (i, goals[i].0.clone(), goals[i].1.clone())
        };
        let res = c
            .update_policy_goal(pb::UpdatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    name: name.clone(),
                    title: format!("Updated goal {n}"),
                    etag,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["title".into()],
                }),
                ..Default::default()
            })
            .await;
        let fresh = match &res {
            Ok(g) => Some(g.etag.clone()),
            // Someone else wrote it (should not happen: goals are owned): re-read the etag.
            Err(registry_client::Error::Aborted { .. }) => c.get_policy_goal(name).await.ok().map(|g| g.etag),
            Err(_) => None,
        };
        if let Some(etag) = fresh
            && let Ok(mut goals) = mine.goals.lock()
        {
            goals[i].1 = etag;
        }
        res.map(|_| ()).map_err(err)
    })
}

/// Every column of `policy_goals`, decoded like the server decodes its row.
#[derive(sqlx::FromRow)]
#[allow(dead_code)]
struct GoalRow {
    id: String,
    parent_id: Option<String>,
    ancestors: Vec<String>,
    title: String,
    title_ko: String,
    pillar: String,
    description: String,
    sectors: Vec<String>,
    regions: Vec<String>,
    lead_organization: String,
    state: String,
    outcome: Option<String>,
    confidence: Option<String>,
    confidence_note: String,
    targets: serde_json::Value,
    milestones: serde_json::Value,
    linked_partners: Vec<String>,
    risks: serde_json::Value,
    source: String,
    labels: serde_json::Value,
    create_time: time::OffsetDateTime,
    update_time: time::OffsetDateTime,
    delete_time: Option<time::OffsetDateTime>,
    expire_time: Option<time::OffsetDateTime>,
    revision: i64,
}

/// What the watch fan-out measured.
#[derive(Debug)]
pub struct Fanout {
    pub hist: hdrhistogram::Histogram<u64>,
    pub watchers: usize,
    pub connected: usize,
    pub writes: u64,
    pub write_errors: u64,
    pub delivered: u64,
    pub stream_errors: u64,
    pub error_sample: Option<String>,
    /// From the first write to the last delivery.
    pub elapsed: Duration,
    /// The server's resident memory before the watchers' connections were opened and once
    /// every watcher was subscribed (KiB; None without a server pid).
    pub rss_before_kib: Option<u64>,
    pub rss_watching_kib: Option<u64>,
}

impl Fanout {
    /// Server memory per subscribed watcher (its connection's share included), in bytes.
    pub fn bytes_per_watcher(&self) -> Option<f64> {
        let (before, after) = (self.rss_before_kib?, self.rss_watching_kib?);
        (self.connected > 0).then(|| after.saturating_sub(before) as f64 * 1024.0 / self.connected as f64)
    }
}

/// Streams per connection the fan-out opens, one token per connection (registryd allows 32
/// change streams per token and 256 streams per connection by default).
const WATCHERS_PER_CONNECTION: usize = 32;

/// Watchers subscribing at once (a stream holds one of the server's request slots, 1,024 by
/// default, until its first message).
const WATCHERS_OPENING: usize = 256;

/// `watchers` WatchChanges streams (on `watchers / 32` connections) and one writer creating
/// goals at `rate` per second for `duration`. The latency of a delivery is its receipt time
/// minus the change's `change_time` (the database clock inside the writing transaction, just
/// before commit; same host, same clock), so it includes the commit itself.
pub async fn watch_fanout(
    ctx: &Ctx,
    server_pid: Option<u32>,
    watchers: usize,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<Fanout> {
    let rss = || server_pid.and_then(crate::server::memory).map(|m| m.vm_rss_kib);
    let rss_before_kib = rss();
    // Each connection's watchers share a VIEWER token of their own.
    let connections = watchers.div_ceil(WATCHERS_PER_CONNECTION).max(1);
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let token = ctx.clients[0]
            .create_token(pb::CreateTokenRequest {
                role: pb::Role::Viewer.into(),
                description: "registry-bench watch-fanout".into(),
                ..Default::default()
            })
            .await?;
        clients.push(
            RegistryClient::builder(ctx.endpoint.clone())
                .token(token.secret)
                .connect()
                .await?,
        );
    }
    let prefix = format!("policyGoals/w-{}-", ctx.run);
    let hist = Arc::new(Mutex::new(new_histogram()));
    let delivered = Arc::new(AtomicU64::new(0));
    let stream_errors = Arc::new(AtomicU64::new(0));
    let sample: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<bool>(watchers.max(1));
    // Watchers subscribe a few hundred at a time, as clients that back off do: a stream
    // counts against the server's limit of requests in flight until its first message.
    let opening = Arc::new(tokio::sync::Semaphore::new(WATCHERS_OPENING));
    let mut tasks = Vec::with_capacity(watchers);
    for i in 0..watchers {
        let client = clients[i % connections].clone();
        let req = pb::WatchChangesRequest {
            name_prefix: prefix.clone(),
            ..Default::default()
        };
        let (hist, delivered, stream_errors, sample, ready) = (
            hist.clone(),
            delivered.clone(),
            stream_errors.clone(),
            sample.clone(),
            ready_tx.clone(),
        );
        let opening = opening.clone();
        tasks.push(tokio::spawn(async move {
            let mut permit = opening.acquire_owned().await.ok();
            let fail = |e: String| {
                stream_errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut s) = sample.lock() {
                    s.get_or_insert(e);
                }
            };
            let mut stream = match client.watch_changes_once(req).await {
                Ok(s) => s,
                Err(e) => {
                    fail(e.to_string());
                    let _ = ready.send(false).await;
                    return;
                }
            };
            let mut announced = false;
            loop {
                match stream.message().await {
                    Ok(Some(msg)) => match msg.event {
                        // The first message is a heartbeat sent once the watch is subscribed.
                        Some(pb::watch_changes_response::Event::Heartbeat(_)) if !announced => {
                            announced = true;
                            permit.take();
                            let _ = ready.send(true).await;
                        }
                        Some(pb::watch_changes_response::Event::Change(c)) => {
                            let now = SystemTime::now();
                            if let Some(t) = c.change_time {
                                let at = SystemTime::UNIX_EPOCH
                                    + Duration::new(t.seconds.max(0) as u64, t.nanos.max(0) as u32);
                                let lat = now.duration_since(at).unwrap_or(Duration::ZERO);
                                if let Ok(mut h) = hist.lock() {
                                    record(&mut h, lat);
                                }
                            }
                            delivered.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    },
                    Ok(None) => return,
                    Err(status) => {
                        fail(status.to_string());
                        if !announced {
                            let _ = ready.send(false).await;
                        }
                        return;
                    }
                }
            }
        }));
    }
    drop(ready_tx);
    let mut connected = 0;
    let wait_ready = async {
        for _ in 0..watchers {
            match ready_rx.recv().await {
                Some(true) => connected += 1,
                Some(false) => {}
                None => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(60), wait_ready).await;
    let rss_watching_kib = rss();

    // One writer, open loop at `rate`.
    let writer = ctx.clients[0].clone();
    let start = tokio::time::Instant::now();
    let mut writes = 0u64;
    let mut write_errors = 0u64;
    for k in 0u64.. {
        let offset = Duration::from_secs_f64(k as f64 / rate.max(0.1));
        if offset >= duration {
            break;
        }
        tokio::time::sleep_until(start + offset).await;
        let id = format!("w-{}-{k}", ctx.run);
        let res = writer
            .create_policy_goal(pb::CreatePolicyGoalRequest {
                policy_goal: Some(pb::PolicyGoal {
                    title: format!("Watched goal {id}"),
                    pillar: pb::Pillar::TradeNationalInterest.into(),
                    ..Default::default()
                }),
                policy_goal_id: id,
                ..Default::default()
            })
            .await;
        match res {
            Ok(_) => writes += 1,
            Err(e) => {
                write_errors += 1;
                if let Ok(mut s) = sample.lock() {
                    s.get_or_insert(e.to_string());
                }
            }
        }
    }
    // Wait (at most 10 s) for the deliveries still in flight.
    let expected = writes * connected as u64;
    let drain = tokio::time::Instant::now();
    while delivered.load(Ordering::Relaxed) < expected && drain.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = start.elapsed();
    for t in &tasks {
        t.abort();
    }
    let hist = hist.lock().map(|h| h.clone()).unwrap_or_else(|_| new_histogram());
    let error_sample = sample.lock().ok().and_then(|s| s.clone());
    Ok(Fanout {
        hist,
        watchers,
        connected,
        writes,
        write_errors,
        delivered: delivered.load(Ordering::Relaxed),
        stream_errors: stream_errors.load(Ordering::Relaxed),
        error_sample,
        elapsed,
        rss_before_kib,
        rss_watching_kib,
    })
}

/// What one import scenario measured.
#[derive(Debug)]
pub struct ImportRun {
    pub goals: usize,
    /// The first import (every goal created).
    pub elapsed: Duration,
    /// The same file again (every goal unchanged).
    pub again: Duration,
    pub error: Option<String>,
    pub file_bytes: u64,
}

/// `registryctl import FILE` through registry-cli's import path (parse, read what is stored,
/// validate every record with `validate_only`, write parents before children), of a JSON
/// file of `size` full goals: one root in 50, the others children of the root before them.
/// Then the same file again, which changes nothing.
pub async fn import(ctx: &Ctx, size: usize) -> anyhow::Result<ImportRun> {
    let mut goals = Vec::with_capacity(size);
    let mut root = String::new();
    for i in 0..size {
        let id = format!("imp-{}-{i}", ctx.run);
        let mut record =
            registry_cli::records::GoalRecord::from_pb(&crate::dataset::realistic_goal(&format!("Imported goal {i}")));
        record.id.clone_from(&id);
        if i % 50 == 0 {
            root = id;
        } else {
            record.parent = Some(root.clone());
            record.pillar = None;
        }
        goals.push(record);
    }
    let data = registry_cli::records::DataFile {
        goals,
        ..Default::default()
    };
    let dir = std::env::temp_dir().join(format!("registry-bench-import-{}", ctx.run));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("goals.json");
    std::fs::write(&file, serde_json::to_vec(&data)?)?;
    let file_bytes = std::fs::metadata(&file)?.len();
    let client = &ctx.clients[0];
    let started = Instant::now();
    let first = registry_cli::import_seeds(client, &file).await;
    let elapsed = started.elapsed();
    let started = Instant::now();
    let second = registry_cli::import_seeds(client, &file).await;
    let again = started.elapsed();
    let _ = std::fs::remove_dir_all(&dir);
    let error = match (first, second) {
        (Ok(a), Ok(b)) if a.kinds.goals.created == size && b.kinds.goals.unchanged == size => None,
        (Ok(a), Ok(b)) => Some(format!("first run: {}; second run: {}", a.kinds.goals, b.kinds.goals)),
        (Err(e), _) | (_, Err(e)) => Some(e),
    };
    Ok(ImportRun {
        goals: size,
        elapsed,
        again,
        error,
        file_bytes,
    })
}
