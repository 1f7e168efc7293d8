//! `registryd`: the Policy & Partner Registry gRPC server.
//!
//! Layout: `domain/` holds validated types (no tonic, no sqlx), `store/` persists them in
//! PostgreSQL (no tonic), `api/` implements the gRPC services, `error.rs` maps errors to
//! `tonic::Status` in one place.

pub mod api;
pub mod auth;
pub mod domain;
pub mod drain;
pub mod error;
pub mod feed;
pub mod limits;
pub mod observe;
pub mod store;
pub mod telemetry;
pub mod trace_context;
pub mod web;

use std::{future::Future, net::SocketAddr, time::Duration};

use registry_proto::v1::{
    admin_service_server::AdminServiceServer, change_feed_service_server::ChangeFeedServiceServer,
    risk_register_service_server::RiskRegisterServiceServer, trade_analysis_service_server::TradeAnalysisServiceServer,
    trade_partner_service_server::TradePartnerServiceServer,
};
use tokio::net::TcpListener;
use tonic_health::ServingStatus;

pub use store::{Store, StoreOptions};

/// Names of the served registry services, as reported by grpc.health.v1.
pub const SERVICES: &[&str] = &[
    "motie.registry.v1.PolicyGoalService",
    "motie.registry.v1.RiskRegisterService",
    "motie.registry.v1.TradePartnerService",
    "motie.registry.v1.TradeAgreementService",
    "motie.registry.v1.ChangeFeedService",
    "motie.registry.v1.AdminService",
    "motie.registry.v1.TradeAnalysisService",
];

/// TLS material (PEM). With `client_ca`, clients must present a certificate it signed.
#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
    pub client_ca: Option<Vec<u8>>,
}

/// Runtime settings of the gRPC server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long to report NOT_SERVING before refusing new connections on shutdown, so load
    /// balancers stop sending traffic first.
    pub shutdown_grace: Duration,
    /// How often the database is probed for the health service.
    pub health_probe_interval: Duration,
    /// How often expired soft-deleted resources and request ids are purged.
    pub purge_interval: Duration,
    /// Maximum decoded request size in bytes.
    pub max_request_bytes: usize,
    /// After shutdown starts, how long in-flight RPCs and streams may continue before
    /// streams are ended with UNAVAILABLE.
    pub drain_timeout: Duration,
    /// How long change history is kept (the newest snapshot of a live resource is kept
    /// regardless).
    pub change_retention: Duration,
    /// Change-feed tuning.
    pub feed: feed::FeedOptions,
    /// TLS; plaintext when `None`.
    pub tls: Option<TlsOptions>,
    /// Server-side deadline of a unary call (clients may set a shorter `grpc-timeout`).
    pub request_timeout: Duration,
    /// Maximum concurrent HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// HTTP/2 keepalive ping interval (a peer that does not answer within 20 s is dropped).
    pub keepalive_interval: Duration,
    /// Optional per-token rate limit, requests per second.
    pub rate_limit_per_token: Option<std::num::NonZeroU32>,
    /// Failed authentications allowed per peer address and second (`None`: unlimited).
    pub failed_auth_per_peer: Option<std::num::NonZeroU32>,
    /// Entries of each token cache (known tokens; unknown ids).
    pub token_cache_capacity: u64,
    /// How long a token cache entry lives (changes evict entries sooner, through the feed).
    pub token_cache_ttl: Duration,
    /// Change streams allowed per token and in total.
    pub streams: limits::StreamLimits,
    /// Requests in flight on this server; beyond it, RESOURCE_EXHAUSTED `OVERLOADED`.
    pub max_concurrent_requests: usize,
    /// Where to serve Prometheus `/metrics` (plain HTTP); no metrics endpoint when `None`.
    pub metrics_listener: Option<observe::MetricsListener>,
    /// Browser origins allowed to call the API over gRPC-Web (CORS); none when empty. Check
    /// each with [`web::parse_origin`].
    pub cors_allowed_origins: Vec<http::HeaderValue>,
    /// The read cache of resources and tokens (`store::cache`).
    pub read_cache: store::cache::CacheOptions,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            shutdown_grace: Duration::ZERO,
            health_probe_interval: Duration::from_secs(2),
            purge_interval: Duration::from_secs(600),
            max_request_bytes: 4 * 1024 * 1024,
            drain_timeout: Duration::from_secs(10),
            change_retention: Duration::from_secs(90 * 24 * 3600),
            feed: feed::FeedOptions::default(),
            tls: None,
            request_timeout: Duration::from_secs(30),
            max_concurrent_streams: 256,
            keepalive_interval: Duration::from_secs(30),
            rate_limit_per_token: None,
            failed_auth_per_peer: auth::AuthLimits::default().failures_per_peer,
            token_cache_capacity: auth::AuthLimits::default().cache_capacity,
            token_cache_ttl: auth::AuthLimits::default().cache_ttl,
            streams: limits::StreamLimits::default(),
            max_concurrent_requests: 1024,
            metrics_listener: None,
            cors_allowed_origins: Vec::new(),
            read_cache: store::cache::CacheOptions::default(),
        }
    }
}

