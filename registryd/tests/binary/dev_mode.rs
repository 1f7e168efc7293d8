//! `registryd dev` end to end: the real binary, without DATABASE_URL, starts its own
//! PostgreSQL in a temporary data directory, prints an admin token, serves, stops cleanly on
//! SIGTERM, and keeps its data and token for the next start. The first start imports
//! `seeds/`; the second does not import them again.

use std::{path::Path, time::Instant};

use registry_proto::v1::{
    CreatePolicyGoalRequest, GetPolicyGoalRequest, ListPolicyGoalsRequest, ListTradePartnersRequest, Pillar,
    PolicyGoal, policy_goal_service_client::PolicyGoalServiceClient,
    trade_partner_service_client::TradePartnerServiceClient,
};
use tonic::{service::interceptor::InterceptedService, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

use crate::helpers::{Bearer, Registryd, TempDir, channel, registryd};

/// A running `registryd dev`: its endpoint and the admin token from its banner.
struct Dev {
    proc: Registryd,
    addr: String,
    token: String,
    /// The banner's `seeds:` line.
    seeds: String,
    /// The banner's `try:` line (a registryctl command).
    try_line: String,
}

impl Dev {
    fn start(data_dir: &Path, token_file: &Path) -> Dev {
        let mut cmd = registryd();
        cmd.args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--token-file")
            .arg(token_file)
            .arg("--seeds")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds"));
        let mut proc = Registryd::spawn(cmd);
        let addr = proc.wait_for("gRPC endpoint: http://");
        assert!(!addr.ends_with(":0"), "the banner shows the bound port: {addr}");
        let token = proc.wait_for("admin token:");
        assert!(token.starts_with("rgy_"), "the banner shows an admin token: {token}");
        let seeds = proc.wait_for("seeds:");
        let try_line = proc.wait_for("try:");
        Dev {
            proc,
            addr,
            token,
            seeds,
            try_line,
        }
    }

    /// Every goal (also soft-deleted ones), by name, with its revision.
    async fn goal_revisions(&self) -> Vec<(String, i64)> {
        let page = self
            .goals()
            .await
            .list_policy_goals(ListPolicyGoalsRequest {
                page_size: 1000,
                show_deleted: true,
                ..Default::default()
            })
            .await
            .expect("list goals")
            .into_inner();
        assert!(page.next_page_token.is_empty());
        let mut out: Vec<(String, i64)> = page.policy_goals.into_iter().map(|g| (g.name, g.revision)).collect();
        out.sort();
        out
    }

    async fn partner_count(&self) -> usize {
        TradePartnerServiceClient::with_interceptor(channel(&self.addr).await, Bearer::new(&self.token))
            .list_trade_partners(ListTradePartnersRequest {
                page_size: 1000,
                show_deleted: true,
                ..Default::default()
            })
            .await
            .expect("list partners")
            .into_inner()
            .trade_partners
            .len()
    }

    async fn goals(&self) -> PolicyGoalServiceClient<InterceptedService<Channel, Bearer>> {
        PolicyGoalServiceClient::with_interceptor(channel(&self.addr).await, Bearer::new(&self.token))
    }

    async fn assert_serving(&self) {
        let mut health = HealthClient::new(channel(&self.addr).await);
        let status = health
            .check(HealthCheckRequest { service: String::new() })
            .await
            .expect("health check")
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32);
    }
}

#[tokio::test]
async fn dev_starts_its_own_postgres_stops_cleanly_and_keeps_data() {
    let root = TempDir::new("registry-dev-test");
    let data_dir = root.0.join("data");
    let token_file = root.0.join("admin-token");

    // First start: initialises the cluster and creates the database.
    let started = Instant::now();
    let dev = Dev::start(&data_dir, &token_file);
    println!("first start: {:?}", started.elapsed());
    assert!(data_dir.join("PG_VERSION").exists(), "a private cluster in --data-dir");
    dev.assert_serving().await;
    // The seeds are imported on the first start, and the banner says how to use registryctl.
    assert!(dev.seeds.starts_with("imported from"), "{}", dev.seeds);
    assert!(
        dev.seeds.ends_with("26 created, 0 updated, 0 unchanged"),
        "{}",
        dev.seeds
    );
    assert!(
        dev.try_line.contains(&format!("REGISTRY_ENDPOINT=http://{}", dev.addr))
            && dev.try_line.contains(&format!("REGISTRY_TOKEN={}", dev.token))
            && dev.try_line.contains("registry-cli -- goals tree"),
        "{}",
        dev.try_line
    );
    let seeded = dev.goal_revisions().await;
    assert_eq!(seeded.len(), 12, "{seeded:?}");
    assert!(
        seeded.iter().any(|(n, _)| n == "policyGoals/manufacturing-ax"),
        "{seeded:?}"
    );
    assert_eq!(dev.partner_count().await, 6);
    let first_token = dev.token.clone();
    let anonymous = PolicyGoalServiceClient::new(channel(&dev.addr).await)
        .get_policy_goal(GetPolicyGoalRequest {
            name: "policyGoals/x".into(),
            ..Default::default()
        })
        .await
        .expect_err("dev mode requires a token too");
    assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    let mut goals = dev.goals().await;
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
    let status = dev.proc.terminate().await;
    assert!(status.success(), "registryd dev exit status after SIGTERM: {status}");
    assert!(
        !data_dir.join("postmaster.pid").exists(),
        "the private PostgreSQL is stopped with the server"
    );

    // Second start on the same data directory: no initdb, the goal and the token remain.
    let started = Instant::now();
    let dev = Dev::start(&data_dir, &token_file);
    println!("second start: {:?}", started.elapsed());
    dev.assert_serving().await;
    assert_eq!(dev.token, first_token, "the second start reuses the saved token");
    // The seeds are not imported again: the same goals, at the same revisions.
    assert!(dev.seeds.starts_with("kept"), "{}", dev.seeds);
    let mut expected = seeded.clone();
    expected.push(("policyGoals/dev-mode-survives".into(), 1));
    expected.sort();
    assert_eq!(dev.goal_revisions().await, expected);
    assert_eq!(dev.partner_count().await, 6);
    let mut goals = dev.goals().await;
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
    let status = dev.proc.terminate().await;
    assert!(status.success(), "registryd dev exit status after SIGTERM: {status}");
    assert!(!data_dir.join("postmaster.pid").exists());
}
