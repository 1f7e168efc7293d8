//! Rust SDK for the Policy & Partner Registry of the Ministry of Trade, Industry and Energy.
//!
//! [`RegistryClient`] is cheap to clone (it shares one HTTP/2 channel), returns a typed
//! [`Error`], and re-exports every generated type in [`pb`] so this is the only crate a
//! ministry system needs.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use registry_client::{RegistryClient, pb};
//!
//! # async fn run() -> Result<(), registry_client::Error> {
//! let client = RegistryClient::connect("http://127.0.0.1:50051").await?;
//! let goal = client
//!     .create_policy_goal(pb::CreatePolicyGoalRequest {
//!         policy_goal_id: "manufacturing-ax".into(),
//!         policy_goal: Some(pb::PolicyGoal {
//!             title: "Spread Manufacturing AX (AI Transformation)".into(),
//!             pillar: pb::Pillar::IndustrialResurgence.into(),
//!             ..Default::default()
//!         }),
//!         ..Default::default()
//!     })
//!     .await?;
//! println!("created {} (etag {})", goal.name, goal.etag);
//!
//! // Walk every page.
//! let all: Vec<pb::PolicyGoal> = client
//!     .list_policy_goals(pb::ListPolicyGoalsRequest::default())
//!     .try_collect()
//!     .await?;
//! println!("{} goals", all.len());
//! # Ok(()) }
//! ```

mod consistency;
mod error;
mod health;
mod pages;
mod partners;
mod resource;
mod retry;
mod trace;
mod trade;
pub mod trade_files;
mod watch;

use std::time::Duration;

use futures::Stream;
use registry_proto::v1::{
    admin_service_client::AdminServiceClient, change_feed_service_client::ChangeFeedServiceClient,
    policy_goal_service_client::PolicyGoalServiceClient, risk_register_service_client::RiskRegisterServiceClient,
    trade_analysis_service_client::TradeAnalysisServiceClient, trade_partner_service_client::TradePartnerServiceClient,
};
use tonic::{
    metadata::{Ascii, MetadataValue},
    service::{Interceptor, interceptor::InterceptedService},
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
};

pub use consistency::{MIN_SEQUENCE, SEQUENCE};
pub use error::{Error, FieldViolation};
pub use health::HealthStatus;
pub use pages::Listed;
/// The protos' AIP annotations: resources, field behaviours (writable fields), minimum roles.
pub use registry_proto::annotations;
pub use registry_proto::prost_types;
/// Generated protobuf types of `motie.registry.v1`.
pub use registry_proto::v1 as pb;
pub use resource::{Call, Resource};
pub use retry::RetryPolicy;
pub use trace::{TRACEPARENT, is_valid_traceparent, new_traceparent};
pub use trade::{IMPORT_CHUNK, SLICE_ROWS};
pub use watch::{WatchEvent, WatchOptions};

