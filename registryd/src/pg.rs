//! Finding a PostgreSQL: the one implementation behind `registryd dev` and the test harness.
//!
//! Order: `DATABASE_URL` (when set and not empty); for the tests, a server on
//! `127.0.0.1:5432` that accepts `postgres` without a password; else a private cluster
//! started from the local server binaries (`initdb`, `pg_ctl`; see [`BIN_DIR_ENV`] and
//! `candidate_dirs` for where they are looked for), in a temporary directory for the tests and
//! in a persistent data directory for `registryd dev`.
//!
//! PostgreSQL refuses to run as root, so when this process is root the private cluster runs
//! as the `postgres` OS user (`runuser`, else `su`).

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use sqlx::{Connection, PgConnection};

/// The conventional local server the tests try before starting a private one.
pub const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Default data directory of `registryd dev`, relative to the current directory.
pub const DEFAULT_DEV_DATA_DIR: &str = ".registry-dev";

/// The OS user a private cluster runs as when this process is root.
const PG_OS_USER: &str = "postgres";

/// What to look for, and where a private cluster keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// `registryd dev`: `DATABASE_URL`, else a private cluster whose data survives restarts
    /// in `data_dir` (created and initialised on first use).
    Dev { data_dir: PathBuf },
    /// Test processes: `DATABASE_URL`, else the local server on 5432, else a private cluster in
    /// a temporary directory that is removed when it stops.
    Tests,
    /// Always a throwaway private cluster in a temporary directory, whatever DATABASE_URL
    /// says (fault-injection tests that stop and restart their database).
    Private,
}

/// A PostgreSQL server to use. If it is a private cluster started by [`discover`], it is
/// stopped by [`PgHandle::stop`], or (best effort, blocking) when the handle is dropped.
#[derive(Debug)]
pub struct PgHandle {
    url: String,
    cluster: Option<Cluster>,
}

impl PgHandle {
    /// URL of an admin-capable database on the server (one that may `CREATE DATABASE`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Data directory of the private cluster, if one was started.
    pub fn data_dir(&self) -> Option<&Path> {
        self.cluster.as_ref().map(|c| c.data_dir.as_path())
    }

    /// Stops the private cluster, if one was started (`pg_ctl stop -m fast`), and removes its
    /// temporary directory.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        match self.cluster.take() {
            Some(mut cluster) => tokio::task::spawn_blocking(move || cluster.stop())
                .await
                .context("stopping PostgreSQL")?,
            None => Ok(()),
        }
    }

    /// Stops the private cluster's server, keeping its data and port, so that a test can
    /// observe a client of a database that went away ([`PgHandle::resume`] starts it again).
    pub async fn pause(&mut self) -> anyhow::Result<()> {
        self.with_cluster(Cluster::halt).await
    }

    /// Starts a paused private cluster again, on the same port.
    pub async fn resume(&mut self) -> anyhow::Result<()> {
        self.with_cluster(|c| {
            let (port, fsync) = c.last_start.context("the cluster was never started")?;
            c.start(port, fsync)
        })
        .await
    }

    async fn with_cluster(
        &mut self,
        f: impl FnOnce(&mut Cluster) -> anyhow::Result<()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let mut cluster = self
            .cluster
            .take()
            .context("only a private cluster started by discover can be paused")?;
        let (cluster, result) = tokio::task::spawn_blocking(move || {
            let r = f(&mut cluster);
            (cluster, r)
        })
        .await
        .context("pg_ctl task")?;
        self.cluster = Some(cluster);
        result
    }

    /// For a process that uses the server until it exits, from more than one runtime (a test
    /// binary): hands the private cluster, if any, to a small watchdog process that stops it
    /// and removes its temporary directory once this process has exited, however it exits.
    /// Returns the URL.
    pub fn stop_at_exit(mut self) -> anyhow::Result<String> {
        if let Some(mut cluster) = self.cluster.take() {
            let mut script = String::from("trap '' INT HUP; cat >/dev/null; ");
            script.push_str(&shell_join(
                &cluster.pg_user_argv(&cluster.bins.pg_ctl, &cluster.stop_args()?),
            ));
            script.push_str(" >/dev/null 2>&1");
            if let Some(tmp) = &cluster.temp_root {
                script.push_str("; rm -rf ");
                script.push_str(&sh_quote(path_str(tmp)?));
            }
            let mut child = Command::new("/bin/sh")
                .args(["-c", &script])
                .current_dir("/")
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("cannot start the watchdog that stops the private PostgreSQL at exit")?;
            // The watchdog waits for end-of-file on its stdin: this process holds the only
            // write end (close-on-exec) until it exits, and the OS closes it then.
            let stdin = child.stdin.take();
            std::mem::forget(stdin);
            std::mem::forget(child);
            cluster.running = false;
            cluster.temp_root = None;
        }
        Ok(std::mem::take(&mut self.url))
    }
}

