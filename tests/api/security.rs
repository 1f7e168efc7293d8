//! Authentication, authorisation, TLS and limits, end to end.

use std::time::Duration;

use registry_client::RegistryClient;
use registry_e2e::{Error, TestApp, create, goal, pb, system_ctx};
use registry_server::{ServerOptions, TlsOptions, auth::METHOD_ROLES, domain::enums::Role};
use tonic::{Code, metadata::MetadataValue};

/// Calls `path` with an empty message and the given authorization header; returns the code.
async fn raw_call(app: &TestApp, path: &str, auth: Option<&str>) -> Code {
    raw_call_reason(app, path, auth).await.0
}

/// Like [`raw_call`], with the refusal's `ErrorInfo.reason` (empty for none).
async fn raw_call_reason(app: &TestApp, path: &str, auth: Option<&str>) -> (Code, String) {
    use tonic_types::StatusExt;
    let refused = |s: tonic::Status| {
        let reason = s
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone())
            .unwrap_or_default();
        (s.code(), reason)
    };
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut req = tonic::Request::new(());
    if let Some(a) = auth {
        req.metadata_mut()
            .insert("authorization", MetadataValue::try_from(a).unwrap());
    }
    let path: http::uri::PathAndQuery = path.parse().unwrap();
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let req = req.map(|()| ());
    if path.path().ends_with("/WatchChanges") {
        match grpc.server_streaming(req, path, codec).await {
            Ok(_) => (Code::Ok, String::new()),
            Err(s) => refused(s),
        }
    } else {
        match grpc.unary(req, path, codec).await {
            Ok(_) => (Code::Ok, String::new()),
            Err(s) => refused(s),
        }
    }
}