/// Result of a client call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Configures a [`RegistryClient`]. Its `Debug` output leaves out the token and the client
/// key.
#[derive(Clone)]
pub struct ClientBuilder {
    endpoint: String,
    timeout: Option<Duration>,
    connect_timeout: Duration,
    user_agent: String,
    lazy: bool,
    token: Option<String>,
    ca_pem: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    domain: Option<String>,
    more_endpoints: Vec<String>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("more_endpoints", &self.more_endpoints)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("user_agent", &self.user_agent)
            .field("lazy", &self.lazy)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("tls", &self.ca_pem.is_some())
            .field("identity", &self.identity.as_ref().map(|_| "<redacted>"))
            .field("domain", &self.domain)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// The API token (`rgy_…`), sent as `authorization: Bearer …` on every call.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Trust this CA (PEM) for the server's certificate; enables TLS (use an `https://` URL).
    pub fn ca_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Present this client certificate and key (PEM) for mutual TLS.
    pub fn identity(mut self, cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// The server name to verify (defaults to the endpoint's host).
    pub fn tls_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Per-call timeout (default: none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Connection timeout (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The `user-agent` sent with every call.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Further replicas of the registry: calls are balanced over every endpoint (and go on
    /// while some are down). The connection is then established on first use.
    pub fn endpoints<I, S>(mut self, endpoints: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.more_endpoints.extend(endpoints.into_iter().map(Into::into));
        self
    }

    /// How reads and creates are retried on UNAVAILABLE (default: [`RetryPolicy::default`];
    /// [`RetryPolicy::none`] turns retries off).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Connect on first use instead of now.
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.lazy = lazy;
        self
    }

    fn endpoint(&self, url: &str) -> Result<Endpoint> {
        let mut ep = Endpoint::from_shared(url.to_owned())
            .map_err(|e| Error::Transport(format!("invalid endpoint {url:?}: {e}")))?
            .connect_timeout(self.connect_timeout)
            .user_agent(self.user_agent.clone())
            .map_err(|e| Error::Transport(format!("invalid user agent: {e}")))?
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if let Some(t) = self.timeout {
            ep = ep.timeout(t);
        }
        if self.ca_pem.is_some() || self.identity.is_some() {
            let mut tls = ClientTlsConfig::new();
            if let Some(ca) = &self.ca_pem {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some((cert, key)) = &self.identity {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            if let Some(d) = &self.domain {
                tls = tls.domain_name(d.clone());
            }
            ep = ep.tls_config(tls)?;
        }
        Ok(ep)
    }

    /// Builds the client.
    pub async fn connect(self) -> Result<RegistryClient> {
        let ep = self.endpoint(&self.endpoint)?;
        let channel = if !self.more_endpoints.is_empty() {
            let mut all = vec![ep];
            for url in &self.more_endpoints {
                all.push(self.endpoint(url)?);
            }
            Channel::balance_list(all.into_iter())
        } else if self.lazy {
            ep.connect_lazy()
        } else {
            ep.connect().await?
        };
        let mut client = RegistryClient::from_channel(channel).with_token(self.token)?;
        client.retry = self.retry;
        Ok(client)
    }
}

/// A client of the registry. Clone it freely; clones share the connection.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    channel: Channel,
    goals: PolicyGoalServiceClient<Svc>,
    partners: TradePartnerServiceClient<Svc>,
    agreements: registry_proto::v1::trade_agreement_service_client::TradeAgreementServiceClient<Svc>,
    risks: RiskRegisterServiceClient<Svc>,
    changes: ChangeFeedServiceClient<Svc>,
    admin: AdminServiceClient<Svc>,
    meta: CallMetadata,
    trade: TradeAnalysisServiceClient<Svc>,
    retry: RetryPolicy,
    /// The highest change-log sequence the registry answered this client (and its clones)
    /// with; sent with every call (see [`consistency`]).
    seen: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

/// Adds the bearer token to every call. Its `Debug` output leaves the token out.
#[derive(Clone, Default)]
pub struct BearerToken(Option<MetadataValue<Ascii>>);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "BearerToken(<redacted>)"
        } else {
            "BearerToken(None)"
        })
    }
}

/// What every call carries: the bearer token and a W3C `traceparent` (see [`trace`]).
#[derive(Debug, Clone, Default)]
pub struct CallMetadata {
    token: BearerToken,
    trace: trace::TraceParent,
}

impl Interceptor for CallMetadata {
    fn call(&mut self, mut req: tonic::Request<()>) -> std::result::Result<tonic::Request<()>, tonic::Status> {
        if let Some(v) = &self.token.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        if let Some(v) = self.trace.header() {
            req.metadata_mut().insert(TRACEPARENT, v);
        }
        Ok(req)
    }
}

type Svc = InterceptedService<consistency::Tracked, CallMetadata>;
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Fills an empty request id with a fresh UUID, so that retries of this logical call are
/// recognised by the server as the same request.
pub(crate) fn with_request_id<R>(mut req: R, field: impl FnOnce(&mut R) -> &mut String) -> R {
    let id = field(&mut req);
    if id.is_empty() {
        *id = uuid::Uuid::new_v4().to_string();
    }
    req
}

impl RegistryClient {
    /// Sends one call. A read, or a create carrying a request id (`retried`), is retried on
    /// UNAVAILABLE under the client's policy (the server answers a repeated request id with
    /// the original response); other writes go once.
    pub(crate) async fn send<S, Req, Resp, F, Fut>(&self, svc: &S, retried: bool, call: F, req: Req) -> Result<Resp>
    where
        S: Clone,
        Req: Clone,
        F: Fn(S, Req) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<tonic::Response<Resp>, tonic::Status>>,
    {
        page(self.retry.run(retried, || call(svc.clone(), req.clone())).await)
    }
}

pub(crate) fn page<T>(r: std::result::Result<tonic::Response<T>, tonic::Status>) -> Result<T> {
    r.map(tonic::Response::into_inner).map_err(Error::from)
}

impl RegistryClient {
    /// Connects to `endpoint`, e.g. `http://127.0.0.1:50051`.
    pub async fn connect(endpoint: impl Into<String>) -> Result<Self> {
        Self::builder(endpoint).connect().await
    }