/// Finds or starts a PostgreSQL according to `policy` (see the module docs).
pub async fn discover(policy: Policy) -> anyhow::Result<PgHandle> {
    let env_url = std::env::var("DATABASE_URL").ok().filter(|u| !u.trim().is_empty());
    discover_with(policy, env_url).await
}

async fn discover_with(policy: Policy, env_url: Option<String>) -> anyhow::Result<PgHandle> {
    if let Some(url) = env_url.filter(|_| policy != Policy::Private) {
        tracing::debug!("using DATABASE_URL");
        return Ok(PgHandle { url, cluster: None });
    }
    let bins = find_bins();
    match policy {
        Policy::Tests => {
            if accepts_connection(LOCAL_URL, Duration::from_secs(2)).await {
                return Ok(PgHandle {
                    url: LOCAL_URL.to_owned(),
                    cluster: None,
                });
            }
            let Some(bins) = bins else {
                bail!("{}", no_postgres_message());
            };
            start_private(bins, Layout::Temporary).await
        }
        Policy::Dev { data_dir } => {
            let Some(bins) = bins else {
                // Without server binaries a local server is the only way left.
                if accepts_connection(LOCAL_URL, Duration::from_secs(2)).await {
                    tracing::info!("no PostgreSQL server binaries found; using the server on 127.0.0.1:5432");
                    return Ok(PgHandle {
                        url: LOCAL_URL.to_owned(),
                        cluster: None,
                    });
                }
                bail!("{}", no_postgres_message());
            };
            let data_dir = std::path::absolute(&data_dir)
                .with_context(|| format!("invalid data directory {}", data_dir.display()))?;
            start_private(bins, Layout::Persistent(data_dir)).await
        }
        Policy::Private => {
            let Some(bins) = bins else {
                bail!("{}", no_postgres_message());
            };
            start_private(bins, Layout::Temporary).await
        }
    }
}

fn no_postgres_message() -> String {
    no_postgres_message_for(bin_dir_override().as_deref())
}

/// The message of [`no_postgres_message`], with `bin_dir` the [`BIN_DIR_ENV`] directory if set.
fn no_postgres_message_for(bin_dir: Option<&Path>) -> String {
    let searched = match bin_dir {
        Some(dir) => format!("in {} ({BIN_DIR_ENV})", dir.display()),
        None => "on PATH, in /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin, /opt/homebrew/bin or \
                 /usr/local/opt/postgresql*/bin"
            .to_owned(),
    };
    format!(
        "no PostgreSQL available: DATABASE_URL is not set, nothing accepts connections at {LOCAL_URL}, \
         and no PostgreSQL server binaries (initdb, pg_ctl) were found {searched}. Ways out: \
         (1) set DATABASE_URL to a server where the user may CREATE DATABASE, e.g. \
         DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres; \
         (2) start a local PostgreSQL on 127.0.0.1:5432 that trusts user postgres; \
         (3) install the PostgreSQL server binaries (initdb, pg_ctl), e.g. `apt-get install postgresql` \
         or `brew install postgresql` (or set {BIN_DIR_ENV} to the directory that holds them)"
    )
}

/// Whether `url` accepts a connection within `timeout`.
async fn accepts_connection(url: &str, timeout: Duration) -> bool {
    match tokio::time::timeout(timeout, PgConnection::connect(url)).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            true
        }
        _ => false,
    }
}

/// The server binaries of one installation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PgBins {
    initdb: PathBuf,
    pg_ctl: PathBuf,
}

