//! The registryd under test, run as a child process so its memory can be read from
//! `/proc/<pid>/status` without the load generator's own allocations.
//!
//! Two ways to get the binary:
//! * `--registryd PATH`: a `registryd` binary, started as `registryd serve`.
//! * default: the bench binary itself, re-executed with the hidden first argument
//!   [`SERVE_CHILD_ARG`]. That runs exactly what `registryd serve` runs with its defaults
//!   (same tracing set-up, `Store::connect`, `registry_server::serve` with
//!   `ServerOptions::default()`, a multi-threaded tokio runtime with one worker per core) and
//!   is always built from the same commit as the bench, which a `registryd` lying in
//!   `target/` is not guaranteed to be (`cargo run -p registry-bench` does not rebuild it).
//!
//! Either way the child gets `DATABASE_URL`, `REGISTRY_LISTEN=127.0.0.1:0` and
//! `REGISTRY_DB_MAX_CONNECTIONS` in its environment and prints
//! `registryd listening on ADDR …` on stdout.

use std::{
    collections::VecDeque,
    net::SocketAddr,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, bail};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, BufReader},
    process::{Child, Command},
};

/// First argument that turns the bench binary into the server child.
pub const SERVE_CHILD_ARG: &str = "__serve-registryd";

/// How to start the server child.
#[derive(Debug, Clone)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// `self` (the bench re-executed) or `registryd`.
    pub mode: &'static str,
}

impl Launch {
    /// A `registryd` binary, as `registryd serve`.
    pub fn registryd(path: PathBuf) -> Launch {
        Launch {
            program: path,
            args: vec!["serve".into()],
            mode: "registryd",
        }
    }

    /// The bench binary at `path` in server-child mode.
    pub fn bench_binary(path: PathBuf) -> Launch {
        Launch {
            program: path,
            args: vec![SERVE_CHILD_ARG.into()],
            mode: "self",
        }
    }
}

/// A running server child. Killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl std::fmt::Debug for ServerProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerProcess")
            .field("pid", &self.pid)
            .field("addr", &self.addr)
            .finish()
    }
}

const LOG_LINES: usize = 40;

impl ServerProcess {
    /// Starts the server on the database `database_url` and waits until it listens.
    pub async fn start(launch: &Launch, database_url: &str, db_max_connections: u32) -> anyhow::Result<Self> {
        let mut child = Command::new(&launch.program)
            .args(&launch.args)
            .env("DATABASE_URL", database_url)
            .env("REGISTRY_LISTEN", "127.0.0.1:0")
            .env("REGISTRY_DB_MAX_CONNECTIONS", db_max_connections.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start the server {}", launch.program.display()))?;
        let pid = child.id().context("the server exited at once")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stderr).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut l) = log.lock() {
                        if l.len() == LOG_LINES {
                            l.pop_front();
                        }
                        l.push_back(line);
                    }
                }
            });
        }
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if let Some(rest) = line.strip_prefix("registryd listening on ") {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    return addr.parse::<SocketAddr>().context("unparsable listen address");
                }
            }
            bail!("the server exited before listening")
        })
        .await;
        let log_tail = |log: &Arc<Mutex<VecDeque<String>>>| {
            log.lock()
                .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
                .unwrap_or_default()
        };
        let addr = match addr {
            Ok(Ok(a)) => a,
            Ok(Err(e)) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                bail!("{e:#}; server log:\n{}", log_tail(&log));
            }
            Err(_) => bail!("the server did not listen within 60 s; server log:\n{}", log_tail(&log)),
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move {
            let mut rest = lines.into_inner();
            let mut buf = Vec::new();
            let _ = rest.read_to_end(&mut buf).await;
        });
        Ok(ServerProcess { child, pid, addr, log })
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect::<Vec<_>>().join("\n"))
            .unwrap_or_default()
    }

    /// SIGTERM (graceful drain), then SIGKILL after `grace`.
    pub async fn stop(mut self, grace: Duration) {
        // Closing stdin stops a server child; `kill -TERM` stops registryd.
        drop(self.child.stdin.take());
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
        if tokio::time::timeout(grace, self.child.wait()).await.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// Memory of a process, from `/proc/<pid>/status`, in KiB.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Memory {
    /// Resident set size now.
    pub vm_rss_kib: u64,
    /// Peak resident set size so far.
    pub vm_hwm_kib: u64,
}

/// Reads VmRSS and VmHWM of `pid` (None when unavailable, e.g. not Linux).
pub fn memory(pid: u32) -> Option<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(Memory {
        vm_rss_kib: field("VmRSS:")?,
        vm_hwm_kib: field("VmHWM:").unwrap_or(0),
    })
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`
/// (`self` for this process), assuming the usual 100 clock ticks per second.
pub fn cpu_time(pid: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at state (field 3).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Busy and total jiffies of the whole machine, from the `cpu` line of `/proc/stat`.
pub fn machine_jiffies() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line.split_whitespace().filter_map(|x| x.parse().ok()).collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4).unwrap_or(&0);
    Some((total - idle, total))
}

/// Samples VmRSS of `pid` every 100 ms until dropped; `max()` is the highest seen.
#[derive(Debug)]
pub struct RssSampler {
    max: Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let max = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let m = max.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Some(mem) = memory(pid) {
                    m.fetch_max(mem.vm_rss_kib, std::sync::atomic::Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssSampler { max, task }
    }

    /// Stops sampling; the highest VmRSS seen, in KiB.
    pub fn finish(self) -> u64 {
        self.task.abort();
        self.max.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Entry point of the server child (`registry-bench __serve-registryd`): the equivalent of
/// `registryd serve` with default options, configured from the environment. Stops on
/// SIGTERM/Ctrl-C or when stdin closes (the bench died).
pub fn serve_child_main() -> anyhow::Result<()> {
    use registry_server::{ServerOptions, Store, StoreOptions};

    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let _telemetry = registry_server::telemetry::init(registry_server::telemetry::LogFormat::Pretty);
        let url = std::env::var("DATABASE_URL").context("DATABASE_URL is not set")?;
        let listen: SocketAddr = std::env::var("REGISTRY_LISTEN")
            .unwrap_or_else(|_| "127.0.0.1:0".into())
            .parse()
            .context("REGISTRY_LISTEN")?;
        let max_connections = match std::env::var("REGISTRY_DB_MAX_CONNECTIONS") {
            Ok(v) => v.parse().context("REGISTRY_DB_MAX_CONNECTIONS")?,
            Err(_) => StoreOptions::default().max_connections,
        };
        let store = Store::connect(
            &url,
            StoreOptions {
                max_connections,
                ..StoreOptions::default()
            },
        )
        .await
        .context("cannot connect to PostgreSQL")?;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        println!("registryd listening on {} (plaintext)", listener.local_addr()?);
        let stdin_closed = async {
            let mut stdin = tokio::io::stdin();
            let mut buf = [0u8; 64];
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        };
        let shutdown = async move {
            tokio::select! {
                _ = registry_server::shutdown_signal() => {}
                _ = stdin_closed => {}
            }
        };
        registry_server::serve(store, listener, ServerOptions::default(), shutdown).await
    })
}