/// Serves the registry on `listener` until `shutdown` resolves, then drains: health goes
/// NOT_SERVING, new connections are refused, in-flight RPCs finish.
pub async fn serve(
    store: Store,
    listener: TcpListener,
    opts: ServerOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    // Every service, the tailer and the authenticator read through one cache.
    let store = store.with_cache(std::sync::Arc::new(store::cache::ReadCache::new(opts.read_cache)));
    let (health, health_service) = tonic_health::server::health_reporter();
    let set_all = {
        let health = health.clone();
        move |status: ServingStatus| {
            let health = health.clone();
            async move {
                health.set_service_status("", status).await;
                for s in SERVICES {
                    health.set_service_status(*s, status).await;
                }
            }
        }
    };
    set_all(ServingStatus::Serving).await;

    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(registry_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(registry_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    let goals = api::goals::GoalsServer::new(store.clone(), opts.max_request_bytes);
    let partners = TradePartnerServiceServer::new(api::partners::PartnersApi::new(store.clone()))
        .max_decoding_message_size(opts.max_request_bytes);
    let trade = TradeAnalysisServiceServer::new(api::trade::TradeApi::new(store.clone()))
        .max_decoding_message_size(opts.max_request_bytes);
    let agreements = registry_proto::v1::trade_agreement_service_server::TradeAgreementServiceServer::new(
        api::agreements::AgreementsApi::new(store.clone()),
    )
    .max_decoding_message_size(opts.max_request_bytes);
    let risks = RiskRegisterServiceServer::new(api::risks::RisksApi::new(store.clone()))
        .max_decoding_message_size(opts.max_request_bytes);

    // Background work: database health probe, purging/compaction and the change-feed tailer,
    // all stopped on shutdown.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let probe = tokio::spawn(probe_database(
        store.clone(),
        opts.health_probe_interval,
        set_all.clone(),
        stop_rx.clone(),
    ));
    let purge = tokio::spawn(purge_loop(
        store.clone(),
        opts.purge_interval,
        opts.change_retention,
        stop_rx,
    ));
    let feed_stop = tokio_util::sync::CancellationToken::new();
    let feed = feed::Feed::start(store.clone(), opts.feed.clone(), feed_stop.clone());
    let metrics = match start_metrics(&opts, &store, &feed, &feed_stop) {
        Ok(m) => m,
        Err(e) => {
            feed_stop.cancel();
            return Err(e);
        }
    };
    // Watch streams end (UNAVAILABLE, with the sequence to resume after) as shutdown starts.
    let watch_shutdown = tokio_util::sync::CancellationToken::new();
    let auth = std::sync::Arc::new(auth::Authenticator::new(
        store.clone(),
        auth::AuthLimits {
            failures_per_peer: opts.failed_auth_per_peer,
            per_token: opts.rate_limit_per_token,
            cache_capacity: opts.token_cache_capacity,
            cache_ttl: opts.token_cache_ttl,
        },
    ));
    tokio::spawn(evict_changed_tokens(feed.clone(), auth.clone(), feed_stop.clone()));
    let changes = ChangeFeedServiceServer::new(api::changes::ChangesApi::new(
        store.clone(),
        feed,
        watch_shutdown.clone(),
        limits::StreamSlots::new(opts.streams),
    ))
    .max_decoding_message_size(opts.max_request_bytes);
    let admin = AdminServiceServer::new(api::admin::AdminApi::new(store.clone(), auth.clone()))
        .max_decoding_message_size(opts.max_request_bytes);

    let drain_token = tokio_util::sync::CancellationToken::new();
    let draining = {
        let set_all = set_all.clone();
        let grace = opts.shutdown_grace;
        let drain_timeout = opts.drain_timeout;
        let drain_token = drain_token.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: reporting NOT_SERVING, draining in-flight requests");
            let _ = stop_tx.send(true);
            set_all(ServingStatus::NotServing).await;
            watch_shutdown.cancel();
            if !grace.is_zero() {
                tokio::time::sleep(grace).await;
            }
            // Streams still open when the drain window closes are ended cleanly.
            tokio::spawn(async move {
                tokio::time::sleep(drain_timeout).await;
                drain_token.cancel();
            });
        }
    };

    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(?addr, "registryd serving gRPC");
    let mut builder = tonic::transport::Server::builder();
    if let Some(tls) = &opts.tls {
        let mut config = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(&tls.cert, &tls.key));
        if let Some(ca) = &tls.client_ca {
            config = config.client_ca_root(tonic::transport::Certificate::from_pem(ca));
        }
        builder = builder.tls_config(config)?;
    }
    let result = builder
        .max_concurrent_streams(opts.max_concurrent_streams)
        .http2_keepalive_interval(Some(opts.keepalive_interval))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        // gRPC-Web (HTTP/1.1 too) outside every other layer: see web.rs.
        .accept_http1(true)
        .layer(web::cors_layer(&opts.cors_allowed_origins))
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(observe::ObserveLayer::new(metrics))
        .layer(drain::DrainLayer {
            token: drain_token.clone(),
        })
        .layer(limits::OverloadLayer::new(opts.max_concurrent_requests))
        .layer(auth::AuthLayer {
            auth,
            deadline: opts.request_timeout,
        })
        .layer(observe::ActorCaptureLayer)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(goals)
        .add_service(partners)
        .add_service(agreements)
        .add_service(risks)
        .add_service(changes)
        .add_service(admin)
        .add_service(trade)
        // `Server::tcp_nodelay` does not apply to an incoming stream we pass in: set it here, or
        // Nagle holds back the end of every response until the client's delayed ACK (~40 ms).
        .serve_with_incoming_shutdown(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            draining,
        )
        .await;
    drain_token.cancel();
    feed_stop.cancel();
    probe.abort();
    purge.abort();
    tracing::info!("registryd stopped");
    Ok(result?)
}