/// Directories searched for `initdb` and `pg_ctl`, in order: `PATH`, then
/// `/usr/lib/postgresql/*/bin` (highest version first), `/usr/local/pgsql/bin`,
/// `/opt/homebrew/bin`, `/usr/local/opt/postgresql*/bin` (highest version first). `root` is
/// `/` except in tests.
fn candidate_dirs(path_var: Option<&OsStr>, root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path_var.map(|p| std::env::split_paths(p).collect()).unwrap_or_default();
    dirs.extend(versioned_dirs(&root.join("usr/lib/postgresql"), ""));
    dirs.push(root.join("usr/local/pgsql/bin"));
    dirs.push(root.join("opt/homebrew/bin"));
    dirs.extend(versioned_dirs(&root.join("usr/local/opt"), "postgresql"));
    dirs
}

/// `parent/NAME/bin` for each `NAME` starting with `prefix`, highest version (the numbers in
/// the rest of the name) first.
fn versioned_dirs(parent: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut found: Vec<(Vec<u64>, String)> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| {
            let rest = name.strip_prefix(prefix)?;
            Some((version_key(rest), name))
        })
        .collect();
    found.sort_by(|a, b| b.cmp(a));
    found
        .into_iter()
        .map(|(_, name)| parent.join(name).join("bin"))
        .collect()
}

