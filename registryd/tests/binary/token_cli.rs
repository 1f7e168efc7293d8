//! Bootstrapping access without the API: `registryd token create|list|revoke` on the
//! database, and `registryd serve` registering an admin token from a secret file.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use registry_e2e::fresh_database_url;
use registry_proto::v1::{
    CreatePolicyGoalRequest, GetPolicyGoalRequest, ListTokensRequest, Pillar, PolicyGoal,
    admin_service_client::AdminServiceClient, policy_goal_service_client::PolicyGoalServiceClient,
};
use registry_server::domain::token;

use crate::helpers::{Bearer, Registryd, TempDir, channel, registryd, run};

fn token_cmd(url: &str, args: &[&str]) -> Command {
    let mut cmd = registryd();
    cmd.arg("token").args(args).args(["--database-url", url]);
    cmd
}

fn serve(url: &str, secret_file: &std::path::Path) -> Command {
    let mut cmd = registryd();
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--database-url", url])
        .arg("--bootstrap-admin-token-file")
        .arg(secret_file);
    cmd
}

fn listening_addr(proc: &mut Registryd) -> String {
    let line = proc.wait_for("registryd listening on");
    line.split_whitespace().next().unwrap().to_owned()
}

#[tokio::test]
async fn token_cli_and_bootstrap_admin_give_access_without_the_api() {
    let url = fresh_database_url("registry_cli");
    let dir = TempDir::new("registry-token-cli");

    // `token create` prints the secret alone on stdout.
    let out = run(token_cmd(
        &url,
        &["create", "--role", "editor", "--description", "ci editor"],
    ))
    .await;
    assert!(out.status.success());
    let editor = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let editor_id = token::parse(&editor).expect("a registry token").to_owned();

    let bad = run(token_cmd(&url, &["create", "--role", "superuser"])).await;
    assert!(!bad.status.success(), "unknown roles are refused");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown role"));

    // serve registers the bootstrap admin token from a secret file.
    let admin = token::generate();
    let secret_file = dir.0.join("admin-token");
    std::fs::write(&secret_file, format!("{}\n", admin.secret)).unwrap();
    let mut proc = Registryd::spawn(serve(&url, &secret_file));
    let addr = listening_addr(&mut proc);
    let ch = channel(&addr).await;

    let mut admin_api = AdminServiceClient::with_interceptor(ch.clone(), Bearer::new(&admin.secret));
    let tokens = admin_api
        .list_tokens(ListTokensRequest::default())
        .await
        .expect("the bootstrap token is an admin")
        .into_inner()
        .tokens;
    let mut names: Vec<&str> = tokens.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    let mut expected = [format!("tokens/{}", admin.id), format!("tokens/{editor_id}")];
    expected.sort_unstable();
    assert_eq!(names, expected);

    // The CLI-created editor token can write, and is recorded as the actor.
    let mut goals = PolicyGoalServiceClient::with_interceptor(ch.clone(), Bearer::new(&editor));
    goals
        .create_policy_goal(CreatePolicyGoalRequest {
            policy_goal_id: "cli-token".into(),
            policy_goal: Some(PolicyGoal {
                title: "Written with a CLI token".into(),
                pillar: Pillar::IndustrialResurgence.into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("an editor may create goals");
    let get = || async {
        PolicyGoalServiceClient::with_interceptor(ch.clone(), Bearer::new(&editor))
            .get_policy_goal(GetPolicyGoalRequest {
                name: "policyGoals/cli-token".into(),
                ..Default::default()
            })
            .await
    };
    get().await.expect("readable with the editor token");

    // `token list` shows both; `token revoke` on the database locks the editor out of the
    // running server (its cache is evicted through the change feed).
    let listed = run(token_cmd(&url, &["list"])).await;
    let listed = String::from_utf8(listed.stdout).unwrap();
    assert!(listed.contains(&editor_id) && listed.contains(&admin.id), "{listed}");
    assert!(!listed.contains(&editor), "secrets are never listed");
    let revoked = run(token_cmd(&url, &["revoke", &format!("tokens/{editor_id}")])).await;
    assert!(revoked.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match get().await {
            Err(s) if s.code() == tonic::Code::Unauthenticated => break,
            other => assert!(
                Instant::now() < deadline,
                "a revoked token still works after 10 s: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = run(token_cmd(&url, &["list"])).await;
    assert!(!String::from_utf8(listed.stdout).unwrap().contains(&editor_id));
    assert!(proc.terminate().await.success());

    // A restart with the same secret file keeps one bootstrap token.
    let mut proc = Registryd::spawn(serve(&url, &secret_file));
    let addr = listening_addr(&mut proc);
    let mut admin_api = AdminServiceClient::with_interceptor(channel(&addr).await, Bearer::new(&admin.secret));
    let tokens = admin_api
        .list_tokens(ListTokensRequest {
            show_inactive: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .tokens;
    assert_eq!(tokens.len(), 2, "no second bootstrap token: {tokens:?}");
    assert!(proc.terminate().await.success());

    // A secret whose id exists with another key is refused at start-up.
    let forged = format!(
        "{}_{}",
        &admin.secret[..token::PREFIX.len() + 12],
        &token::generate().secret[token::PREFIX.len() + 13..]
    );
    std::fs::write(&secret_file, forged).unwrap();
    let out = run(serve(&url, &secret_file)).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("different secret"));
}
