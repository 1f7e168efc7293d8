//! Observability of every RPC: a request id, a tracing span, one log line and Prometheus
//! metrics, plus the `/metrics` HTTP endpoint on a port of its own.
//!
//! - `x-request-id`: taken from the request when it is 1–128 visible ASCII characters, else a
//!   new UUID v4; it is on the RPC's span (so every log line of the call carries it), in the
//!   request extensions ([`RequestId`]) and in the response metadata (headers, so it is there
//!   for errors too).
//! - One log line per RPC, target `registry::rpc`, level INFO, when the call ends (for a
//!   stream: when the stream ends): `method`, `code`, `latency_ms`, `actor` (the token id, `-`
//!   when unauthenticated), `request_id` and `trace_id` (W3C `traceparent`, see
//!   [`crate::trace_context`]). Headers are never logged.
//! - Metrics ([`Metrics`], one Prometheus recorder per server, so servers in one process do not
//!   share counters): `grpc_server_handled_total` and `grpc_server_handling_seconds` by
//!   `grpc_service`, `grpc_method` and `grpc_code`; `grpc_server_in_flight` by service and
//!   method; database pool and change-feed gauges refreshed on each scrape.

use std::{
    convert::Infallible,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, Mutex, OnceLock},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::Full;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::{Store, auth, domain::Actor, feed::Feed};

/// The metadata key of the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// The log target of the per-RPC line (`RUST_LOG=registry::rpc=warn` silences it).
pub const RPC_LOG_TARGET: &str = "registry::rpc";

const HANDLED: &str = "grpc_server_handled_total";
const HANDLING_SECONDS: &str = "grpc_server_handling_seconds";
const IN_FLIGHT: &str = "grpc_server_in_flight";
const POOL_SIZE: &str = "registry_db_pool_connections";
const POOL_IDLE: &str = "registry_db_pool_idle_connections";
const POOL_MAX: &str = "registry_db_pool_max_connections";
const WATCHERS: &str = "registry_change_feed_watchers";
const FEED_POSITION: &str = "registry_change_feed_position";
const LOG_HEAD: &str = "registry_change_log_sequence";
const FEED_LAG: &str = "registry_change_feed_lag";
const CACHE_ENTRIES: &str = "registry_read_cache_entries";
const CACHE_BYTES: &str = "registry_read_cache_bytes";

/// Histogram buckets of `grpc_server_handling_seconds` (streams can last long).
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
];

/// Open methods that get their own metric labels (besides every method in
/// [`auth::METHOD_ROLES`]); any other path is labelled `unknown`, so arbitrary paths cannot
/// grow the set of time series.
const OPEN_METHODS: &[&str] = &[
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
    "/grpc.health.v1.Health/List",
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
];

/// The request id of the current RPC, in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether a client-sent request id is used as is.
pub fn is_acceptable_request_id(id: &str) -> bool {
    crate::domain::is_request_id(id)
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|s| is_acceptable_request_id(s))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// `grpc_service` and `grpc_method` labels of a request path.
pub fn method_labels(path: &str) -> (&'static str, &'static str) {
    auth::METHOD_ROLES
        .iter()
        .map(|(p, _)| p.as_str())
        .chain(OPEN_METHODS.iter().copied())
        .find(|p| *p == path)
        .and_then(|p| p.strip_prefix('/')?.split_once('/'))
        .unwrap_or(("unknown", "unknown"))
}

/// The canonical name of a gRPC status code (`OK`, `NOT_FOUND`, …).
pub fn code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

const CODE_CANCELLED: i32 = 1;
const CODE_UNKNOWN: i32 = 2;

fn grpc_status(headers: &HeaderMap) -> Option<i32> {
    headers.get("grpc-status")?.to_str().ok()?.trim().parse().ok()
}