#[tokio::test]
async fn auth_matrix_every_rpc_every_credential() {
    // Hundreds of refusals from one address: the per-peer limit of failures is tested apart.
    let app = TestApp::spawn_with(ServerOptions {
        failed_auth_per_peer: None,
        ..Default::default()
    })
    .await;
    let ctx = system_ctx();
    let mut creds: Vec<(&str, String, Option<Role>)> = vec![
        ("none", String::new(), None),
        ("malformed", "Bearer not-a-token".into(), None),
        ("basic", "Basic dXNlcjpwYXNz".into(), None),
        (
            "unknown",
            "Bearer rgy_aaaaaaaaaaaa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            None,
        ),
    ];
    let (revoked, revoked_secret) = app
        .store
        .create_token(Role::Admin, "revoked", None, &ctx)
        .await
        .unwrap();
    app.store.revoke_token(&revoked.id, &ctx).await.unwrap();
    creds.push(("revoked", format!("Bearer {revoked_secret}"), None));
    let (_, expired_secret) = app
        .store
        .create_token(
            Role::Admin,
            "expired",
            Some(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
            &ctx,
        )
        .await
        .unwrap();
    creds.push(("expired", format!("Bearer {expired_secret}"), None));
    // A valid secret with one character changed.
    let mut tampered = app.admin_token.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    creds.push(("tampered", format!("Bearer {tampered}"), None));
    for role in [Role::Viewer, Role::Editor, Role::Admin] {
        let (_, secret) = app.store.create_token(role, "matrix", None, &ctx).await.unwrap();
        creds.push(("role", format!("Bearer {secret}"), Some(role)));
    }
    let mut checked = 0;
    for (method, need) in METHOD_ROLES.iter() {
        for (label, header, role) in &creds {
            let (code, reason) = raw_call_reason(&app, method, (!header.is_empty()).then_some(header.as_str())).await;
            match role {
                None => {
                    assert_eq!(code, Code::Unauthenticated, "{method} with {label}");
                    // Every refusal says why, in ErrorInfo, like every other error.
                    let expected = if matches!(*label, "none" | "malformed" | "basic") {
                        "CREDENTIALS_MISSING"
                    } else {
                        "TOKEN_INVALID"
                    };
                    assert_eq!(reason, expected, "{method} with {label}");
                }
                Some(r) if r.rank() < need.rank() => {
                    assert_eq!(code, Code::PermissionDenied, "{method} as {r}");
                    assert_eq!(reason, "ROLE_TOO_LOW", "{method} as {r}");
                }
                Some(r) => assert!(
                    !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
                    "{method} as {r}: {code:?}"
                ),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, METHOD_ROLES.len() * creds.len());
    // Methods outside the table are refused, health and reflection are open.
    assert_eq!(
        raw_call_reason(
            &app,
            "/motie.registry.v1.PolicyGoalService/Nope",
            Some(&format!("Bearer {}", app.admin_token))
        )
        .await,
        (Code::PermissionDenied, "METHOD_NOT_ALLOWED".to_owned())
    );
    assert_eq!(raw_call(&app, "/grpc.health.v1.Health/Check", None).await, Code::Ok);
}

#[tokio::test]
async fn tokens_through_the_api_roles_revocation_and_actor() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let created = admin
        .create_token(pb::CreateTokenRequest {
            role: pb::Role::Editor.into(),
            description: "planning system".into(),
            expire_time: None,
            no_expiry: false,
        })
        .await
        .unwrap();
    let token = created.token.unwrap();
    assert!(created.secret.starts_with("rgy_"));
    let editor = admin.with_token(Some(created.secret.clone())).unwrap();
    let g = editor
        .create_policy_goal(create("by-editor", goal("E", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    // The change is attributed to the token.
    let history = editor
        .list_changes_page(pb::ListChangesRequest {
            resource_name: g.name.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(format!("tokens/{}", history.changes[0].actor), token.name);
    // Editors cannot manage tokens.
    assert!(matches!(
        editor.list_tokens(Default::default()).await,
        Err(Error::PermissionDenied { .. })
    ));
    // Listing never shows secrets.
    let listed = admin.list_tokens(Default::default()).await.unwrap();
    assert!(
        listed
            .tokens
            .iter()
            .any(|t| t.name == token.name && t.role == pb::Role::Editor as i32)
    );
    // Revocation takes effect at once.
    let revoked = admin.revoke_token(&token.name).await.unwrap();
    assert!(revoked.revoke_time.is_some());
    match editor.get_policy_goal(&g.name).await {
        Err(Error::Unauthenticated { message }) => {
            assert!(
                !message.contains(&created.secret[16..]),
                "secrets never appear in errors"
            );
        }
        other => panic!("expected UNAUTHENTICATED, got {other:?}"),
    }
    let after = admin
        .list_tokens(pb::ListTokensRequest {
            show_inactive: false,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(after.tokens.iter().all(|t| t.name != token.name));
    // Validation.
    for bad in [
        pb::CreateTokenRequest {
            role: 0,
            description: "x".into(),
            expire_time: None,
            no_expiry: false,
        },
        pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            description: String::new(),
            expire_time: None,
            no_expiry: false,
        },
        pb::CreateTokenRequest {
            role: pb::Role::Viewer.into(),
            description: "past".into(),
            expire_time: Some(prost_types::Timestamp { seconds: 1, nanos: 0 }),
            no_expiry: false,
        },
    ] {
        assert!(matches!(
            admin.create_token(bad).await,
            Err(Error::InvalidArgument { .. })
        ));
    }
    assert!(matches!(
        admin.revoke_token("tokens/nope").await,
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        admin.revoke_token("tokens/zzzzzzzzzzzz").await,
        Err(Error::NotFound { .. })
    ));
}

struct Pki {
    ca: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let mut sp = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = sp.signed_by(&server_key, &ca).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut cp = CertificateParams::new(vec!["planning-system".to_owned()]).unwrap();
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &ca).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    }
}

async fn tls_client(app: &TestApp, pki: &Pki, identity: bool) -> Result<RegistryClient, Error> {
    let mut b = RegistryClient::builder(format!("https://localhost:{}", app.addr.port()))
        .ca_certificate(pki.ca.clone())
        .token(app.admin_token.clone())
        .connect_timeout(Duration::from_secs(5));
    if identity {
        b = b.identity(pki.client_cert.clone(), pki.client_key.clone());
    }
    b.connect().await
}

#[tokio::test]
async fn tls_and_mutual_tls() {
    let pki = pki();
    let app = TestApp::spawn_with(ServerOptions {
        tls: Some(TlsOptions {
            cert: pki.server_cert.clone().into(),
            key: pki.server_key.clone().into(),
            client_ca: None,
        }),
        ..Default::default()
    })
    .await;
    let c = tls_client(&app, &pki, false).await.unwrap();
    c.create_policy_goal(create("tls", goal("TLS", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    // Plaintext is refused.
    let plain = RegistryClient::builder(format!("http://{}", app.addr))
        .token(app.admin_token.clone())
        .connect()
        .await;
    let refused = match plain {
        Err(_) => true,
        Ok(p) => p.get_policy_goal("policyGoals/tls").await.is_err(),
    };
    assert!(refused, "a plaintext client must not get through");

    let mtls = TestApp::spawn_with(ServerOptions {
        tls: Some(TlsOptions {
            cert: pki.server_cert.clone().into(),
            key: pki.server_key.clone().into(),
            client_ca: Some(pki.ca.clone().into()),
        }),
        ..Default::default()
    })
    .await;
    let with_cert = tls_client(&mtls, &pki, true).await.unwrap();
    with_cert
        .create_policy_goal(create("mtls", goal("mTLS", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let without = match tls_client(&mtls, &pki, false).await {
        Err(_) => true,
        Ok(c) => c.get_policy_goal("policyGoals/mtls").await.is_err(),
    };
    assert!(without, "mTLS requires a client certificate");
}

#[tokio::test]
async fn limits_are_enforced_and_store_nothing() {
    let app = TestApp::spawn_with(ServerOptions {
        max_request_bytes: 64 * 1024,
        ..Default::default()
    })
    .await;
    let c = &app.client;
    // Over the message size: RESOURCE_EXHAUSTED.
    let mut big = goal("Big", pb::Pillar::IndustrialResurgence);
    for i in 0..100_000 {
        big.labels.insert(format!("k{i}"), "v".into());
    }
    assert!(matches!(
        c.create_policy_goal(create("big", big)).await,
        Err(Error::ResourceExhausted { .. })
    ));
    // Under the size but over the label count: INVALID_ARGUMENT on labels.
    let mut many = goal("Many", pb::Pillar::IndustrialResurgence);
    for i in 0..65 {
        many.labels.insert(format!("k{i}"), "v".into());
    }
    assert_eq!(
        registry_e2e::violations(c.create_policy_goal(create("many", many)).await),
        ["policy_goal.labels"]
    );
    // Long strings and filters.
    let long = goal(&"x".repeat(201), pb::Pillar::IndustrialResurgence);
    assert_eq!(
        registry_e2e::violations(c.create_policy_goal(create("long", long)).await),
        ["policy_goal.title"]
    );
    let filter = format!("title = \"{}\"", "a".repeat(3000));
    assert_eq!(
        registry_e2e::violations(
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                filter,
                ..Default::default()
            })
            .await
        ),
        ["filter"]
    );
    let deep = format!("{}pillar = INDUSTRIAL_RESURGENCE{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(
        registry_e2e::violations(
            c.list_policy_goals_page(pb::ListPolicyGoalsRequest {
                filter: deep,
                ..Default::default()
            })
            .await
        ),
        ["filter"]
    );
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM policy_goals")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn per_token_rate_limit() {
    let app = TestApp::spawn_with(ServerOptions {
        rate_limit_per_token: std::num::NonZeroU32::new(5),
        ..Default::default()
    })
    .await;
    let mut limited = 0;
    for _ in 0..40 {
        if let Err(Error::ResourceExhausted { .. }) = app.client.list_policy_goals_page(Default::default()).await {
            limited += 1;
        }
    }
    assert!(limited > 0, "a burst beyond the quota is refused");
    // Another token has its own quota.
    let (_, other) = app.client_with_role(Role::Viewer).await;
    other.list_policy_goals_page(Default::default()).await.unwrap();
}

#[tokio::test]
async fn server_deadline_is_deadline_exceeded_and_stops_the_query() {
    let app = TestApp::spawn_with(ServerOptions {
        request_timeout: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    // Hold the goal row lock so the update has to wait past the deadline.
    app.client
        .create_policy_goal(create("locked", goal("L", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let mut tx = app.pool().begin().await.unwrap();
    sqlx::query("SELECT 1 FROM policy_goals WHERE id = 'locked' FOR UPDATE")
        .execute(&mut *tx)
        .await
        .unwrap();
    let r = app
        .client
        .update_policy_goal(pb::UpdatePolicyGoalRequest {
            policy_goal: Some(pb::PolicyGoal {
                name: "policyGoals/locked".into(),
                title: "Changed".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await;
    assert!(matches!(r, Err(Error::DeadlineExceeded { .. })), "{r:?}");
    // The lock is still held, yet the abandoned statement is gone: its transaction's
    // statement_timeout was the call's deadline.
    crate::limits::eventually("the abandoned statement was cancelled", || async {
        crate::limits::waiting_on_locks(&app).await == 0
    })
    .await;
    tx.rollback().await.unwrap();
    // The abandoned update did not apply.
    assert_eq!(
        app.client.get_policy_goal("policyGoals/locked").await.unwrap().title,
        "L"
    );
}

#[tokio::test]
async fn tokens_expire_by_default_and_rotate_with_a_grace_period() {
    let app = TestApp::spawn().await;
    let admin = &app.client;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let create = |no_expiry: bool, expire_time: Option<prost_types::Timestamp>| pb::CreateTokenRequest {
        role: pb::Role::Editor.into(),
        description: "rotated".into(),
        expire_time,
        no_expiry,
    };
    // No expiry given: 90 days.
    let made = admin.create_token(create(false, None)).await.unwrap();
    let expires = made.token.as_ref().unwrap().expire_time.as_ref().unwrap().seconds;
    assert!((expires - now - 90 * 86_400).abs() < 3600, "{expires} vs {now}");
    // Never, only when asked for; not both.
    let forever = admin.create_token(create(true, None)).await.unwrap();
    assert_eq!(forever.token.unwrap().expire_time, None);
    let both = admin
        .create_token(create(
            true,
            Some(prost_types::Timestamp {
                seconds: now + 60,
                nanos: 0,
            }),
        ))
        .await;
    assert_eq!(registry_e2e::violations(both), ["no_expiry"]);

    // Rotation: the successor has the role and description; the old one works for the grace
    // period, and its open stream ends when that is over.
    let old_name = made.token.unwrap().name;
    let old = admin.with_token(Some(made.secret.clone())).unwrap();
    let mut stream = old.watch_changes_once(Default::default()).await.unwrap();
    stream.message().await.unwrap();
    let rotated = admin
        .rotate_token(old_name.clone(), Some(Duration::from_secs(2)))
        .await
        .unwrap();
    let successor = rotated.token.unwrap();
    let previous = rotated.previous.unwrap();
    assert_ne!(successor.name, old_name);
    assert_eq!(
        (successor.role, successor.description.as_str()),
        (pb::Role::Editor as i32, "rotated")
    );
    assert_eq!(previous.name, old_name);
    assert!(previous.expire_time.unwrap().seconds <= now + 60);
    let new = admin.with_token(Some(rotated.secret)).unwrap();
    new.create_policy_goal(create_goal("by-successor")).await.unwrap();
    old.get_policy_goal("policyGoals/by-successor").await.unwrap();
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(30), stream.message())
            .await
            .unwrap()
        {
            Ok(_) => {}
            Err(s) => break s,
        }
    };
    assert_eq!(ended.code(), Code::Unauthenticated, "{ended:?}");
    assert!(matches!(
        old.get_policy_goal("policyGoals/by-successor").await,
        Err(Error::Unauthenticated { .. })
    ));

    // No grace: revoked at once. A revoked token cannot be rotated; unknown names and long
    // grace periods are refused.
    let again = admin
        .rotate_token(successor.name.clone(), Some(Duration::ZERO))
        .await
        .unwrap();
    assert!(again.previous.unwrap().revoke_time.is_some());
    assert!(matches!(
        new.get_policy_goal("policyGoals/by-successor").await,
        Err(Error::Unauthenticated { .. })
    ));
    assert_eq!(
        registry_e2e::precondition(admin.rotate_token(successor.name.clone(), None).await),
        "TOKEN_INVALID"
    );
    assert!(matches!(
        admin.rotate_token("tokens/zzzzzzzzzzzz", None).await,
        Err(Error::NotFound { .. })
    ));
    assert_eq!(
        registry_e2e::violations(
            admin
                .rotate_token(again.token.unwrap().name, Some(Duration::from_secs(31 * 86_400)))
                .await
        ),
        ["grace_period"]
    );
    // Editors may not rotate.
    let (_, editor) = app.client_with_role(Role::Editor).await;
    assert!(matches!(
        editor.rotate_token(old_name, None).await,
        Err(Error::PermissionDenied { .. })
    ));
}

fn create_goal(id: &str) -> pb::CreatePolicyGoalRequest {
    create(id, goal("G", pb::Pillar::IndustrialResurgence))
}

/// A value the database refuses reaches the client as INVALID_ARGUMENT without schema detail:
/// neither the constraint's name nor the table's is in the status, its details or the error.
#[tokio::test]
async fn database_constraint_names_never_reach_clients() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "ALTER TABLE policy_goals ADD CONSTRAINT internal_title_rule_xyz CHECK (title <> 'Refused by the schema')",
    )
    .execute(app.pool())
    .await
    .unwrap();
    let refused = app
        .client
        .create_policy_goal(create(
            "refused",
            goal("Refused by the schema", pb::Pillar::IndustrialResurgence),
        ))
        .await;
    let err = match refused {
        Err(e @ Error::InvalidArgument { .. }) => e,
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    };
    let shown = format!("{err} {err:?}");
    for secret in ["internal_title_rule_xyz", "policy_goals", "23514"] {
        assert!(!shown.contains(secret), "{secret} reached the client: {shown}");
    }
    // Nothing was stored.
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM policy_goals")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
}
