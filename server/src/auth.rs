//! Authentication and authorisation, enforced in one tower layer for every RPC.
//!
//! Bearer tokens arrive in `authorization: Bearer rgy_{id}_{secret}`. The minimum role of
//! every method is in [`METHOD_ROLES`]; a method missing from the table is refused (deny by
//! default). Health and reflection stay open. Missing, malformed, unknown, revoked or expired
//! tokens get UNAUTHENTICATED; a role below the method's minimum gets PERMISSION_DENIED.
//! The token id becomes the actor recorded in the change log. Secrets never reach logs.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    pin::Pin,
    sync::{Arc, LazyLock},
    task::{Context, Poll},
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use http::{HeaderValue, Request, Response};
use moka::sync::Cache;
use time::OffsetDateTime;
use tonic::Status;

use crate::{
    domain::{Actor, Error, Reason, enums::Role, token},
    store::{
        Store, TokenRecord,
        cache::{CallWrites, Depends, ReadMode, Stamp, tracking_writes},
    },
};

/// Minimum role of every RPC, by gRPC path: the `min_role` option each method of the
/// registry's services carries in the protos (a test checks that every method has one). A
/// method without it is not listed, and so refused.
pub static METHOD_ROLES: LazyLock<Vec<(String, Role)>> = LazyLock::new(|| {
    registry_proto::annotations::methods()
        .into_iter()
        .filter_map(|path| {
            let role = registry_proto::annotations::method_min_role(&path)?;
            Some((path, Role::from_proto(role as i32).ok()??))
        })
        .collect()
});

/// Paths open without a token.
pub const OPEN_PREFIXES: &[&str] = &[
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// The minimum role of a path; `None` for a path not in the table (refused).
pub fn required_role(path: &str) -> Option<Role> {
    METHOD_ROLES.iter().find(|(p, _)| p == path).map(|(_, r)| *r)
}

/// The authenticated caller, put into request extensions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub token_id: String,
    pub role: Role,
    /// When the token expires (streams it opened end then).
    pub expire_time: Option<OffsetDateTime>,
}

/// Limits on unauthenticated traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// Failed authentications allowed per peer address and second (burst the same); beyond
    /// it the peer gets RESOURCE_EXHAUSTED `TOO_MANY_FAILED_ATTEMPTS` without a lookup for a
    /// second. `None`: unlimited.
    pub failures_per_peer: Option<NonZeroU32>,
    /// Optional requests per second allowed per token.
    pub per_token: Option<NonZeroU32>,
    /// Entries of each token cache (known tokens, unknown ids).
    pub cache_capacity: u64,
    /// How long a token cache entry lives: the feed evicts a changed token at once, this bounds
    /// how long a missed eviction could matter.
    pub cache_ttl: Duration,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            failures_per_peer: NonZeroU32::new(10),
            per_token: None,
            cache_capacity: 10_000,
            cache_ttl: Duration::from_secs(5),
        }
    }
}

/// Verifies bearer tokens, with short-lived caches that token changes evict at once.
///
/// Known tokens and unknown ids are cached apart, each bounded (entries are evicted one by
/// one, least useful first), so a flood of made-up ids neither costs a query each nor
/// pushes valid tokens out of their cache.
pub struct Authenticator {
    store: Store,
    known: Cache<String, Arc<(TokenRecord, Option<Stamp>)>>,
    unknown: Cache<String, Option<Stamp>>,
    /// The tokens' epoch in the store's read cache: with one, a cached answer is used only
    /// while no change to the token has been applied since it was read (see
    /// [`crate::store::cache`]), so a revocation applied here is never followed by a
    /// cached acceptance.
    kind: Option<Arc<std::sync::atomic::AtomicU64>>,
    touched: Cache<String, ()>,
    ttl: Duration,
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    blocked: Cache<IpAddr, ()>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Entries of the caches that are not token caches (peers, last uses).
const MAX_CACHE: u64 = 10_000;

fn bounded<K, V>(capacity: u64, ttl: Duration) -> Cache<K, V>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    Cache::builder().max_capacity(capacity).time_to_live(ttl).build()
}