/// Serves `/metrics` on the configured listener (until `stop`), returning the recorder.
fn start_metrics(
    opts: &ServerOptions,
    store: &Store,
    feed: &feed::Feed,
    stop: &tokio_util::sync::CancellationToken,
) -> anyhow::Result<Option<observe::Metrics>> {
    let Some(listener) = opts.metrics_listener.as_ref().and_then(|l| l.take()) else {
        return Ok(None);
    };
    let listener = TcpListener::from_std(listener)?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving Prometheus metrics at /metrics");
    }
    let metrics = observe::Metrics::new();
    tokio::spawn(observe::serve_metrics(
        listener,
        metrics.clone(),
        store.clone(),
        feed.clone(),
        stop.clone(),
    ));
    Ok(Some(metrics))
}

/// Evicts cached tokens when any replica changes them (they appear in the change feed).
async fn evict_changed_tokens(
    feed: feed::Feed,
    auth: std::sync::Arc<auth::Authenticator>,
    stop: tokio_util::sync::CancellationToken,
) {
    let (mut rx, _guard) = feed.subscribe();
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Ok(change) => {
                    if change.resource_type == store::TOKEN_TYPE
                        && let Some(id) = change.resource_name.strip_prefix("tokens/")
                    {
                        auth.evict(id);
                    }
                }
                // Missed some: the cache TTL bounds staleness; keep going.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            },
            _ = stop.cancelled() => return,
        }
    }
}

async fn probe_database<F, Fut>(
    store: Store,
    interval: Duration,
    set_all: F,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    F: Fn(ServingStatus) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut healthy = true;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
        let ok = matches!(
            tokio::time::timeout(interval.max(Duration::from_secs(1)), store.ping()).await,
            Ok(Ok(()))
        );
        if ok != healthy && !*stop.borrow() {
            healthy = ok;
            if ok {
                tracing::info!("database reachable again: SERVING");
                set_all(ServingStatus::Serving).await;
            } else {
                tracing::warn!("database unreachable: NOT_SERVING");
                set_all(ServingStatus::NotServing).await;
            }
        }
    }
}

async fn purge_loop(
    store: Store,
    interval: Duration,
    retention: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        match store.purge_expired().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "purged expired soft-deleted goals"),
            Err(e) => tracing::warn!(error = %e, "purge failed"),
        }
        match store.compact_changes(retention).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "compacted change history"),
            Err(e) => tracing::warn!(error = %e, "change-history compaction failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves when the process receives Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