/// A server's Prometheus recorder and the handle that renders it.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder, not installed globally: each server has its own.
    pub fn new() -> Metrics {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HANDLING_SECONDS.to_owned()), LATENCY_BUCKETS)
            .expect("the bucket list is not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        let m = Metrics {
            recorder: Arc::new(recorder),
            handle,
        };
        m.with(|| {
            describe_counter!(HANDLED, "RPCs completed, by service, method and gRPC status code.");
            describe_histogram!(
                HANDLING_SECONDS,
                metrics::Unit::Seconds,
                "Time from request to the end of the response (of the whole stream for streaming RPCs)."
            );
            describe_gauge!(IN_FLIGHT, "RPCs started and not yet finished.");
            describe_gauge!(POOL_SIZE, "Open database connections (idle and in use).");
            describe_gauge!(POOL_IDLE, "Idle database connections.");
            describe_gauge!(POOL_MAX, "Maximum database connections of the pool.");
            describe_gauge!(WATCHERS, "Open WatchChanges streams (and internal subscribers).");
            describe_gauge!(FEED_POSITION, "Last change-log sequence broadcast to watchers.");
            describe_gauge!(LOG_HEAD, "Highest committed change-log sequence.");
            describe_gauge!(
                FEED_LAG,
                "Committed changes not yet broadcast to watchers (change_log_sequence - change_feed_position)."
            );
            describe_gauge!(CACHE_ENTRIES, "Resources and tokens held by the read cache.");
            describe_gauge!(
                CACHE_BYTES,
                "Memory the read cache holds, in bytes (estimated: four times the values' JSON size: the values and their encoded answers)."
            );
        });
        m
    }

    fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&*self.recorder, f)
    }

    fn started(&self, (service, method): (&'static str, &'static str)) {
        self.with(|| gauge!(IN_FLIGHT, "grpc_service" => service, "grpc_method" => method).increment(1.0));
    }

    fn finished(&self, (service, method): (&'static str, &'static str), code: &'static str, elapsed: Duration) {
        self.with(|| {
            gauge!(IN_FLIGHT, "grpc_service" => service, "grpc_method" => method).decrement(1.0);
            counter!(HANDLED, "grpc_service" => service, "grpc_method" => method, "grpc_code" => code).increment(1);
            histogram!(HANDLING_SECONDS, "grpc_service" => service, "grpc_method" => method, "grpc_code" => code)
                .record(elapsed.as_secs_f64());
        });
    }

    /// Refreshes the pool and feed gauges, then renders the Prometheus text format.
    pub async fn render(&self, store: &Store, feed: &Feed) -> String {
        let pool = store.pool();
        let (size, idle, max) = (pool.size(), pool.num_idle(), pool.options().get_max_connections());
        let position = feed.position();
        let watchers = feed.watchers();
        let cache = store.cache().map(crate::store::cache::ReadCache::usage);
        // Bounded: a scrape must answer even when the database does not.
        let head = match tokio::time::timeout(Duration::from_secs(1), store.current_sequence()).await {
            Ok(Ok(head)) => Some(head),
            _ => None,
        };
        self.with(|| {
            gauge!(POOL_SIZE).set(f64::from(size));
            gauge!(POOL_IDLE).set(idle as f64);
            gauge!(POOL_MAX).set(f64::from(max));
            gauge!(WATCHERS).set(watchers as f64);
            gauge!(FEED_POSITION).set(position as f64);
            if let Some((entries, bytes)) = cache {
                gauge!(CACHE_ENTRIES).set(entries as f64);
                gauge!(CACHE_BYTES).set(bytes as f64);
            }
            if let Some(head) = head {
                gauge!(LOG_HEAD).set(head as f64);
                gauge!(FEED_LAG).set((head - position).max(0) as f64);
            }
        });
        self.handle.run_upkeep();
        self.handle.render()
    }
}

/// Where `/metrics` is served: a bound listener handed to [`crate::serve`] through
/// [`crate::ServerOptions`]. Cloning shares it; the first server started with it takes it.
#[derive(Debug, Clone)]
pub struct MetricsListener(Arc<Mutex<Option<std::net::TcpListener>>>);

impl MetricsListener {
    /// Binds `addr` (port 0 picks a free port; see [`MetricsListener::local_addr`]).
    pub fn bind(addr: SocketAddr) -> std::io::Result<MetricsListener> {
        MetricsListener::from_std(std::net::TcpListener::bind(addr)?)
    }

