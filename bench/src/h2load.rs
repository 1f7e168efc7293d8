//! An h2load-style load: a few HTTP/2 connections (`--h2-connections`, 8) with many streams
//! each (`--concurrency` workers spread over them: 64 → 8 per connection), every request the
//! same pre-encoded gRPC message posted over raw `h2` — no tonic client, no per-call
//! encoding — so the load generator costs as little as h2load's (which is not installed
//! here). Compared: `grpc.health.v1.Health/Check` (`h2-health`) and `GetPolicyGoal` of one
//! goal (`h2-get`), the figure of issue 18 (GetPolicyGoal ≥ 0.6 × Check).
//!
//! The equivalent h2load command (with `get.bin` the 5-byte gRPC prefix and the encoded
//! request):
//!
//! ```sh
//! h2load -n 100000 -c 8 -m 8 -H 'content-type: application/grpc' -H 'te: trailers' \
//!   -H "authorization: Bearer $TOKEN" -d get.bin \
//!   http://127.0.0.1:50051/motie.registry.v1.PolicyGoalService/GetPolicyGoal
//! ```

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use h2::client::SendRequest;
use registry_client::pb;

use crate::runner::Op;

/// One call, pre-encoded: its path, headers and framed message.
#[derive(Clone)]
struct Call {
    uri: http::Uri,
    authorization: Option<http::HeaderValue>,
    body: Bytes,
}

/// A gRPC message frame: uncompressed flag, big-endian length, the message.
fn frame(msg: &impl prost::Message) -> Bytes {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(5 + body.len());
    out.push(0);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(&body);
    out.into()
}

/// HTTP/2 connections to the server, shared by the workers of an [`Op`].
#[derive(Clone)]
pub struct H2Pool {
    conns: Vec<SendRequest<Bytes>>,
    authority: String,
    token: String,
}

impl H2Pool {
    /// Opens `n` connections to `endpoint` (`http://host:port`).
    pub async fn connect(endpoint: &str, token: &str, n: usize) -> anyhow::Result<H2Pool> {
        let authority = endpoint
            .strip_prefix("http://")
            .context("the h2 load needs a plaintext http:// endpoint")?
            .trim_end_matches('/')
            .to_owned();
        let mut conns = Vec::new();
        for _ in 0..n.max(1) {
            let tcp = tokio::net::TcpStream::connect(&authority)
                .await
                .with_context(|| format!("cannot connect to {authority}"))?;
            tcp.set_nodelay(true)?;
            let (send, conn) = h2::client::Builder::new()
                .initial_window_size(1 << 20)
                .initial_connection_window_size(1 << 24)
                .handshake(tcp)
                .await?;
            tokio::spawn(async move {
                let _ = conn.await;
            });
            conns.push(send);
        }
        Ok(H2Pool {
            conns,
            authority,
            token: token.to_owned(),
        })
    }

    fn call(&self, path: &str, authorized: bool, body: Bytes) -> anyhow::Result<Call> {
        Ok(Call {
            uri: format!("http://{}{path}", self.authority).parse()?,
            authorization: if authorized {
                Some(format!("Bearer {}", self.token).parse()?)
            } else {
                None
            },
            body,
        })
    }

    /// `grpc.health.v1.Health/Check` of the server (`""`).
    pub fn health(&self) -> anyhow::Result<Op> {
        let msg = tonic_health::pb::HealthCheckRequest { service: String::new() };
        let call = self.call("/grpc.health.v1.Health/Check", false, frame(&msg))?;
        Ok(self.op(call))
    }

    /// `GetPolicyGoal` of `name`, every time (as h2load posts one body).
    pub fn get(&self, name: &str) -> anyhow::Result<Op> {
        let msg = pb::GetPolicyGoalRequest {
            name: name.to_owned(),
            ..Default::default()
        };
        let call = self.call("/motie.registry.v1.PolicyGoalService/GetPolicyGoal", true, frame(&msg))?;
        Ok(self.op(call))
    }

    fn op(&self, call: Call) -> Op {
        let conns = Arc::new(self.conns.clone());
        let call = Arc::new(call);
        Arc::new(move |w| {
            let send = conns[w % conns.len()].clone();
            let call = call.clone();
            Box::pin(async move { one(send, &call).await.map_err(|e| e.to_string()) })
        })
    }
}

/// One call on `send`'s connection: the request, the whole response, its `grpc-status`.
async fn one(send: SendRequest<Bytes>, call: &Call) -> anyhow::Result<()> {
    let mut send = send.ready().await?;
    let mut req = http::Request::post(call.uri.clone())
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())?;
    if let Some(a) = &call.authorization {
        req.headers_mut().insert(http::header::AUTHORIZATION, a.clone());
    }
    let (resp, mut stream) = send.send_request(req, false)?;
    stream.send_data(call.body.clone(), true)?;
    let resp = resp.await?;
    let status = resp.headers().get("grpc-status").cloned();
    let mut body = resp.into_body();
    let mut got = 0;
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        got += chunk.len();
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let status = match status {
        Some(s) => Some(s),
        None => body.trailers().await?.and_then(|t| t.get("grpc-status").cloned()),
    };
    match status.as_ref().map(http::HeaderValue::as_bytes) {
        Some(b"0") if got > 0 => Ok(()),
        other => anyhow::bail!("grpc-status {other:?} after {got} bytes"),
    }
}

