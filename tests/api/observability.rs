//! Request ids and Prometheus metrics, through real gRPC calls and a real scrape.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use registry_e2e::{TestApp, create, goal, pb};
use registry_server::{ServerOptions, observe::MetricsListener};
use tonic::{Request, metadata::MetadataMap, transport::Channel};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn channel(app: &TestApp) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn request_id(md: &MetadataMap) -> String {
    md.get("x-request-id")
        .expect("x-request-id in the response metadata")
        .to_str()
        .unwrap()
        .to_owned()
}

fn with_id<T>(msg: T, id: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.metadata_mut().insert("x-request-id", id.parse().unwrap());
    req
}

fn with_token<T>(mut req: Request<T>, token: &str) -> Request<T> {
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

fn assert_uuid(id: &str) {
    assert!(
        uuid::Uuid::parse_str(id).is_ok(),
        "expected a generated UUID, got {id:?}"
    );
}

#[tokio::test]
async fn request_id_is_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let ch = channel(&app).await;
    let mut health = HealthClient::new(ch.clone());

    // Sent → echoed, on an unauthenticated open method.
    let resp = health
        .check(with_id(HealthCheckRequest::default(), "client-req-42"))
        .await
        .unwrap();
    assert_eq!(request_id(resp.metadata()), "client-req-42");

    // Absent → a fresh UUID each time.
    let a = request_id(health.check(HealthCheckRequest::default()).await.unwrap().metadata());
    let b = request_id(health.check(HealthCheckRequest::default()).await.unwrap().metadata());
    assert_uuid(&a);
    assert_uuid(&b);
    assert_ne!(a, b);

    // Not acceptable (too long) → replaced by a UUID.
    let long = "x".repeat(200);
    let resp = health
        .check(with_id(HealthCheckRequest::default(), &long))
        .await
        .unwrap();
    assert_uuid(&request_id(resp.metadata()));

    // Authenticated success and an application error both carry it.
    let mut goals = pb::policy_goal_service_client::PolicyGoalServiceClient::new(ch.clone());
    let created = goals
        .create_policy_goal(with_token(
            with_id(
                create("req-id-goal", goal("Request ids", pb::Pillar::IndustrialResurgence)),
                "create-1",
            ),
            &app.admin_token,
        ))
        .await
        .unwrap();
    assert_eq!(request_id(created.metadata()), "create-1");
    let missing = goals
        .get_policy_goal(with_token(
            with_id(
                pb::GetPolicyGoalRequest {
                    name: "policyGoals/nope".into(),
                    ..Default::default()
                },
                "get-missing",
            ),
            &app.admin_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(request_id(missing.metadata()), "get-missing");

    // Refused by authentication: still answered with the id.
    let refused = goals
        .get_policy_goal(with_id(
            pb::GetPolicyGoalRequest {
                name: "policyGoals/req-id-goal".into(),
                ..Default::default()
            },
            "no-token",
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    assert_eq!(request_id(refused.metadata()), "no-token");
}

/// GET `path` from `addr` over plain HTTP/1.1: status and body.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, addr.to_string())
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the sample `name{labels}` (labels exactly as rendered), if present.
pub(crate) fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

fn handled(service: &str, method: &str, code: &str) -> String {
    format!(r#"grpc_server_handled_total{{grpc_service="{service}",grpc_method="{method}",grpc_code="{code}"}}"#)
}

const GOALS: &str = "motie.registry.v1.PolicyGoalService";

#[tokio::test]
async fn metrics_endpoint_counts_calls_by_method_and_code() {
    let metrics = MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let metrics_addr = metrics.local_addr().unwrap();
    let app = TestApp::spawn_with(ServerOptions {
        metrics_listener: Some(metrics),
        ..Default::default()
    })
    .await;

    // Before any call: the endpoint answers, the gauges are there.
    let (status, text) = http_get(metrics_addr, "/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert!(
        sample(&text, "registry_db_pool_connections").is_some_and(|v| v >= 1.0),
        "{text}"
    );
    assert!(sample(&text, "registry_db_pool_idle_connections").is_some(), "{text}");
    assert_eq!(sample(&text, "registry_db_pool_max_connections"), Some(8.0), "{text}");
    assert!(sample(&text, "registry_change_feed_watchers").is_some(), "{text}");
    assert!(sample(&text, "registry_change_feed_lag").is_some(), "{text}");

    // Some calls: 2 creates (OK), 1 get of a missing goal (NOT_FOUND), 1 get without a token
    // (UNAUTHENTICATED), 3 health checks (OK).
    for id in ["m-one", "m-two"] {
        app.client
            .create_policy_goal(create(id, goal("Metrics", pb::Pillar::IndustrialResurgence)))
            .await
            .unwrap();
    }
    let err = app.client.get_policy_goal("policyGoals/absent").await.unwrap_err();
    assert!(matches!(err, registry_e2e::Error::NotFound { .. }), "{err:?}");
    let anonymous = app.client.with_token(None).unwrap();
    assert!(anonymous.get_policy_goal("policyGoals/m-one").await.is_err());
    let mut health = HealthClient::new(channel(&app).await);
    for _ in 0..3 {
        health.check(HealthCheckRequest::default()).await.unwrap();
    }

    let (status, text) = http_get(metrics_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        sample(&text, &handled(GOALS, "CreatePolicyGoal", "OK")),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &handled(GOALS, "GetPolicyGoal", "NOT_FOUND")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &handled(GOALS, "GetPolicyGoal", "UNAUTHENTICATED")),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, &handled("grpc.health.v1.Health", "Check", "OK")),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!(
                r#"grpc_server_handling_seconds_count{{grpc_service="{GOALS}",grpc_method="CreatePolicyGoal",grpc_code="OK"}}"#
            )
        ),
        Some(2.0),
        "{text}"
    );
    assert!(text.contains("# TYPE grpc_server_handling_seconds histogram"), "{text}");
    assert!(
        text.contains(&format!(
            r#"grpc_server_handling_seconds_bucket{{grpc_service="{GOALS}",grpc_method="CreatePolicyGoal",grpc_code="OK",le="+Inf"}} 2"#
        )),
        "{text}"
    );
    // Nothing is in flight between calls.
    assert_eq!(
        sample(
            &text,
            &format!(r#"grpc_server_in_flight{{grpc_service="{GOALS}",grpc_method="CreatePolicyGoal"}}"#)
        ),
        Some(0.0),
        "{text}"
    );
    // Two creates were logged as changes; the log head is at least there.
    assert!(
        sample(&text, "registry_change_log_sequence").is_some_and(|v| v >= 2.0),
        "{text}"
    );

    // Anything else is not found.
    let (status, _) = http_get(metrics_addr, "/other").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn servers_in_one_process_have_their_own_metrics() {
    let (ma, mb) = (
        MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap(),
        MetricsListener::bind("127.0.0.1:0".parse().unwrap()).unwrap(),
    );
    let (addr_a, addr_b) = (ma.local_addr().unwrap(), mb.local_addr().unwrap());
    let a = TestApp::spawn_with(ServerOptions {
        metrics_listener: Some(ma),
        ..Default::default()
    })
    .await;
    let _b = TestApp::spawn_with(ServerOptions {
        metrics_listener: Some(mb),
        ..Default::default()
    })
    .await;
    a.client
        .create_policy_goal(create("only-a", goal("Only on A", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let series = handled(GOALS, "CreatePolicyGoal", "OK");
    assert_eq!(sample(&http_get(addr_a, "/metrics").await.1, &series), Some(1.0));
    assert_eq!(sample(&http_get(addr_b, "/metrics").await.1, &series), None);
}

#[tokio::test]
async fn healthcheck_function_reports_serving() {
    let app = TestApp::spawn().await;
    let status = registryd::healthcheck::check(
        &format!("http://{}", app.addr),
        "",
        std::time::Duration::from_secs(5),
        None,
    )
    .await
    .unwrap();
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving);
}
