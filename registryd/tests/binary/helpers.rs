//! Shared by the binary tests: run `registryd` as a child process, read its stdout, stop it
//! with SIGTERM, run a short command to its end, and call the server with a bearer token.
//! (PostgreSQL and fresh databases come from the workspace harness, `registry_e2e`.)

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use tonic::{
    metadata::{Ascii, MetadataValue},
    service::Interceptor,
};

pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `registryd`; on drop (a failed test) it is terminated.
pub struct Registryd {
    pub child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// A `registryd` command with the environment of the test process minus the variables
/// that would change what the test means.
pub fn registryd() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_registryd"));
    for var in [
        "DATABASE_URL",
        "REGISTRY_LISTEN",
        "REGISTRY_DEV_DATA_DIR",
        "REGISTRY_DEV_TOKEN_FILE",
        "REGISTRY_BOOTSTRAP_ADMIN_TOKEN",
        "REGISTRY_BOOTSTRAP_ADMIN_TOKEN_FILE",
        "REGISTRY_BOOTSTRAP_EDITOR_TOKEN_FILE",
        "REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK",
        "REGISTRY_NO_MIGRATE",
        "REGISTRY_METRICS_LISTEN",
        "REGISTRY_HEALTHCHECK_ENDPOINT",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUST_LOG", "info");
    cmd
}

/// Runs a short-lived command to its end (bounded) and returns its output, also printed.
pub async fn run(mut cmd: Command) -> Output {
    let out = tokio::time::timeout(
        STARTUP_TIMEOUT,
        tokio::task::spawn_blocking(move || cmd.output().expect("run registryd")),
    )
    .await
    .expect("registryd exits")
    .unwrap();
    println!(
        "status: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Registryd {
    pub fn spawn(mut cmd: Command) -> Registryd {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start registryd");
        // Read stdout on a thread (and keep draining it, so the child never blocks on a full
        // pipe); the test waits for lines with a deadline.
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                println!("registryd| {line}");
                let _ = tx.send(line);
            }
        });
        Registryd {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The rest of the first (trimmed) stdout line starting with `prefix`.
    pub fn wait_for(&mut self, prefix: &str) -> String {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                    self.seen.push(line);
                }
                Err(e) => {
                    let status = self.child.try_wait();
                    let _ = self.child.kill();
                    panic!(
                        "no {prefix:?} line from registryd ({e}; process: {status:?}); output:\n{}",
                        self.seen.join("\n")
                    );
                }
            }
        }
    }

    /// SIGTERM, then the exit status (bounded wait). The wait yields to the runtime, so the
    /// test's client connections stay responsive and answer the server's graceful shutdown.
    pub async fn terminate(mut self) -> ExitStatus {
        sigterm(&self.child);
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for registryd") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("registryd did not exit within {EXIT_TIMEOUT:?} after SIGTERM");
    }
}

fn sigterm(child: &Child) {
    let sent = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("run kill");
    assert!(sent.success(), "kill -TERM failed");
}

impl Drop for Registryd {
    /// Only after a failure: stop the server (and so any PostgreSQL it started), bounded.
    fn drop(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        sigterm(&self.child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds `authorization: Bearer …` to every call.
#[derive(Clone)]
pub struct Bearer(pub MetadataValue<Ascii>);

impl Bearer {
    pub fn new(token: &str) -> Bearer {
        Bearer(format!("Bearer {token}").parse().expect("token is ASCII"))
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

pub async fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to registryd")
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
