//! Health, reflection and graceful shutdown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use registry_e2e::{TestApp, create, goal, pb};
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient};

async fn channel(app: &TestApp) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.addr))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_reports_serving_overall_and_per_service() {
    let app = TestApp::spawn().await;
    let mut health = HealthClient::new(channel(&app).await);
    for service in ["", "motie.registry.v1.PolicyGoalService"] {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(r.status, ServingStatus::Serving as i32, "{service:?}");
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "no.such.Service".into(),
        })
        .await;
    assert_eq!(unknown.unwrap_err().code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn reflection_lists_and_describes_the_services() {
    use tokio_stream::StreamExt;
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let app = TestApp::spawn().await;
    let mut client = ServerReflectionClient::new(channel(&app).await);
    let requests = tokio_stream::iter(vec![
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        },
        ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::FileContainingSymbol(
                "motie.registry.v1.PolicyGoalService".into(),
            )),
        },
    ]);
    let mut responses = client.server_reflection_info(requests).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list")
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["motie.registry.v1.PolicyGoalService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
    let Some(MessageResponse::FileDescriptorResponse(files)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("expected file descriptors")
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn shutdown_drains_and_reports_not_serving() {
    let mut app = TestApp::spawn_with(registry_server::ServerOptions {
        drain_timeout: std::time::Duration::from_millis(200),
        ..Default::default()
    })
    .await;
    app.client
        .create_policy_goal(create("before", goal("Before", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
    let mut health = HealthClient::new(channel(&app).await);
    let mut watch = health
        .watch(HealthCheckRequest { service: String::new() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        watch.message().await.unwrap().unwrap().status,
        ServingStatus::Serving as i32
    );
    app.stop().await.unwrap();
    // The watcher saw NOT_SERVING, then its stream ended with UNAVAILABLE once the drain
    // window closed (instead of holding the server open forever).
    let mut saw_not_serving = false;
    let end = loop {
        match watch.message().await {
            Ok(Some(m)) => saw_not_serving |= m.status == ServingStatus::NotServing as i32,
            Ok(None) => break tonic::Code::Ok,
            Err(s) => break s.code(),
        }
    };
    assert!(saw_not_serving, "health went NOT_SERVING during shutdown");
    assert_eq!(end, tonic::Code::Unavailable);
    // The acknowledged write is durable.
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM policy_goals")
        .fetch_one(app.pool())
        .await
        .unwrap();
    assert_eq!(n, 1);
}