    /// Uses an already bound listener.
    pub fn from_std(listener: std::net::TcpListener) -> std::io::Result<MetricsListener> {
        listener.set_nonblocking(true)?;
        Ok(MetricsListener(Arc::new(Mutex::new(Some(listener)))))
    }

    /// The bound address (an error once a server has taken the listener).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self.0.lock().ok().as_deref().and_then(Option::as_ref) {
            Some(l) => l.local_addr(),
            None => Err(std::io::Error::other("the metrics listener is in use by a server")),
        }
    }

    pub(crate) fn take(&self) -> Option<std::net::TcpListener> {
        self.0.lock().ok()?.take()
    }
}

/// Serves `GET /metrics` on `listener` until `stop` is cancelled.
pub(crate) async fn serve_metrics(
    listener: TcpListener,
    metrics: Metrics,
    store: Store,
    feed: Feed,
    stop: CancellationToken,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = stop.cancelled() => break,
        };
        // Reap finished connections.
        while conns.try_join_next().is_some() {}
        let (metrics, store, feed) = (metrics.clone(), store.clone(), feed.clone());
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let (metrics, store, feed) = (metrics.clone(), store.clone(), feed.clone());
            async move { Ok::<_, Infallible>(metrics_response(&req, &metrics, &store, &feed).await) }
        });
        conns.spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "metrics connection ended with an error");
            }
        });
    }
    conns.abort_all();
}

async fn metrics_response<B>(req: &Request<B>, metrics: &Metrics, store: &Store, feed: &Feed) -> Response<Full<Bytes>> {
    let reply = |status: StatusCode, content_type: &'static str, body: String| {
        let mut resp = Response::new(Full::new(Bytes::from(body)));
        *resp.status_mut() = status;
        resp.headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        resp
    };
    match (req.method(), req.uri().path()) {
        (&http::Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(store, feed).await,
        ),
        (_, "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "use GET\n".into(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found; metrics are at /metrics\n".into(),
        ),
    }
}

/// Filled with the caller's token id by [`ActorCaptureLayer`] once authentication succeeded.
#[derive(Debug, Clone, Default)]
struct ActorSlot(Arc<OnceLock<String>>);

/// The outermost layer: request id, span, per-RPC log line and metrics.
#[derive(Debug, Clone, Default)]
pub struct ObserveLayer {
    metrics: Option<Metrics>,
}

impl ObserveLayer {
    /// Records metrics into `metrics` when given.
    pub fn new(metrics: Option<Metrics>) -> Self {
        ObserveLayer { metrics }
    }
}