impl Authenticator {
    pub fn new(store: Store, limits: AuthLimits) -> Self {
        let ttl = limits.cache_ttl;
        let kind = store
            .cache()
            .map(|c| c.kind(crate::store::TOKEN_TYPE, Depends::On(&[])));
        Authenticator {
            store,
            kind,
            known: bounded(limits.cache_capacity, ttl),
            unknown: bounded(limits.cache_capacity, ttl),
            touched: bounded(MAX_CACHE, Duration::from_secs(60)),
            ttl,
            limiter: limits.per_token.map(|r| RateLimiter::keyed(Quota::per_second(r))),
            failures: limits
                .failures_per_peer
                .map(|r| RateLimiter::keyed(Quota::per_second(r))),
            blocked: bounded(MAX_CACHE, Duration::from_secs(1)),
        }
    }

    /// Forgets a cached token (called when a token changes, on any replica).
    pub fn evict(&self, id: &str) {
        self.known.invalidate(id);
        self.unknown.invalidate(id);
    }

    /// Whether a cached answer read under `stamp` may be used.
    fn current(&self, stamp: Option<&Stamp>) -> bool {
        match (self.store.cache(), stamp) {
            (Some(c), Some(s)) => c.is_current(s),
            (None, _) => true,
            (Some(_), None) => false,
        }
    }

    async fn lookup(&self, id: &str, mode: ReadMode) -> Result<Option<Arc<(TokenRecord, Option<Stamp>)>>, Status> {
        if mode == ReadMode::Cached {
            if let Some(hit) = self.known.get(id)
                && self.current(hit.1.as_ref())
            {
                return Ok(Some(hit));
            }
            if let Some(stamp) = self.unknown.get(id)
                && self.current(stamp.as_ref())
            {
                return Ok(None);
            }
        }
        let stamp = match (self.store.cache(), &self.kind) {
            (Some(c), Some(k)) => Some(c.stamp(k, &format!("tokens/{id}"))),
            _ => None,
        };
        match self.store.find_token(id).await.map_err(Status::from)? {
            Some(r) => {
                let known = Arc::new((r, stamp));
                self.known.insert(id.to_owned(), known.clone());
                Ok(Some(known))
            }
            None => {
                self.unknown.insert(id.to_owned(), stamp);
                Ok(None)
            }
        }
    }

    /// Authenticates the `authorization` header value of a call from `peer`. Failures are
    /// counted per peer address; a peer over its quota is refused before any lookup.
    pub async fn authenticate(
        &self,
        header: Option<&HeaderValue>,
        peer: Option<IpAddr>,
        mode: ReadMode,
    ) -> Result<Principal, Status> {
        if let Some(ip) = peer
            && self.blocked.contains_key(&ip)
        {
            return Err(too_many_failures(ip));
        }
        match self.check(header, mode).await {
            Ok(p) => Ok(p),
            Err(status) if status.code() == tonic::Code::Unauthenticated => {
                if let (Some(ip), Some(l)) = (peer, &self.failures) {
                    if l.len() > MAX_CACHE as usize {
                        l.retain_recent();
                    }
                    if l.check_key(&ip).is_err() {
                        tracing::warn!(peer = %ip, "too many failed authentications; refusing the peer for a second");
                        self.blocked.insert(ip, ());
                        return Err(too_many_failures(ip));
                    }
                }
                Err(status)
            }
            Err(status) => Err(status),
        }
    }

    async fn check(&self, header: Option<&HeaderValue>, mode: ReadMode) -> Result<Principal, Status> {
        let Some(value) = header else {
            return Err(Error::Unauthenticated {
                reason: Reason::CredentialsMissing,
                message: "missing credentials: send `authorization: Bearer <token>`".into(),
            }
            .into());
        };
        let malformed = || -> Status {
            Error::Unauthenticated {
                reason: Reason::CredentialsMissing,
                message: "malformed credentials: expected `Bearer rgy_…`".into(),
            }
            .into()
        };
        let value = value.to_str().map_err(|_| malformed())?;
        let secret = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(malformed)?
            .trim();
        let id = token::parse(secret).ok_or_else(malformed)?;
        let invalid = || -> Status {
            Error::Unauthenticated {
                reason: Reason::TokenInvalid,
                message: format!("token {id} is not valid (unknown, revoked or expired)"),
            }
            .into()
        };
        let known = self.lookup(id, mode).await?.ok_or_else(invalid)?;
        let record = &known.0;
        if !token::hashes_equal(&record.secret_hash, &token::hash(secret))
            || !record.is_active(OffsetDateTime::now_utc())
        {
            return Err(invalid());
        }
        let role = record.role().ok_or_else(invalid)?;
        if let Some(l) = &self.limiter
            && l.check_key(&record.id).is_err()
        {
            return Err(Error::ResourceExhausted {
                reason: Reason::RateLimited,
                message: format!("rate limit exceeded for token {id}"),
            }
            .into());
        }
        self.touch(&record.id);
        Ok(Principal {
            token_id: record.id.clone(),
            role,
            expire_time: record.expire_time,
        })
    }