/// The numbers in `s`, in order: `"@16"` → `[16]`, `"9.6"` → `[9, 6]`.
fn version_key(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// The first directory that holds both `initdb` and `pg_ctl`.
fn find_bins_in(dirs: &[PathBuf]) -> Option<PgBins> {
    dirs.iter().find_map(|dir| {
        let initdb = dir.join("initdb");
        let pg_ctl = dir.join("pg_ctl");
        (is_executable(&initdb) && is_executable(&pg_ctl)).then_some(PgBins { initdb, pg_ctl })
    })
}

/// Environment variable naming the directory of the PostgreSQL server binaries to use: only
/// that directory is searched (to pick one of several installations, or to test the error
/// without any).
pub const BIN_DIR_ENV: &str = "REGISTRY_PG_BIN_DIR";

fn bin_dir_override() -> Option<PathBuf> {
    std::env::var_os(BIN_DIR_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

fn find_bins() -> Option<PgBins> {
    match bin_dir_override() {
        Some(dir) => find_bins_in(&[dir]),
        None => find_bins_in(&candidate_dirs(std::env::var_os("PATH").as_deref(), Path::new("/"))),
    }
}

fn is_executable(path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// A free TCP port on 127.0.0.1: bind port 0, read the port, release it.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("cannot pick a free TCP port")?;
    Ok(listener.local_addr()?.port())
}

/// How commands run as the PostgreSQL OS user when this process is root.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RunAs {
    /// This process is not root: run commands directly.
    Me,
    /// `runuser -u postgres -- ...`
    Runuser(PathBuf),
    /// `su postgres -s /bin/sh -c '...'`
    Su,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn run_as() -> anyhow::Result<RunAs> {
    if !is_root() {
        return Ok(RunAs::Me);
    }
    let user_exists = Command::new("id")
        .arg("-u")
        .arg(PG_OS_USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !user_exists {
        bail!(
            "running as root, and PostgreSQL refuses to run as root, but there is no `{PG_OS_USER}` OS user to \
             run it as: run as a normal user, create the user (e.g. `useradd --system {PG_OS_USER}`), or set \
             DATABASE_URL"
        );
    }
    let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser", "/bin/runuser"]
        .iter()
        .map(PathBuf::from)
        .chain(
            std::env::var_os("PATH")
                .iter()
                .flat_map(|p| std::env::split_paths(p))
                .map(|d| d.join("runuser")),
        )
        .find(|p| is_executable(p));
    Ok(match runuser {
        Some(path) => RunAs::Runuser(path),
        None => RunAs::Su,
    })
}

/// Where a private cluster keeps its data.
#[derive(Debug, Clone)]
enum Layout {
    /// A fresh temporary directory, removed on stop; fsync off.
    Temporary,
    /// A data directory that survives restarts; initialised only when `PG_VERSION` is missing.
    Persistent(PathBuf),
}

/// A private cluster started by this process.
#[derive(Debug)]
struct Cluster {
    bins: PgBins,
    run_as: RunAs,
    data_dir: PathBuf,
    /// The temporary directory around `data_dir`, removed on stop.
    temp_root: Option<PathBuf>,
    running: bool,
    /// Port and fsync setting of the last start (a resumed server keeps them).
    last_start: Option<(u16, bool)>,
}

impl Cluster {
    /// argv that runs `program args` as the PostgreSQL OS user.
    fn pg_user_argv(&self, program: &Path, args: &[String]) -> Vec<String> {
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().cloned());
        match &self.run_as {
            RunAs::Me => argv,
            RunAs::Runuser(runuser) => {
                let mut v = vec![
                    runuser.to_string_lossy().into_owned(),
                    "-u".into(),
                    PG_OS_USER.into(),
                    "--".into(),
                ];
                v.extend(argv);
                v
            }
            RunAs::Su => vec![
                "su".into(),
                PG_OS_USER.into(),
                "-s".into(),
                "/bin/sh".into(),
                "-c".into(),
                shell_join(&argv),
            ],
        }
    }

    /// Runs `program args` as the PostgreSQL OS user and returns its output; fails on a
    /// non-zero exit status with the command's output in the message.
    fn run(&self, program: &Path, args: &[String]) -> anyhow::Result<Output> {
        let argv = self.pg_user_argv(program, args);
        let output = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir("/")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", argv[0]))?;
        if !output.status.success() {
            bail!(
                "`{}` failed ({}): {} {}",
                shell_join(&argv),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                String::from_utf8_lossy(&output.stdout).trim()
            );
        }
        Ok(output)
    }

    fn data_str(&self) -> anyhow::Result<&str> {
        path_str(&self.data_dir)
    }

    fn stop_args(&self) -> anyhow::Result<Vec<String>> {
        Ok(vec![
            "stop".into(),
            "-D".into(),
            self.data_str()?.to_owned(),
            "-m".into(),
            "fast".into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
        ])
    }

    /// Whether a server runs on this data directory (`pg_ctl status`).
    fn is_running(&self) -> anyhow::Result<bool> {
        let args = vec!["status".into(), "-D".into(), self.data_str()?.to_owned()];
        Ok(self.run(&self.bins.pg_ctl, &args).is_ok())
    }

    /// Makes sure the PostgreSQL OS user can reach and write `dir`.
    fn check_access(&self, dir: &Path) -> anyhow::Result<()> {
        if self.run_as == RunAs::Me {
            return Ok(());
        }
        let args = vec!["-w".into(), path_str(dir)?.to_owned()];
        self.run(Path::new("test"), &args).map(|_| ()).map_err(|_| {
            anyhow::anyhow!(
                "the `{PG_OS_USER}` OS user (PostgreSQL refuses to run as root) cannot write {}: a parent \
                 directory is not accessible to it. Choose a data directory it can reach (e.g. under /tmp or \
                 /var/lib), or set DATABASE_URL",
                dir.display()
            )
        })
    }

    fn initdb(&self, sync: bool) -> anyhow::Result<()> {
        let mut args: Vec<String> = vec![
            "-D".into(),
            self.data_str()?.to_owned(),
            "-A".into(),
            "trust".into(),
            "-U".into(),
            "postgres".into(),
            "-E".into(),
            "UTF8".into(),
        ];
        if !sync {
            args.push("--no-sync".into());
        }
        self.run(&self.bins.initdb, &args)
            .with_context(|| format!("initdb failed for {}", self.data_dir.display()))?;
        Ok(())
    }

    /// `pg_ctl start` on `port`; waits (`-w`) until the server reports it is ready.
    fn start(&mut self, port: u16, fsync: bool) -> anyhow::Result<()> {
        let data = self.data_str()?.to_owned();
        // Unix socket paths are limited to ~107 bytes; without one, TCP still works.
        let socket_dir = if data.len() + ".s.PGSQL.65535".len() + 1 < 100 {
            data.clone()
        } else {
            String::new()
        };
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync={}",
            sh_quote(&socket_dir),
            if fsync { "on" } else { "off" }
        );
        let args = vec![
            "start".into(),
            "-D".into(),
            data.clone(),
            "-l".into(),
            format!("{data}/server.log"),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "-o".into(),
            opts,
        ];
        self.run(&self.bins.pg_ctl, &args).map_err(|e| {
            // A server that is still starting (pg_ctl gave up waiting) must still be stopped.
            self.running = self.data_dir.join("postmaster.pid").exists();
            let log = std::fs::read_to_string(self.data_dir.join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(15)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            anyhow::anyhow!("{e:#}\nserver.log (last lines):\n{}", tail.join("\n"))
        })?;
        self.running = true;
        self.last_start = Some((port, fsync));
        Ok(())
    }

    /// Stops the server but keeps the data directory (see [`PgHandle::pause`]).
    fn halt(&mut self) -> anyhow::Result<()> {
        let args = self.stop_args()?;
        self.run(&self.bins.pg_ctl, &args)?;
        self.running = false;
        Ok(())
    }

    /// Stops the server (`pg_ctl stop -m fast`) and removes the temporary directory.
    fn stop(&mut self) -> anyhow::Result<()> {
        let mut result = Ok(());
        if self.running {
            let args = self.stop_args()?;
            result = self.run(&self.bins.pg_ctl, &args).map(|_| ());
            self.running = false;
            if result.is_ok() {
                tracing::info!(data_dir = %self.data_dir.display(), "private PostgreSQL stopped");
            }
        }
        if let Some(tmp) = self.temp_root.take() {
            let removed = std::fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()));
            result = result.and(removed);
        }
        result
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::warn!(error = %format!("{e:#}"), "could not stop the private PostgreSQL");
        }
    }
}

