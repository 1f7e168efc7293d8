//! `registryd dev` end to end: the real binary, without DATABASE_URL, starts its own
//! PostgreSQL in a temporary data directory, serves, stops cleanly on SIGTERM, and keeps its
//! data for the next start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use registry_proto::v1::{
    CreatePolicyGoalRequest, GetPolicyGoalRequest, Pillar, PolicyGoal,
    policy_goal_service_client::PolicyGoalServiceClient,
};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `registryd dev`; on drop (a failed test) it is terminated, which also stops its
/// PostgreSQL.
struct Dev {
    child: Child,
    addr: SocketAddr,
}

impl Dev {
    fn start(data_dir: &Path) -> Dev {
        let mut child = Command::new(env!("CARGO_BIN_EXE_registryd"))
            .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .env_remove("DATABASE_URL")
            .env_remove("REGISTRY_LISTEN")
            .env_remove("REGISTRY_DEV_DATA_DIR")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start registryd dev");
        // Read stdout on a thread (and keep draining it, so the child never blocks on a full
        // pipe); the test waits for the banner line with a deadline.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                println!("registryd| {line}");
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut seen = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix("gRPC endpoint: http://") {
                        break rest.trim().parse::<SocketAddr>().expect("endpoint address");
                    }
                    seen.push(line);
                }
                Err(e) => {
                    let status = child.try_wait();
                    let _ = child.kill();
                    panic!(
                        "no banner from registryd dev ({e}; process: {status:?}); output:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        assert_ne!(addr.port(), 0, "the banner shows the bound port");
        Dev { child, addr }
    }

    async fn channel(&self) -> tonic::transport::Channel {
        tonic::transport::Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .expect("connect to registryd dev")
    }

    /// SIGTERM, then the exit status (bounded wait). The wait yields to the runtime, so this
    /// test's client connections stay responsive and answer the server's graceful shutdown.
    async fn terminate(mut self) -> ExitStatus {
        sigterm(&self.child);
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("wait for registryd") {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("registryd dev did not exit within {EXIT_TIMEOUT:?} after SIGTERM");
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

impl Drop for Dev {
    /// Only after a failure: stop the server (and so its PostgreSQL), bounded.
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

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn assert_serving(dev: &Dev) {
    let mut health = HealthClient::new(dev.channel().await);
    let status = health
        .check(HealthCheckRequest { service: String::new() })
        .await
        .expect("health check")
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
}

#[tokio::test]
async fn dev_starts_its_own_postgres_stops_cleanly_and_keeps_data() {
    let root = TempDir(std::env::temp_dir().join(format!("registry-dev-test-{}", uuid::Uuid::new_v4().simple())));
    std::fs::create_dir_all(&root.0).unwrap();
    let data_dir = root.0.join("data");

    // First start: initialises the cluster and creates the database.
    let started = Instant::now();
    let dev = Dev::start(&data_dir);
    println!("first start: {:?}", started.elapsed());
    assert!(data_dir.join("PG_VERSION").exists(), "a private cluster in --data-dir");
    assert_serving(&dev).await;
    let mut goals = PolicyGoalServiceClient::new(dev.channel().await);
    let created = goals
        .create_policy_goal(CreatePolicyGoalRequest {
            policy_goal_id: "dev-mode-survives".into(),
            policy_goal: Some(PolicyGoal {
                title: "Survives a restart".into(),
                pillar: Pillar::IndustrialResurgence.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("create goal")
        .into_inner();
    assert_eq!(created.name, "policyGoals/dev-mode-survives");
    drop(goals);
    let status = dev.terminate().await;
    assert!(status.success(), "registryd dev exit status after SIGTERM: {status}");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "the private PostgreSQL is stopped with the server"
    );

    // Second start on the same data directory: no initdb, the goal is still there.
    let started = Instant::now();
    let dev = Dev::start(&data_dir);
    println!("second start: {:?}", started.elapsed());
    assert_serving(&dev).await;
    let mut goals = PolicyGoalServiceClient::new(dev.channel().await);
    let got = goals
        .get_policy_goal(GetPolicyGoalRequest {
            name: "policyGoals/dev-mode-survives".into(),
            ..Default::default()
        })
        .await
        .expect("the goal from the first run")
        .into_inner();
    assert_eq!(got.title, "Survives a restart");
    drop(goals);
    let status = dev.terminate().await;
    assert!(status.success(), "registryd dev exit status after SIGTERM: {status}");
    assert!(!data_dir.join("postmaster.pid").exists());
}