    /// A builder for timeouts, user agent and lazy connection.
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.into(),
            timeout: None,
            connect_timeout: Duration::from_secs(5),
            user_agent: format!("registry-client/{}", env!("CARGO_PKG_VERSION")),
            lazy: false,
            token: None,
            ca_pem: None,
            identity: None,
            domain: None,
            more_endpoints: Vec::new(),
            retry: RetryPolicy::default(),
        }
    }

    /// Wraps an existing channel (no token).
    pub fn from_channel(channel: Channel) -> Self {
        Self::with_interceptor(channel, CallMetadata::default(), Default::default())
    }

    /// The highest change-log sequence this client has seen (0: none): a write's
    /// `registry-sequence`. Its reads, on any replica, include every change up to it.
    pub fn sequence(&self) -> i64 {
        self.seen.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads of this client from now on include every change up to `sequence` (e.g. one
    /// another client wrote at, handed over with its result).
    pub fn observe_sequence(&self, sequence: i64) {
        self.seen.fetch_max(sequence, std::sync::atomic::Ordering::Relaxed);
    }

    fn with_interceptor(
        channel: Channel,
        auth: CallMetadata,
        seen: std::sync::Arc<std::sync::atomic::AtomicI64>,
    ) -> Self {
        let tracked = consistency::Tracked::new(channel.clone(), seen.clone());
        RegistryClient {
            seen,
            meta: auth.clone(),
            goals: PolicyGoalServiceClient::with_interceptor(tracked.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            partners: TradePartnerServiceClient::with_interceptor(tracked.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            agreements:
                registry_proto::v1::trade_agreement_service_client::TradeAgreementServiceClient::with_interceptor(
                    tracked.clone(),
                    auth.clone(),
                )
                .max_decoding_message_size(MAX_MESSAGE),
            risks: RiskRegisterServiceClient::with_interceptor(tracked.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            changes: ChangeFeedServiceClient::with_interceptor(tracked.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            trade: TradeAnalysisServiceClient::with_interceptor(tracked.clone(), auth.clone())
                .max_decoding_message_size(MAX_MESSAGE),
            admin: AdminServiceClient::with_interceptor(tracked, auth).max_decoding_message_size(MAX_MESSAGE),
            channel,
            retry: RetryPolicy::default(),
        }
    }

    /// The same connection, calling with another token (or none).
    pub fn with_token(&self, token: Option<String>) -> Result<Self> {
        let header = token
            .map(|t| {
                MetadataValue::try_from(format!("Bearer {t}"))
                    .map_err(|_| Error::Transport("the token contains characters not allowed in a header".into()))
            })
            .transpose()?;
        let meta = CallMetadata {
            token: BearerToken(header),
            ..self.meta.clone()
        };
        let mut client = Self::with_interceptor(self.channel.clone(), meta, self.seen.clone());
        client.retry = self.retry;
        Ok(client)
    }

    /// The same connection, sending `traceparent` (W3C Trace Context, e.g.
    /// `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`) with every call, so the
    /// registry's spans join the caller's trace; with `None`, each call starts a trace of its
    /// own (the default). An invalid value is refused.
    pub fn with_traceparent(&self, traceparent: Option<&str>) -> Result<Self> {
        let meta = CallMetadata {
            trace: trace::TraceParent::fixed(traceparent)?,
            ..self.meta.clone()
        };
        let mut client = Self::with_interceptor(self.channel.clone(), meta, self.seen.clone());
        client.retry = self.retry;
        Ok(client)
    }

    /// Lists API tokens (ADMIN): one page; [`RegistryClient::pages`] walks them all.
    pub async fn list_tokens(&self, req: pb::ListTokensRequest) -> Result<pb::ListTokensResponse> {
        self.page(req).await
    }

    /// Revokes an API token (ADMIN); it is rejected from then on.
    pub async fn revoke_token(&self, name: impl Into<String>) -> Result<pb::Token> {
        self.call(pb::RevokeTokenRequest { name: name.into() }).await
    }

    /// Rotates an API token (ADMIN): creates its successor (secret in the response only) and
    /// lets the old one work for `grace_period` more (default 24 h; zero revokes it now).
    pub async fn rotate_token(
        &self,
        name: impl Into<String>,
        grace_period: Option<std::time::Duration>,
    ) -> Result<pb::RotateTokenResponse> {
        let grace_period = grace_period
            .map(prost_types::Duration::try_from)
            .transpose()
            .map_err(|_| Error::Transport("the grace period is too long".into()))?;
        self.call(pb::RotateTokenRequest {
            name: name.into(),
            grace_period,
        })
        .await
    }

    /// Creates up to 1000 goals in one transaction, all or nothing (a parent may be created
    /// earlier in the same batch). Without a `request_id` one is generated, so retries after
    /// a lost answer create nothing twice.
    pub async fn batch_create_policy_goals(
        &self,
        req: pb::BatchCreatePolicyGoalsRequest,
    ) -> Result<Vec<pb::PolicyGoal>> {
        self.call(req).await.map(|r| r.policy_goals)
    }

    /// Opens one raw WatchChanges stream (no reconnection); see [`RegistryClient::watch_changes`].
    pub async fn watch_changes_once(
        &self,
        req: pb::WatchChangesRequest,
    ) -> Result<tonic::Streaming<pb::WatchChangesResponse>> {
        page(self.changes.clone().watch_changes(req).await)
    }

    /// Watches the change feed. The stream reconnects on UNAVAILABLE, RESOURCE_EXHAUSTED and
    /// transport errors, with exponential backoff and jitter, resuming after the last
    /// delivered sequence, so it yields every matching change exactly once and in order.
    /// It ends with an error only for a non-retryable status (e.g. OUT_OF_RANGE when the
    /// resume point has been compacted away).
    pub fn watch_changes(
        &self,
        req: pb::WatchChangesRequest,
        opts: WatchOptions,
    ) -> impl Stream<Item = Result<WatchEvent>> + Send + 'static {
        watch::watch(self.clone(), req, opts)
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    fn traceparent_sent(meta: &mut CallMetadata) -> String {
        let req = meta.call(tonic::Request::new(())).expect("intercepted");
        req.metadata()
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default()
    }

    #[test]
    fn every_call_sends_a_traceparent_the_callers_or_a_new_one() {
        let mut meta = CallMetadata::default();
        let (a, b) = (traceparent_sent(&mut meta), traceparent_sent(&mut meta));
        assert!(is_valid_traceparent(&a) && is_valid_traceparent(&b), "{a} {b}");
        assert_ne!(a, b, "a new trace per call");
        let given = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let mut meta = CallMetadata {
            trace: trace::TraceParent::fixed(Some(given)).expect("valid"),
            ..CallMetadata::default()
        };
        assert_eq!(traceparent_sent(&mut meta), given);
        assert_eq!(traceparent_sent(&mut meta), given);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let secret = "rgy_abcdefghijkl_SECRETSECRETSECRETSECRETSECRETSECRETSECRET";
        let builder = RegistryClient::builder("http://127.0.0.1:1").token(secret);
        assert!(!format!("{builder:?}").contains("SECRET"), "{builder:?}");
        let header = MetadataValue::try_from(format!("Bearer {secret}")).ok();
        assert!(!format!("{:?}", BearerToken(header)).contains("SECRET"));
    }
}
