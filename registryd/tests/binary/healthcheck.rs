//! The container-facing commands of the real binary: `registryd healthcheck` (the Docker
//! HEALTHCHECK) exits 0 only for a SERVING server, and `serve --metrics-listen` serves
//! `/metrics`, where the health checks show up.

use std::process::Command;

use http_body_util::BodyExt;
use registry_e2e::fresh_database_url;

use crate::helpers::{Registryd, registryd, run};

fn healthcheck(args: &[&str]) -> Command {
    let mut cmd = registryd();
    cmd.arg("healthcheck").args(args);
    cmd
}

async fn get(addr: &str, path: &str) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = http::Request::get(path)
        .header(http::header::HOST, addr)
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthcheck_exit_codes_and_metrics_endpoint_of_serve() {
    let url = fresh_database_url("registry_hc");
    let mut cmd = registryd();
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--database-url",
        &url,
    ]);
    let mut proc = Registryd::spawn(cmd);
    let addr = proc
        .wait_for("registryd listening on")
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let metrics_url = proc.wait_for("registryd metrics on");
    let metrics_addr = metrics_url
        .strip_prefix("http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .expect("http://ADDR/metrics")
        .to_owned();

    let ok = run(healthcheck(&["--endpoint", &format!("http://{addr}")])).await;
    assert!(ok.status.success());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "SERVING");

    // The endpoint may also come from the environment, as in the image.
    let mut from_env = healthcheck(&[]);
    from_env.env("REGISTRY_HEALTHCHECK_ENDPOINT", format!("http://{addr}"));
    assert!(run(from_env).await.status.success());

    // An unknown service, and nothing listening: exit 1.
    let unknown = run(healthcheck(&[
        "--endpoint",
        &format!("http://{addr}"),
        "--service",
        "no.such.Service",
    ]))
    .await;
    assert_eq!(unknown.status.code(), Some(1));
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let down = run(healthcheck(&[
        "--endpoint",
        &format!("http://{closed}"),
        "--timeout-secs",
        "2",
    ]))
    .await;
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("unhealthy"));

    // The health checks above are on /metrics.
    let (status, text) = get(&metrics_addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        text.contains(
            r#"grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 2"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="NOT_FOUND"} 1"#),
        "{text}"
    );

    let status = proc.terminate().await;
    assert!(status.success(), "{status:?}");
}