    /// Records last use at most once a minute per token, off the request path.
    fn touch(&self, id: &str) {
        if self.touched.contains_key(id) {
            return;
        }
        self.touched.insert(id.to_owned(), ());
        let store = self.store.clone();
        let id = id.to_owned();
        tokio::spawn(async move {
            if let Err(e) = store.touch_token(&id).await {
                tracing::debug!(error = %e, "could not record token use");
            }
        });
    }

    /// Authorises a call to `path`.
    pub async fn authorize(
        &self,
        path: &str,
        header: Option<&HeaderValue>,
        peer: Option<IpAddr>,
        mode: ReadMode,
    ) -> Result<Option<Principal>, Status> {
        if OPEN_PREFIXES.iter().any(|p| path.starts_with(p)) {
            return Ok(None);
        }
        let Some(need) = required_role(path) else {
            return Err(Error::PermissionDenied {
                reason: Reason::MethodNotAllowed,
                message: format!("method {path} is not allowed"),
            }
            .into());
        };
        let p = self.authenticate(header, peer, mode).await?;
        if !token::allows(p.role, need) {
            return Err(Error::PermissionDenied {
                reason: Reason::RoleTooLow,
                message: format!("token {} has role {}; {path} needs {need}", p.token_id, p.role),
            }
            .into());
        }
        Ok(Some(p))
    }
}

fn too_many_failures(ip: IpAddr) -> Status {
    Error::ResourceExhausted {
        reason: Reason::TooManyFailedAttempts,
        message: format!("too many failed authentications from {ip}; wait a second before retrying"),
    }
    .into()
}

/// The peer address of a request (plaintext or TLS).
fn peer_ip(ext: &http::Extensions) -> Option<IpAddr> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    ext.get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
        .or_else(|| {
            ext.get::<TlsConnectInfo<TcpConnectInfo>>()
                .and_then(|t| t.get_ref().remote_addr())
        })
        .map(|a| a.ip())
}

/// The tower layer that enforces [`Authenticator`] on every request, and turns tonic's
/// "message too large" (OUT_OF_RANGE) into RESOURCE_EXHAUSTED.
/// It also bounds how long a call may take to produce its response (DEADLINE_EXCEEDED), and
/// makes that deadline (or the client's shorter `grpc-timeout`) the call's
/// [`crate::limits::call_deadline`].
#[derive(Debug, Clone)]
pub struct AuthLayer {
    pub auth: Arc<Authenticator>,
    pub deadline: Duration,
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
            deadline: self.deadline,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<Authenticator>,
    deadline: Duration,
}

impl<S, B, R> tower::Service<Request<B>> for AuthService<S>
where
    S: tower::Service<Request<B>, Response = Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn std::future::Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let auth = self.auth.clone();
        let deadline = self.deadline;
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let peer = peer_ip(req.extensions());
            let mode = match read_mode(&auth.store, &path, req.headers()).await {
                Ok(m) => m,
                Err(status) => return Ok(status.into_http()),
            };
            req.extensions_mut().insert(mode);
            match auth
                .authorize(&path, req.headers().get(http::header::AUTHORIZATION), peer, mode)
                .await
            {
                Ok(Some(p)) => {
                    tracing::Span::current().record("actor", p.token_id.as_str());
                    req.extensions_mut().insert(Actor { id: p.token_id.clone() });
                    req.extensions_mut().insert(p);
                }
                Ok(None) => {}
                Err(status) => return Ok(status.into_http()),
            }
            let within = crate::limits::grpc_timeout(req.headers()).map_or(deadline, |t| t.min(deadline));
            let until = tokio::time::Instant::now() + within;
            let writes = Arc::new(CallWrites::default());
            // Boxed: the service's future is large, and is moved through two wrappers here.
            let call = tracking_writes(
                writes.clone(),
                crate::limits::with_deadline(until, Box::pin(inner.call(req))),
            );
            let answer = tokio::time::timeout(deadline, call).await;
            // Committed or not, what the call wrote leaves this replica's cache before the
            // answer leaves (a rolled-back write only costs a refill).
            if let Some(c) = auth.store.cache() {
                writes.apply(c);
            }
            let Ok(resp) = answer else {
                return Ok(Status::from(Error::DeadlineExceeded(format!(
                    "{path} did not complete within the server's {} ms deadline",
                    deadline.as_millis()
                )))
                .into_http());
            };
            let mut resp = resp?;
            remap_too_large(&mut resp);
            let sequence = writes.sequence();
            if sequence > 0 && !resp.headers().contains_key("grpc-status") {
                resp.headers_mut().insert(SEQUENCE_HEADER, HeaderValue::from(sequence));
            }
            Ok(resp)
        })
    }
}