/// Starts a private cluster and waits until it accepts connections.
async fn start_private(bins: PgBins, layout: Layout) -> anyhow::Result<PgHandle> {
    let cluster = tokio::task::spawn_blocking(move || start_private_blocking(bins, layout))
        .await
        .context("starting PostgreSQL")??;
    let (cluster, port) = cluster;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let handle = PgHandle {
        url,
        cluster: Some(cluster),
    };
    wait_until_accepting(handle.url(), Duration::from_secs(30)).await?;
    Ok(handle)
}

fn start_private_blocking(bins: PgBins, layout: Layout) -> anyhow::Result<(Cluster, u16)> {
    let run_as = run_as()?;
    let (data_dir, temp_root, fsync) = match &layout {
        Layout::Temporary => {
            let root = std::env::temp_dir().join(format!("registry-pg-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
            (root.join("data"), Some(root), false)
        }
        Layout::Persistent(dir) => (dir.clone(), None, true),
    };
    let mut cluster = Cluster {
        bins,
        run_as,
        data_dir,
        temp_root,
        running: false,
        last_start: None,
    };
    if let Some(root) = &cluster.temp_root {
        if cluster.run_as != RunAs::Me {
            chown_to_pg_user(root, false)?;
        }
        cluster.check_access(root)?;
    }
    if cluster.data_dir.join("PG_VERSION").exists() {
        cluster.check_access(&cluster.data_dir)?;
        if cluster.is_running()? {
            tracing::warn!(data_dir = %cluster.data_dir.display(), "a PostgreSQL from an earlier run still uses the data directory; restarting it");
            let args = cluster.stop_args()?;
            cluster.run(&cluster.bins.pg_ctl, &args)?;
        }
    } else {
        tracing::info!(data_dir = %cluster.data_dir.display(), "initialising a private PostgreSQL cluster");
        if cluster.temp_root.is_none() {
            let dir = &cluster.data_dir;
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            if cluster.run_as != RunAs::Me {
                chown_to_pg_user(dir, true)?;
            }
            cluster.check_access(dir)?;
        }
        cluster.initdb(fsync)?;
    }
    // Another process may take the port between picking and binding it: then try another.
    let mut attempt = 0;
    let port = loop {
        attempt += 1;
        let port = free_port()?;
        match cluster.start(port, fsync) {
            Ok(()) => break port,
            Err(e) if attempt < 3 && format!("{e:#}").contains("could not bind") => {
                tracing::debug!(port, "port taken meanwhile; trying another");
            }
            Err(e) => return Err(e.context(format!("cannot start PostgreSQL in {}", cluster.data_dir.display()))),
        }
    };
    tracing::info!(data_dir = %cluster.data_dir.display(), port, "private PostgreSQL started");
    Ok((cluster, port))
}

fn chown_to_pg_user(path: &Path, recursive: bool) -> anyhow::Result<()> {
    let mut cmd = Command::new("chown");
    if recursive {
        cmd.arg("-R");
    }
    let status = cmd.arg(PG_OS_USER).arg(path).status().context("cannot run chown")?;
    if !status.success() {
        bail!("cannot chown {} to {PG_OS_USER}: {status}", path.display());
    }
    Ok(())
}

/// Connects until the server accepts a connection, retrying briefly on errors.
async fn wait_until_accepting(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let error = match tokio::time::timeout(Duration::from_secs(2), PgConnection::connect(url)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_owned(),
        };
        if Instant::now() >= deadline {
            bail!("PostgreSQL at {url} did not accept connections within {timeout:?}: {error}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let scheme_end = url.find("://").context("database URL has no scheme")? + 3;
    let (base, query) = match url.find('?') {
        Some(q) => url.split_at(q),
        None => (url, ""),
    };
    let authority_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    Ok(format!("{}/{database}{query}", &base[..authority_end]))
}

/// `url` with any password replaced by `***`, for printing.
pub fn redact_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!(
                "{}{}:***{}",
                &url[..scheme_end],
                &authority[..colon],
                &url[scheme_end + at..]
            )
        }
        _ => url.to_owned(),
    }
}

fn path_str(p: &Path) -> anyhow::Result<&str> {
    p.to_str()
        .with_context(|| format!("path is not UTF-8: {}", p.display()))
}

/// Quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn shell_join(argv: &[String]) -> String {
    argv.iter().map(|a| sh_quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn touch_exe(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("registry-pg-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn binaries_are_searched_on_path_then_highest_installed_version_then_fixed_places() {
        let root = temp_dir("search");
        for v in ["9.6", "16", "15", "10"] {
            std::fs::create_dir_all(root.join(format!("usr/lib/postgresql/{v}/bin"))).unwrap();
        }
        for v in ["postgresql@14", "postgresql@16", "postgresql", "other"] {
            std::fs::create_dir_all(root.join(format!("usr/local/opt/{v}/bin"))).unwrap();
        }
        let path = std::env::join_paths([root.join("p1"), root.join("p2")]).unwrap();
        let dirs = candidate_dirs(Some(&path), &root);
        let rel: Vec<String> = dirs
            .iter()
            .map(|d| d.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            rel,
            [
                "p1",
                "p2",
                "usr/lib/postgresql/16/bin",
                "usr/lib/postgresql/15/bin",
                "usr/lib/postgresql/10/bin",
                "usr/lib/postgresql/9.6/bin",
                "usr/local/pgsql/bin",
                "opt/homebrew/bin",
                "usr/local/opt/postgresql@16/bin",
                "usr/local/opt/postgresql@14/bin",
                "usr/local/opt/postgresql/bin",
            ]
        );

        // Nothing installed yet.
        assert_eq!(find_bins_in(&dirs), None);
        // A directory with only one of the two binaries does not count.
        touch_exe(&root.join("p2/initdb"));
        touch_exe(&root.join("usr/lib/postgresql/15/bin/initdb"));
        touch_exe(&root.join("usr/lib/postgresql/15/bin/pg_ctl"));
        touch_exe(&root.join("opt/homebrew/bin/initdb"));
        touch_exe(&root.join("opt/homebrew/bin/pg_ctl"));
        let found = find_bins_in(&dirs).unwrap();
        assert_eq!(found.initdb, root.join("usr/lib/postgresql/15/bin/initdb"));
        assert_eq!(found.pg_ctl, root.join("usr/lib/postgresql/15/bin/pg_ctl"));
        // PATH wins once it has both.
        touch_exe(&root.join("p2/pg_ctl"));
        assert_eq!(find_bins_in(&dirs).unwrap().initdb, root.join("p2/initdb"));
        // Without PATH, the fixed places are still searched.
        assert_eq!(candidate_dirs(None, &root)[0], root.join("usr/lib/postgresql/16/bin"));
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn version_keys_order_numerically() {
        assert_eq!(version_key("9.6"), [9, 6]);
        assert_eq!(version_key("@16"), [16]);
        assert_eq!(version_key(""), Vec::<u64>::new());
        assert!(version_key("10") > version_key("9.6"));
    }

    #[test]
    fn a_picked_port_is_free_to_bind() {
        let port = free_port().unwrap();
        assert_ne!(port, 0);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        assert_eq!(listener.local_addr().unwrap().port(), port);
        // While it is taken, another pick gives a different port.
        assert_ne!(free_port().unwrap(), port);
    }

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "registry").unwrap(),
            "postgres://postgres@127.0.0.1:5432/registry"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "registry").unwrap(),
            "postgresql://u:p@h/registry?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:1", "r").unwrap(), "postgres://h:1/r");
        assert_eq!(with_database("postgres://h?x=1", "r").unwrap(), "postgres://h/r?x=1");
        assert!(with_database("nonsense", "r").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact_password("postgres://u:secret@h:1/db"), "postgres://u:***@h:1/db");
        assert_eq!(redact_password("postgres://u@h:1/db"), "postgres://u@h:1/db");
        assert_eq!(redact_password("postgres://h:1/db"), "postgres://h:1/db");
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(shell_join(&["a b".into(), "it's".into()]), r"'a b' 'it'\''s'");
    }

    #[test]
    fn the_error_names_the_three_ways_out() {
        let msg = no_postgres_message();
        assert!(msg.contains("DATABASE_URL"), "{msg}");
        assert!(msg.contains("127.0.0.1:5432"), "{msg}");
        assert!(msg.contains("apt-get install postgresql"), "{msg}");
        // With REGISTRY_PG_BIN_DIR, the message says that only that directory was searched.
        let msg = no_postgres_message_for(Some(Path::new("/opt/pg/bin")));
        assert!(msg.contains("found in /opt/pg/bin (REGISTRY_PG_BIN_DIR)"), "{msg}");
        assert!(!msg.contains("/usr/lib/postgresql"), "{msg}");
    }

    async fn select_one(url: &str) -> i32 {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await.unwrap();
        conn.close().await.unwrap();
        one
    }

    /// Really starts private clusters from the local server binaries.
    #[tokio::test]
    async fn private_clusters_start_stop_and_keep_dev_data() {
        if find_bins().is_none() {
            println!("SKIPPED private_clusters_start_stop_and_keep_dev_data: no initdb/pg_ctl found");
            return;
        }
        // Tests layout (DATABASE_URL and port 5432 left out): a temporary directory, removed on stop.
        let bins = find_bins().unwrap();
        let tmp = start_private(bins.clone(), Layout::Temporary).await.unwrap();
        let tmp_dir = tmp.data_dir().unwrap().parent().unwrap().to_owned();
        assert!(tmp_dir.exists());
        assert_eq!(select_one(tmp.url()).await, 1);
        tmp.stop().await.unwrap();
        assert!(!tmp_dir.exists(), "temporary cluster directory removed");

        // Dev layout: data survives a restart.
        let root = temp_dir("dev");
        let data_dir = root.join("data");
        if run_as().unwrap() != RunAs::Me {
            chown_to_pg_user(&root, false).unwrap();
        }
        let policy = Policy::Dev {
            data_dir: data_dir.clone(),
        };
        let first = discover_with(policy.clone(), None).await.unwrap();
        assert_eq!(first.data_dir(), Some(data_dir.as_path()));
        assert_eq!(select_one(first.url()).await, 1);
        let mut conn = PgConnection::connect(first.url()).await.unwrap();
        sqlx::query("CREATE TABLE kept (v text)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO kept VALUES ('still here')")
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        first.stop().await.unwrap();
        assert!(!data_dir.join("postmaster.pid").exists(), "server stopped");

        let started = Instant::now();
        let second = discover_with(policy.clone(), None).await.unwrap();
        let restart = started.elapsed();
        let mut conn = PgConnection::connect(second.url()).await.unwrap();
        let v: String = sqlx::query_scalar("SELECT v FROM kept")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(v, "still here");
        conn.close().await.unwrap();
        assert!(restart < Duration::from_secs(20), "second start took {restart:?}");

        // Dropping the handle stops the server too.
        drop(second);
        assert!(!data_dir.join("postmaster.pid").exists(), "server stopped on drop");
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn database_url_wins() {
        let h = discover_with(Policy::Tests, Some("postgres://x@example.invalid/db".into()))
            .await
            .unwrap();
        assert_eq!(h.url(), "postgres://x@example.invalid/db");
        assert_eq!(h.data_dir(), None);
        h.stop().await.unwrap();
    }
}