impl<S> tower::Layer<S> for ObserveLayer {
    type Service = ObserveService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ObserveService {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ObserveService<S> {
    inner: S,
    metrics: Option<Metrics>,
}

impl<S, B, R> tower::Service<Request<B>> for ObserveService<S>
where
    S: tower::Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
    R: Body<Data = Bytes>,
{
    type Response = Response<ObservedBody<R>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = request_id(req.headers());
        // Acceptable ids and UUIDs are valid header values.
        let id_header = HeaderValue::from_str(&id).ok();
        if let Some(v) = &id_header {
            req.headers_mut().insert(REQUEST_ID_HEADER, v.clone());
        }
        req.extensions_mut().insert(RequestId(id.clone()));
        let actor = ActorSlot::default();
        req.extensions_mut().insert(actor.clone());
        let path = req.uri().path().to_owned();
        // `actor` is recorded by the auth layer once the caller is known.
        let span = tracing::info_span!(
            "rpc",
            method = %path,
            request_id = %id,
            trace_id = tracing::field::Empty,
            actor = tracing::field::Empty
        );
        // W3C trace context: continue the caller's trace (see trace_context.rs).
        let trace_id =
            crate::trace_context::attach(&span, crate::trace_context::TraceParent::from_headers(req.headers()));
        span.record("trace_id", trace_id.as_str());
        let labels = method_labels(&path);
        if let Some(m) = &self.metrics {
            m.started(labels);
        }
        let mut rpc = Rpc(Some(RpcState {
            start: Instant::now(),
            path,
            labels,
            request_id: id,
            trace_id,
            actor,
            metrics: self.metrics.clone(),
        }));
        let fut = {
            let _entered = span.enter();
            self.inner.call(req)
        };
        Box::pin(
            async move {
                match fut.await {
                    Ok(mut resp) => {
                        if let Some(v) = id_header {
                            resp.headers_mut().insert(REQUEST_ID_HEADER, v);
                        }
                        // A trailers-only response (every error) carries its status here.
                        if let Some(code) = grpc_status(resp.headers()) {
                            rpc.finish(code);
                        }
                        Ok(resp.map(|inner| ObservedBody { inner, rpc }))
                    }
                    Err(e) => {
                        rpc.finish(CODE_UNKNOWN);
                        Err(e)
                    }
                }
            }
            .instrument(span),
        )
    }
}

struct RpcState {
    start: Instant,
    path: String,
    labels: (&'static str, &'static str),
    request_id: String,
    trace_id: String,
    actor: ActorSlot,
    metrics: Option<Metrics>,
}

/// One RPC until its status is known; dropped before that (the client went away), it counts
/// as CANCELLED.
struct Rpc(Option<RpcState>);

impl Rpc {
    fn finish(&mut self, code: i32) {
        let Some(s) = self.0.take() else { return };
        let elapsed = s.start.elapsed();
        let code = code_name(code);
        if let Some(m) = &s.metrics {
            m.finished(s.labels, code, elapsed);
        }
        let actor = s.actor.0.get().map_or("-", String::as_str);
        let latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3;
        tracing::info!(
            target: RPC_LOG_TARGET,
            parent: None,
            method = %s.path,
            code = %code,
            latency_ms,
            actor = %actor,
            request_id = %s.request_id,
            trace_id = %s.trace_id,
            "rpc"
        );
    }
}

impl Drop for Rpc {
    fn drop(&mut self) {
        self.finish(CODE_CANCELLED);
    }
}

pin_project_lite::pin_project! {
    /// A response body that reports the RPC's status when its trailers (or its end) arrive.
    pub struct ObservedBody<B> {
        #[pin]
        inner: B,
        rpc: Rpc,
    }
}

impl<B: Body<Data = Bytes>> Body for ObservedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.rpc.finish(grpc_status(trailers).unwrap_or(CODE_UNKNOWN));
                }
            }
            Poll::Ready(Some(Err(_))) | Poll::Ready(None) => this.rpc.finish(CODE_UNKNOWN),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The innermost layer (after authentication): tells [`ObserveLayer`] who the caller is.
#[derive(Debug, Clone, Default)]
pub struct ActorCaptureLayer;

impl<S> tower::Layer<S> for ActorCaptureLayer {
    type Service = ActorCapture<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ActorCapture { inner }
    }
}

#[derive(Debug, Clone)]
pub struct ActorCapture<S> {
    inner: S,
}

impl<S, B> tower::Service<Request<B>> for ActorCapture<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if let (Some(slot), Some(actor)) = (req.extensions().get::<ActorSlot>(), req.extensions().get::<Actor>()) {
            let _ = slot.0.set(actor.id.clone());
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_clients_are_bounded_visible_ascii() {
        assert!(is_acceptable_request_id("abc-123_XYZ.:/"));
        assert!(is_acceptable_request_id(&"a".repeat(128)));
        assert!(!is_acceptable_request_id(""));
        assert!(!is_acceptable_request_id(&"a".repeat(129)));
        assert!(!is_acceptable_request_id("has space"));
        assert!(!is_acceptable_request_id("tab\t"));
        assert!(!is_acceptable_request_id("é"));
    }

