//! Health, reflection and graceful shutdown.

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

/// Shutdown while 16 writers and 4 watchers are busy: every acknowledged write is stored,
/// every refused one is UNAVAILABLE and stored nowhere, and watchers end cleanly with
/// UNAVAILABLE after receiving a gapless prefix of the change log.
#[tokio::test]
async fn shutdown_under_load_cuts_nothing_half_way() {
    use std::sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    };

    use registry_client::{Error, RegistryClient, RetryPolicy};

    let mut app = TestApp::spawn_with(registry_server::ServerOptions {
        drain_timeout: std::time::Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let client = RegistryClient::builder(format!("http://{}", app.addr))
        .token(app.admin_token.clone())
        .retry(RetryPolicy::none())
        .connect()
        .await
        .unwrap();
    let mut watchers = Vec::new();
    for _ in 0..4 {
        let mut stream = client
            .watch_changes_once(pb::WatchChangesRequest {
                after_sequence: Some(0),
                name_prefix: "policyGoals/".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        watchers.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            loop {
                match stream.message().await {
                    Ok(Some(m)) => {
                        if let Some(pb::watch_changes_response::Event::Change(c)) = m.event {
                            seqs.push(c.sequence);
                        }
                    }
                    Ok(None) => return (seqs, tonic::Code::Ok),
                    Err(s) => return (seqs, s.code()),
                }
            }
        }));
    }
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let refused = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..16 {
        let (c, acked, refused, stop) = (client.clone(), acked.clone(), refused.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("w{w}-{n}");
                n += 1;
                match c
                    .create_policy_goal(create(&id, goal("Load", pb::Pillar::IndustrialResurgence)))
                    .await
                {
                    Ok(g) => acked.lock().unwrap().push(g.name),
                    Err(Error::Unavailable { .. }) => {
                        refused.lock().unwrap().push(format!("policyGoals/{id}"));
                        break;
                    }
                    Err(e) => panic!("a write was cut with {e:?}"),
                }
            }
        }));
    }
    // Shut down once writes are flowing.
    while acked.lock().unwrap().len() < 100 {
        tokio::task::yield_now().await;
    }
    app.stop().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let stored: std::collections::BTreeSet<String> =
        sqlx::query_scalar::<_, String>("SELECT 'policyGoals/' || id FROM policy_goals")
            .fetch_all(app.pool())
            .await
            .unwrap()
            .into_iter()
            .collect();
    let acked: std::collections::BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(acked.is_subset(&stored), "every acknowledged write is stored");
    for r in refused.lock().unwrap().iter() {
        assert!(!stored.contains(r), "{r} was refused but stored");
    }
    assert_eq!(stored.len(), acked.len(), "nothing stored that was not acknowledged");
    let (min_seq,): (i64,) =
        sqlx::query_as("SELECT coalesce(min(sequence), 0) FROM change_log WHERE resource_name LIKE 'policyGoals/%'")
            .fetch_one(app.pool())
            .await
            .unwrap();
    let all_goal_seqs: Vec<i64> = sqlx::query_scalar(
        "SELECT sequence FROM change_log WHERE resource_name LIKE 'policyGoals/%' ORDER BY sequence",
    )
    .fetch_all(app.pool())
    .await
    .unwrap();
    for w in watchers {
        let (seqs, end) = w.await.unwrap();
        assert_eq!(end, tonic::Code::Unavailable, "watchers end cleanly");
        assert!(seqs.first().is_none_or(|s| *s == min_seq));
        assert_eq!(
            seqs,
            all_goal_seqs[..seqs.len()],
            "a gapless, ordered prefix of the log"
        );
    }
}