/// The gRPC paths and bodies the real h2load posts (see the module documentation).
const HEALTH_PATH: &str = "/grpc.health.v1.Health/Check";
const GET_PATH: &str = "/motie.registry.v1.PolicyGoalService/GetPolicyGoal";

/// What the real `h2load` (nghttp2) measured, alternating Check and Get `rounds` times.
#[derive(Debug, Default)]
pub struct External {
    /// req/s of each round: (Check, Get).
    pub rounds: Vec<(f64, f64)>,
    /// The command line of the Get run (token elided).
    pub command: String,
}

impl External {
    /// Median of the Check and of the Get rates.
    pub fn medians(&self) -> (f64, f64) {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        };
        (
            median(self.rounds.iter().map(|r| r.0).collect()),
            median(self.rounds.iter().map(|r| r.1).collect()),
        )
    }
}

/// The shape of an h2load run: `requests` requests over `connections` connections ×
/// `streams` streams, Check then Get, `rounds` times.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub requests: u64,
    pub connections: usize,
    pub streams: usize,
    pub rounds: usize,
}

/// Runs `program` (h2load) against `endpoint` as `shape` says: Check, then `GetPolicyGoal`
/// of `goal`.
/// Each run must answer every request with HTTP 200 (the Get's grpc-status is checked by
/// [`H2Pool::get`] before: h2load does not read trailers).
pub async fn external(
    program: &std::path::Path,
    endpoint: &str,
    token: &str,
    goal: &str,
    shape: Shape,
) -> anyhow::Result<External> {
    let Shape {
        requests,
        connections,
        streams,
        rounds,
    } = shape;
    let dir = std::env::temp_dir().join(format!("registry-bench-h2load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let health = dir.join("health.bin");
    let get = dir.join("get.bin");
    std::fs::write(
        &health,
        frame(&tonic_health::pb::HealthCheckRequest { service: String::new() }),
    )?;
    std::fs::write(
        &get,
        frame(&pb::GetPolicyGoalRequest {
            name: goal.to_owned(),
            ..Default::default()
        }),
    )?;
    let base = endpoint.trim_end_matches('/');
    let run = |body: &std::path::Path, path: &str, authorized: bool| {
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg("-n")
            .arg(requests.to_string())
            .arg("-c")
            .arg(connections.to_string())
            .arg("-m")
            .arg(streams.to_string())
            .args(["-H", "content-type: application/grpc", "-H", "te: trailers"]);
        if authorized {
            cmd.arg("-H").arg(format!("authorization: Bearer {token}"));
        }
        cmd.arg("-d").arg(body).arg(format!("{base}{path}"));
        cmd
    };
    let command = format!(
        "{} -n {requests} -c {connections} -m {streams} -H 'content-type: application/grpc' -H 'te: trailers' \
         -H \"authorization: Bearer $TOKEN\" -d get.bin {base}{GET_PATH}",
        program.display()
    );
    let mut out = External {
        rounds: Vec::new(),
        command,
    };
    for _ in 0..rounds.max(1) {
        let check = rate(run(&health, HEALTH_PATH, false), requests).await?;
        let got = rate(run(&get, GET_PATH, true), requests).await?;
        out.rounds.push((check, got));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(out)
}

/// The number before `suffix` in the comma-separated line of h2load's summary that starts
/// with `line` (`requests: … 100000 succeeded, …` → `figure(text, "requests:", " succeeded")`).
fn figure<T: std::str::FromStr>(text: &str, line: &str, suffix: &str) -> Option<T> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(line))
        .and_then(|l| l.split(',').find_map(|p| p.trim().strip_suffix(suffix)))
        .and_then(|n| n.trim().parse().ok())
}

/// Runs one h2load command and reads its `finished in …, N req/s` line; every request must
/// have succeeded with a 2xx.
async fn rate(mut cmd: tokio::process::Command, requests: u64) -> anyhow::Result<f64> {
    let output = cmd.output().await.context("cannot run h2load")?;
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "h2load failed: {text}");
    let succeeded = figure::<u64>(&text, "requests:", " succeeded");
    let twoxx = figure::<u64>(&text, "status codes:", " 2xx");
    anyhow::ensure!(
        succeeded == Some(requests) && twoxx == Some(requests),
        "h2load: not every request succeeded: {text}"
    );
    figure::<f64>(&text, "finished in", " req/s").with_context(|| format!("h2load printed no rate: {text}"))
}