    #[test]
    fn missing_or_bad_request_ids_are_replaced_by_uuids() {
        let mut h = HeaderMap::new();
        assert!(uuid::Uuid::parse_str(&request_id(&h)).is_ok());
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("bad id"));
        assert!(uuid::Uuid::parse_str(&request_id(&h)).is_ok());
        h.insert(REQUEST_ID_HEADER, HeaderValue::from_static("req-1"));
        assert_eq!(request_id(&h), "req-1");
    }

    #[test]
    fn only_known_methods_get_their_own_labels() {
        assert_eq!(
            method_labels("/motie.registry.v1.PolicyGoalService/GetPolicyGoal"),
            ("motie.registry.v1.PolicyGoalService", "GetPolicyGoal")
        );
        assert_eq!(
            method_labels("/grpc.health.v1.Health/Check"),
            ("grpc.health.v1.Health", "Check")
        );
        assert_eq!(
            method_labels("/motie.registry.v1.PolicyGoalService/Nope"),
            ("unknown", "unknown")
        );
        assert_eq!(method_labels("/x"), ("unknown", "unknown"));
    }

    #[test]
    fn code_names_are_canonical() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(5), "NOT_FOUND");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(2), "UNKNOWN");
        assert_eq!(code_name(99), "UNKNOWN");
    }

    /// Captures formatted log output.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut v) = self.0.lock() {
                v.extend_from_slice(buf);
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Captured {
        /// Captures this thread's INFO logs until the guard drops.
        fn install() -> (Captured, tracing::subscriber::DefaultGuard) {
            let logs = Captured::default();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(logs.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            (logs, tracing::subscriber::set_default(subscriber))
        }

        fn rpc_lines(&self) -> Vec<String> {
            let text = String::from_utf8(self.0.lock().map(|v| v.clone()).unwrap_or_default()).unwrap_or_default();
            text.lines()
                .filter(|l| l.contains(RPC_LOG_TARGET))
                .map(str::to_owned)
                .collect()
        }
    }

    /// Observe → a stand-in for the auth layer (puts the Actor in the extensions) →
    /// ActorCapture → `respond`.
    async fn call_stack<Resp>(
        metrics: &Metrics,
        req: Request<()>,
        respond: impl Fn() -> Response<Resp> + Clone + Send + 'static,
    ) -> Response<ObservedBody<Resp>>
    where
        Resp: Body<Data = Bytes> + Send + 'static,
    {
        use tower::{Layer, ServiceExt};
        let handler = tower::service_fn(move |_req: Request<()>| {
            let respond = respond.clone();
            async move { Ok::<_, Infallible>(respond()) }
        });
        let capture = ActorCaptureLayer.layer(handler);
        let fake_auth = tower::service_fn(move |mut req: Request<()>| {
            let capture = capture.clone();
            async move {
                if req.headers().contains_key(http::header::AUTHORIZATION) {
                    req.extensions_mut().insert(Actor { id: "tok123".into() });
                }
                capture.oneshot(req).await
            }
        });
        ObserveLayer::new(Some(metrics.clone()))
            .layer(fake_auth)
            .oneshot(req)
            .await
            .unwrap_or_else(|e: Infallible| match e {})
    }

    #[tokio::test]
    async fn one_log_line_per_rpc_with_method_code_latency_and_actor() {
        use http_body_util::BodyExt;
        let (logs, _guard) = Captured::install();
        let metrics = Metrics::new();
        let secret = "rgy_abcdefghijkl_SECRETSECRETSECRETSECRETSECRETSECRET";

        // A streamed success: the status arrives in the trailers.
        let req = Request::builder()
            .uri("/motie.registry.v1.PolicyGoalService/GetPolicyGoal")
            .header(http::header::AUTHORIZATION, format!("Bearer {secret}"))
            .header(REQUEST_ID_HEADER, "req-7")
            .body(())
            .expect("request");
        let resp = call_stack(&metrics, req, || {
            let mut trailers = HeaderMap::new();
            trailers.insert("grpc-status", HeaderValue::from_static("0"));
            Response::new(Full::new(Bytes::from_static(b"msg")).with_trailers(async move { Some(Ok(trailers)) }))
        })
        .await;
        assert_eq!(
            resp.headers().get(REQUEST_ID_HEADER).map(|v| v.as_bytes()),
            Some(&b"req-7"[..])
        );
        assert!(logs.rpc_lines().is_empty(), "not logged before the stream ends");
        let collected = resp.into_body().collect().await.expect("body");
        assert!(collected.trailers().is_some());

        // A trailers-only error, without a token.
        let req = Request::builder()
            .uri("/motie.registry.v1.PolicyGoalService/GetPolicyGoal")
            .body(())
            .expect("request");
        let resp = call_stack(&metrics, req, || {
            let mut r = Response::new(http_body_util::Empty::<Bytes>::new());
            r.headers_mut().insert("grpc-status", HeaderValue::from_static("5"));
            r
        })
        .await;
        let generated = resp
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated:?}");
        drop(resp);

        // The client goes away before the stream ends.
        let req = Request::builder()
            .uri("/motie.registry.v1.ChangeFeedService/WatchChanges")
            .header(http::header::AUTHORIZATION, format!("Bearer {secret}"))
            .body(())
            .expect("request");
        let resp = call_stack(&metrics, req, || {
            Response::new(Full::new(Bytes::from_static(b"change")))
        });
        drop(resp.await);

        let lines = logs.rpc_lines();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let ok = &lines[0];
        for part in [
            "INFO",
            "method=/motie.registry.v1.PolicyGoalService/GetPolicyGoal",
            "code=OK",
            "latency_ms=",
            "actor=tok123",
            "request_id=req-7",
        ] {
            assert!(ok.contains(part), "{part} missing in {ok}");
        }
        assert!(
            lines[1].contains("code=NOT_FOUND") && lines[1].contains("actor=-"),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains(&format!("request_id={generated}")), "{}", lines[1]);
        assert!(
            lines[2].contains("code=CANCELLED") && lines[2].contains("WatchChanges"),
            "{}",
            lines[2]
        );
        assert!(
            lines
                .iter()
                .all(|l| !l.contains("SECRET") && !l.contains("authorization"))
        );

        let text = metrics.handle.render();
        for (method, code) in [
            ("GetPolicyGoal", "OK"),
            ("GetPolicyGoal", "NOT_FOUND"),
            ("WatchChanges", "CANCELLED"),
        ] {
            assert!(
                text.contains(&format!(r#"grpc_method="{method}",grpc_code="{code}"}} 1"#)),
                "{method} {code}: {text}"
            );
        }
    }

    #[tokio::test]
    async fn the_log_line_and_span_carry_the_callers_trace_id() {
        let (logs, _guard) = Captured::install();
        let metrics = Metrics::new();
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let empty = || {
            let mut r = Response::new(http_body_util::Empty::<Bytes>::new());
            r.headers_mut().insert("grpc-status", HeaderValue::from_static("0"));
            r
        };
        for (tp, rid) in [
            (Some(traceparent), "with-trace"),
            (Some("00-garbage"), "bad-trace"),
            (None, "no-trace"),
        ] {
            let mut req = Request::builder()
                .uri("/grpc.health.v1.Health/Check")
                .header(REQUEST_ID_HEADER, rid);
            if let Some(tp) = tp {
                req = req.header(crate::trace_context::TRACEPARENT_HEADER, tp);
            }
            drop(call_stack(&metrics, req.body(()).expect("request"), empty).await);
        }
        let lines = logs.rpc_lines();
        assert_eq!(lines.len(), 3, "{lines:#?}");
        assert!(
            lines[0].contains("request_id=with-trace")
                && lines[0].contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
            "{}",
            lines[0]
        );
        // Invalid or absent: a new trace of its own, still logged.
        let trace_of = |l: &str| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("trace_id="))
                .map(str::to_owned)
                .unwrap_or_default()
        };
        let (bad, none) = (trace_of(&lines[1]), trace_of(&lines[2]));
        for id in [&bad, &none] {
            assert_eq!(id.len(), 32, "{lines:#?}");
            assert_ne!(id, "4bf92f3577b34da6a3ce929d0e0e4736");
        }
        assert_ne!(bad, none);
    }

    #[test]
    fn metrics_render_per_recorder() {
        let a = Metrics::new();
        let b = Metrics::new();
        let labels = method_labels("/grpc.health.v1.Health/Check");
        a.started(labels);
        a.finished(labels, "OK", Duration::from_millis(3));
        let text = a.handle.render();
        assert!(
            text.contains(
                r#"grpc_server_handled_total{grpc_service="grpc.health.v1.Health",grpc_method="Check",grpc_code="OK"} 1"#
            ),
            "{text}"
        );
        assert!(text.contains("grpc_server_handling_seconds_bucket"), "{text}");
        assert!(!b.handle.render().contains("grpc_server_handled_total{"));
    }
}