/// Response metadata of a successful write: the change-log sequence it committed at.
pub const SEQUENCE_HEADER: &str = "registry-sequence";
/// Request metadata of a read: answer from state that includes every change up to this
/// sequence.
pub const MIN_SEQUENCE_HEADER: &str = "registry-min-sequence";

/// How the call to `path` may read: a read (a VIEWER method) that sends
/// `registry-min-sequence: N` is answered from the read cache once this replica has applied
/// N (after at most the cache's `consistency_wait`), else from the database. Writes always
/// read the database.
async fn read_mode(store: &Store, path: &str, headers: &http::HeaderMap) -> Result<ReadMode, Status> {
    let Some(value) = headers.get(MIN_SEQUENCE_HEADER) else {
        return Ok(ReadMode::Cached);
    };
    let min: i64 = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n >= 0)
        .ok_or_else(|| {
            Status::from(Error::invalid(
                MIN_SEQUENCE_HEADER,
                "must be a change-log sequence (a non-negative integer) from `registry-sequence`",
            ))
        })?;
    match store.cache() {
        Some(c) if required_role(path) == Some(Role::Viewer) => Ok(c.mode_for(min).await),
        _ => Ok(ReadMode::Cached),
    }
}

/// tonic reports an oversized request as OUT_OF_RANGE; the registry's contract says
/// RESOURCE_EXHAUSTED.
fn remap_too_large<R>(resp: &mut Response<R>) {
    let h = resp.headers();
    let too_large = h.get("grpc-status").is_some_and(|s| s == "11")
        && h.get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .is_some_and(|m| m.contains("message length too large") || m.contains("message%20length%20too%20large"));
    if too_large {
        let h = resp.headers_mut();
        h.insert("grpc-status", HeaderValue::from_static("8"));
        h.insert(
            "grpc-message",
            HeaderValue::from_static("request%20message%20exceeds%20the%20maximum%20size"),
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use prost::Message;

    use super::*;

    /// Every method of every registry service has a role, and the table names no method
    /// that does not exist.
    #[test]
    fn method_table_covers_every_rpc() {
        let fds = prost_types::FileDescriptorSet::decode(registry_proto::FILE_DESCRIPTOR_SET).expect("descriptor");
        let mut methods = BTreeSet::new();
        for file in &fds.file {
            for svc in &file.service {
                for m in &svc.method {
                    methods.insert(format!("/{}.{}/{}", file.package(), svc.name(), m.name()));
                }
            }
        }
        let table: BTreeSet<String> = METHOD_ROLES.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(methods, table);
        assert_eq!(table.len(), METHOD_ROLES.len(), "no duplicates");
    }

    #[test]
    fn unknown_methods_are_denied() {
        assert_eq!(required_role("/motie.registry.v1.PolicyGoalService/Nope"), None);
        assert_eq!(
            required_role("/motie.registry.v1.AdminService/CreateToken"),
            Some(Role::Admin)
        );
    }

    /// The table agrees with the `min_role` option every method carries in the protos.
    #[test]
    fn method_table_matches_proto_min_role() {
        let methods = registry_proto::annotations::methods();
        assert_eq!(methods.len(), METHOD_ROLES.len());
        for m in &methods {
            let proto = registry_proto::annotations::method_min_role(m).map(|r| r as i32);
            assert_eq!(required_role(m).map(Role::to_proto), proto, "{m}");
        }
    }
}
