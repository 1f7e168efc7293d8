//! gRPC-Web: what a browser sends (HTTP/1.1, `application/grpc-web+proto`, framed protobuf),
//! on the same port as native gRPC, authenticated like it, behind CORS for configured origins.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use prost::Message;
use registry_e2e::{TestApp, create, goal, pb};
use registry_server::ServerOptions;

const ALLOWED: &str = "https://dashboard.example.go.kr";
const GET_GOAL: &str = "/motie.registry.v1.PolicyGoalService/GetPolicyGoal";

async fn app() -> TestApp {
    TestApp::spawn_with(ServerOptions {
        cors_allowed_origins: vec![registry_server::web::parse_origin(ALLOWED).unwrap()],
        ..Default::default()
    })
    .await
}

/// What came back over HTTP/1.1.
struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends one HTTP/1.1 request on a new connection.
async fn http1(app: &TestApp, req: http::request::Builder, body: Bytes) -> Reply {
    let stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = req
        .header(http::header::HOST, app.addr.to_string())
        .body(Full::new(body))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_11);
    let (parts, body) = resp.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// A gRPC-Web call of `path` with `msg`, optionally with a token and an `origin`.
async fn grpc_web(app: &TestApp, path: &str, msg: &impl Message, token: Option<&str>, origin: Option<&str>) -> Reply {
    let payload = msg.encode_to_vec();
    let mut framed = BytesMut::new();
    framed.put_u8(0);
    framed.put_u32(u32::try_from(payload.len()).unwrap());
    framed.put_slice(&payload);
    let mut req = http::Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(http::header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1");
    if let Some(t) = token {
        req = req.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
    }
    if let Some(o) = origin {
        req = req.header(http::header::ORIGIN, o);
    }
    http1(app, req, framed.freeze()).await
}

/// The frames of a gRPC-Web response body: data messages, and the trailers parsed from the
/// trailer frame (flag 0x80) as `name: value` lines.
fn frames(mut body: Bytes) -> (Vec<Bytes>, Vec<(String, String)>) {
    let (mut messages, mut trailers) = (Vec::new(), Vec::new());
    while body.has_remaining() {
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        let frame = body.split_to(len);
        if flag & 0x80 != 0 {
            for line in std::str::from_utf8(&frame)
                .unwrap()
                .split("\r\n")
                .filter(|l| !l.is_empty())
            {
                let (k, v) = line.split_once(':').unwrap();
                trailers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        } else {
            messages.push(frame);
        }
    }
    (messages, trailers)
}

fn trailer<'a>(trailers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    trailers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The call's gRPC status: in the trailer frame, or in the headers of a trailers-only answer.
fn grpc_status(reply: &Reply) -> String {
    let (_, trailers) = frames(reply.body.clone());
    trailer(&trailers, "grpc-status")
        .map(str::to_owned)
        .or_else(|| {
            reply
                .headers
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .expect("a grpc-status")
}

#[tokio::test]
async fn grpc_web_call_over_http1_is_answered_with_a_trailer_frame() {
    let app = app().await;
    let created = app
        .client
        .create_policy_goal(create(
            "web-goal",
            goal("Seen from a browser", pb::Pillar::IndustrialResurgence),
        ))
        .await
        .unwrap();

    let req = pb::GetPolicyGoalRequest {
        name: "policyGoals/web-goal".into(),
        read_time: None,
    };
    let reply = grpc_web(&app, GET_GOAL, &req, Some(&app.admin_token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers.get(http::header::CONTENT_TYPE).unwrap(),
        "application/grpc-web+proto"
    );
    assert!(reply.headers.contains_key("x-request-id"), "{:?}", reply.headers);
    let (messages, trailers) = frames(reply.body);
    assert_eq!(messages.len(), 1);
    let got = pb::PolicyGoal::decode(messages[0].clone()).unwrap();
    assert_eq!(got.name, "policyGoals/web-goal");
    assert_eq!(got.title, "Seen from a browser");
    assert_eq!(got.etag, created.etag);
    assert_eq!(trailer(&trailers, "grpc-status"), Some("0"), "{trailers:?}");

    // An application error comes back the same way.
    let missing = pb::GetPolicyGoalRequest {
        name: "policyGoals/absent".into(),
        read_time: None,
    };
    let reply = grpc_web(&app, GET_GOAL, &missing, Some(&app.admin_token), None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(grpc_status(&reply), "5");
}

#[tokio::test]
async fn grpc_web_calls_are_authenticated_and_authorised() {
    let app = app().await;
    let req = pb::GetPolicyGoalRequest {
        name: "policyGoals/anything".into(),
        read_time: None,
    };
    // No token: UNAUTHENTICATED.
    let reply = grpc_web(&app, GET_GOAL, &req, None, Some(ALLOWED)).await;
    assert_eq!(grpc_status(&reply), "16");
    // A bad token: UNAUTHENTICATED.
    let reply = grpc_web(
        &app,
        GET_GOAL,
        &req,
        Some("rgy_abcdefghijkl_notthesecretnotthesecretnotthesecret"),
        None,
    )
    .await;
    assert_eq!(grpc_status(&reply), "16");
    // A viewer may not write: PERMISSION_DENIED, and nothing is created.
    let (_, viewer_token) = app
        .store
        .create_token(
            registry_server::domain::enums::Role::Viewer,
            "web viewer",
            None,
            &registry_e2e::system_ctx(),
        )
        .await
        .unwrap();
    let reply = grpc_web(
        &app,
        "/motie.registry.v1.PolicyGoalService/CreatePolicyGoal",
        &create("web-denied", goal("Denied", pb::Pillar::IndustrialResurgence)),
        Some(&viewer_token),
        None,
    )
    .await;
    assert_eq!(grpc_status(&reply), "7");
    assert!(app.client.get_policy_goal("policyGoals/web-denied").await.is_err());
}

async fn preflight(app: &TestApp, origin: &str) -> Reply {
    let req = http::Request::builder()
        .method(Method::OPTIONS)
        .uri(GET_GOAL)
        .header(http::header::ORIGIN, origin)
        .header(http::header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            http::header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization,content-type,x-grpc-web",
        );
    http1(app, req, Bytes::new()).await
}

#[tokio::test]
async fn cors_admits_only_configured_origins() {
    let app = app().await;

    let allowed = preflight(&app, ALLOWED).await;
    assert!(allowed.status.is_success(), "{}", allowed.status);
    assert_eq!(
        allowed.headers.get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&HeaderValue::from_static(ALLOWED))
    );
    let allowed_headers = allowed
        .headers
        .get(http::header::ACCESS_CONTROL_ALLOW_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    for h in ["authorization", "content-type", "x-grpc-web", "traceparent"] {
        assert!(allowed_headers.contains(h), "{h} in {allowed_headers}");
    }

    let refused = preflight(&app, "https://evil.example").await;
    assert!(
        !refused.headers.contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{:?}",
        refused.headers
    );

    // The actual call from the allowed origin may read the status and request id.
    let req = pb::GetPolicyGoalRequest {
        name: "policyGoals/absent".into(),
        read_time: None,
    };
    let reply = grpc_web(&app, GET_GOAL, &req, Some(&app.admin_token), Some(ALLOWED)).await;
    assert_eq!(
        reply.headers.get(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(&HeaderValue::from_static(ALLOWED))
    );
    let exposed = reply
        .headers
        .get(http::header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        exposed.contains("grpc-status") && exposed.contains("x-request-id"),
        "{exposed}"
    );
    assert_eq!(grpc_status(&reply), "5");
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let app = TestApp::spawn().await;
    let reply = preflight(&app, ALLOWED).await;
    assert!(
        !reply.headers.contains_key(http::header::ACCESS_CONTROL_ALLOW_ORIGIN),
        "{:?}",
        reply.headers
    );
    // Native gRPC on the same port still works.
    assert!(app.client.get_policy_goal("policyGoals/none").await.is_err());
    app.client
        .create_policy_goal(create("native", goal("Native", pb::Pillar::IndustrialResurgence)))
        .await
        .unwrap();
}
