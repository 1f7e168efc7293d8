//! `registryd serve` (production: config from flags/env, migrations on start, graceful
//! shutdown) and `registryd migrate`.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Args;
use registry_server::{
    ServerOptions, Store, StoreOptions, TlsOptions,
    domain::{enums::Role, token},
    limits::StreamLimits,
    observe::MetricsListener,
    store::cache::CacheOptions,
};
use tokio::net::TcpListener;

use super::config::{DbArgs, bind, read_file};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on for gRPC. Without TLS, only a loopback address is accepted
    /// unless --insecure-plaintext-off-loopback is given.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Serve plaintext gRPC on a non-loopback address (bearer tokens then cross the network
    /// unencrypted). Only for a network where something else encrypts, e.g. a TLS-terminating
    /// proxy or a private container network; a warning is logged at every start.
    #[arg(long, env = "REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK")]
    insecure_plaintext_off_loopback: bool,
    /// Do not run migrations at start: check the schema is current instead (for a database
    /// role without DDL rights; run `registryd migrate` as the owner role first).
    #[arg(long, env = "REGISTRY_NO_MIGRATE")]
    no_migrate: bool,
    /// Seconds to report NOT_SERVING before closing the listener on shutdown.
    #[arg(long, env = "REGISTRY_SHUTDOWN_GRACE_SECS", default_value_t = 0)]
    shutdown_grace_secs: u64,
    /// Seconds in-flight RPCs and streams may continue after shutdown starts; streams still
    /// open then end with UNAVAILABLE.
    #[arg(long, env = "REGISTRY_DRAIN_TIMEOUT_SECS", default_value_t = 10)]
    drain_timeout_secs: u64,
    /// Days a soft-deleted resource can be undeleted before it is purged.
    #[arg(long, env = "REGISTRY_SOFT_DELETE_RETENTION_DAYS", default_value_t = 30)]
    soft_delete_retention_days: u64,
    /// Maximum request size in bytes.
    #[arg(long, env = "REGISTRY_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_request_bytes: usize,
    /// Server-side deadline of a unary RPC, in seconds.
    #[arg(long, env = "REGISTRY_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Requests per second allowed per token (unlimited when omitted).
    #[arg(long, env = "REGISTRY_RATE_LIMIT_PER_TOKEN")]
    rate_limit_per_token: Option<NonZeroU32>,
    /// Failed authentications allowed per peer address and second; beyond, the peer is
    /// refused (RESOURCE_EXHAUSTED) for a second. 0: unlimited.
    #[arg(long, env = "REGISTRY_FAILED_AUTH_PER_PEER", default_value_t = 10)]
    failed_auth_per_peer: u32,
    /// Change streams (WatchChanges) one token may hold open.
    #[arg(long, env = "REGISTRY_MAX_STREAMS_PER_TOKEN", default_value_t = 32)]
    max_streams_per_token: usize,
    /// Change streams open on this server in total.
    #[arg(long, env = "REGISTRY_MAX_STREAMS", default_value_t = 10_000)]
    max_streams: usize,
    /// Requests in flight on this server; beyond, RESOURCE_EXHAUSTED at once.
    #[arg(long, env = "REGISTRY_MAX_CONCURRENT_REQUESTS", default_value_t = 1024)]
    max_concurrent_requests: usize,
    /// A List counts its matches (total_size) up to this many; beyond, it answers this
    /// plus one ("more than").
    #[arg(long, env = "REGISTRY_MAX_COUNT", default_value_t = 10_000)]
    max_count: i64,
    /// Resources and tokens the read cache holds (0: no cache, every read goes to
    /// PostgreSQL).
    #[arg(long, env = "REGISTRY_CACHE_ENTRIES", default_value_t = CacheOptions::default().max_entries)]
    cache_entries: u64,
    /// Memory the read cache holds, in bytes (estimated: three times the values' JSON size).
    #[arg(long, env = "REGISTRY_CACHE_BYTES", default_value_t = CacheOptions::default().max_bytes)]
    cache_bytes: u64,
    /// How long a read carrying `registry-min-sequence` waits for this replica to apply
    /// that change before it reads PostgreSQL instead, in milliseconds.
    #[arg(long, env = "REGISTRY_CONSISTENCY_WAIT_MS", default_value_t = 100)]
    consistency_wait_ms: u64,
    /// Address of the Prometheus `/metrics` endpoint (plain HTTP, unauthenticated; off when
    /// omitted). E.g. 127.0.0.1:9464.
    #[arg(long, env = "REGISTRY_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Browser origins (scheme://host[:port]) allowed to call the API over gRPC-Web; repeat
    /// the flag or separate them with commas. None by default: no cross-origin browser calls.
    #[arg(
        long = "cors-allowed-origin",
        env = "REGISTRY_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        value_parser = cors_origin
    )]
    cors_allowed_origins: Vec<http::HeaderValue>,
    #[command(flatten)]
    tls: TlsArgs,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
}

#[derive(Debug, Args)]
struct TlsArgs {
    /// PEM certificate chain; serves TLS when given (with --tls-key).
    #[arg(long, env = "REGISTRY_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "REGISTRY_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA bundle; when given, clients must present a certificate it signed (mTLS).
    #[arg(long, env = "REGISTRY_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct BootstrapArgs {
    /// An admin token secret (`rgy_…`) registered at start-up if its id is unknown, for
    /// container deployments. Prefer --bootstrap-admin-token-file.
    #[arg(long, env = "REGISTRY_BOOTSTRAP_ADMIN_TOKEN", hide_env_values = true)]
    bootstrap_admin_token: Option<String>,
    /// File (e.g. a Docker secret) holding the bootstrap admin token secret.
    #[arg(
        long,
        env = "REGISTRY_BOOTSTRAP_ADMIN_TOKEN_FILE",
        conflicts_with = "bootstrap_admin_token"
    )]
    bootstrap_admin_token_file: Option<PathBuf>,
    /// File holding an EDITOR token secret registered like the admin one (e.g. for a seed
    /// job, which needs no more than EDITOR).
    #[arg(long, env = "REGISTRY_BOOTSTRAP_EDITOR_TOKEN_FILE")]
    bootstrap_editor_token_file: Option<PathBuf>,
    /// Days a bootstrap token works after it is registered.
    #[arg(
        long,
        env = "REGISTRY_BOOTSTRAP_TOKEN_EXPIRES_IN_DAYS",
        default_value_t = 90,
        conflicts_with = "bootstrap_tokens_no_expiry"
    )]
    bootstrap_token_expires_in_days: u32,
    /// Bootstrap tokens never expire (rotate them by hand: see docs/security.md).
    #[arg(long, env = "REGISTRY_BOOTSTRAP_TOKENS_NO_EXPIRY")]
    bootstrap_tokens_no_expiry: bool,
}

impl TlsArgs {
    fn load(&self) -> anyhow::Result<Option<TlsOptions>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        Ok(Some(TlsOptions {
            cert: read_file(cert, "TLS certificate")?,
            key: read_file(key, "TLS key")?,
            client_ca: self
                .tls_client_ca
                .as_deref()
                .map(|p| read_file(p, "TLS client CA"))
                .transpose()?,
        }))
    }
}

impl BootstrapArgs {
    fn secret(&self) -> anyhow::Result<Option<String>> {
        if let Some(s) = &self.bootstrap_admin_token {
            return Ok(Some(s.trim().to_owned()));
        }
        self.bootstrap_admin_token_file
            .as_deref()
            .map(|p| secret_file(p, "bootstrap admin token file"))
            .transpose()
    }

    fn editor_secret(&self) -> anyhow::Result<Option<String>> {
        self.bootstrap_editor_token_file
            .as_deref()
            .map(|p| secret_file(p, "bootstrap editor token file"))
            .transpose()
    }

    fn expire_time(&self) -> Option<time::OffsetDateTime> {
        (!self.bootstrap_tokens_no_expiry).then(|| {
            time::OffsetDateTime::now_utc() + time::Duration::days(self.bootstrap_token_expires_in_days.into())
        })
    }
}

fn cors_origin(s: &str) -> Result<http::HeaderValue, String> {
    registry_server::web::parse_origin(s.trim()).map_err(|e| e.to_string())
}

fn secret_file(path: &std::path::Path, what: &str) -> anyhow::Result<String> {
    let s = String::from_utf8(read_file(path, what)?).with_context(|| format!("the {what} is not UTF-8"))?;
    Ok(s.trim().to_owned())
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    db: DbArgs,
    /// After migrating, grant this (existing) role what `registryd serve` needs and no
    /// more: CONNECT, and SELECT/INSERT/UPDATE/DELETE on the registry's tables and their
    /// sequences; no DDL. Run as the owner of the schema.
    #[arg(long, value_name = "ROLE")]
    grant_to: Option<String>,
}

/// `registryd migrate`.
pub async fn migrate(args: MigrateArgs) -> anyhow::Result<()> {
    let store = args.db.connect(args.db.store_options()).await?;
    tracing::info!("migrations applied");
    if let Some(role) = &args.grant_to {
        store
            .grant_dml(role)
            .await
            .with_context(|| format!("cannot grant the registry's tables to role {role}"))?;
        tracing::info!(role = %role, "granted read/write on the registry's tables");
    }
    Ok(())
}

/// Refuses plaintext on an address other hosts can reach, unless explicitly allowed (then
/// warns, at every start).
pub fn check_plaintext(listen: SocketAddr, tls: bool, allowed: bool) -> anyhow::Result<()> {
    if tls || listen.ip().is_loopback() {
        return Ok(());
    }
    if !allowed {
        bail!(
            "refusing to serve plaintext gRPC on {listen}, which is not a loopback address: bearer tokens would cross the network unencrypted. Configure --tls-cert/--tls-key, listen on 127.0.0.1, or, when something else encrypts the traffic (a TLS-terminating proxy, a private container network), pass --insecure-plaintext-off-loopback (REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK=true)"
        );
    }
    tracing::warn!(
        %listen,
        "INSECURE: serving plaintext gRPC on a non-loopback address (--insecure-plaintext-off-loopback); tokens cross the network unencrypted unless something else encrypts it"
    );
    Ok(())
}

/// `registryd serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let tls = args.tls.load()?;
    check_plaintext(args.listen, tls.is_some(), args.insecure_plaintext_off_loopback)?;
    let admin_secret = args.bootstrap.secret()?;
    let editor_secret = args.bootstrap.editor_secret()?;
    for (secret, what) in [(&admin_secret, "admin"), (&editor_secret, "editor")] {
        if let Some(secret) = secret {
            token::check_strength(secret)
                .map_err(|e| anyhow::anyhow!("the bootstrap {what} token is too weak: {e}"))?;
        }
    }
    let request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    let store = args
        .db
        .connect(StoreOptions {
            soft_delete_retention: Duration::from_secs(args.soft_delete_retention_days * 24 * 3600),
            migrate: !args.no_migrate,
            max_count: args.max_count.max(1),
            statement_timeout: request_timeout,
            ..args.db.store_options()
        })
        .await?;
    let expire = args.bootstrap.expire_time();
    if let Some(secret) = &admin_secret {
        bootstrap(&store, secret, Role::Admin, "bootstrap admin", expire).await?;
    }
    if let Some(secret) = &editor_secret {
        bootstrap(&store, secret, Role::Editor, "bootstrap editor", expire).await?;
    }
    let listener = bind(args.listen).await?;
    let metrics_listener = args
        .metrics_listen
        .map(|addr| MetricsListener::bind(addr).with_context(|| format!("cannot listen on {addr} for metrics")))
        .transpose()?;
    println!(
        "registryd listening on {} ({})",
        listener.local_addr()?,
        if tls.is_some() { "TLS" } else { "plaintext" }
    );
    if let Some(m) = &metrics_listener {
        println!("registryd metrics on http://{}/metrics", m.local_addr()?);
    }
    let opts = ServerOptions {
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
        max_request_bytes: args.max_request_bytes,
        drain_timeout: Duration::from_secs(args.drain_timeout_secs),
        request_timeout,
        rate_limit_per_token: args.rate_limit_per_token,
        failed_auth_per_peer: NonZeroU32::new(args.failed_auth_per_peer),
        streams: StreamLimits {
            per_token: args.max_streams_per_token,
            total: args.max_streams,
        },
        max_concurrent_requests: args.max_concurrent_requests.max(1),
        metrics_listener,
        tls,
        cors_allowed_origins: args.cors_allowed_origins,
        read_cache: CacheOptions {
            max_entries: args.cache_entries,
            max_bytes: args.cache_bytes,
            consistency_wait: Duration::from_millis(args.consistency_wait_ms),
            ..CacheOptions::default()
        },
        ..ServerOptions::default()
    };
    serve_until_signal(store, listener, opts).await
}

/// The serving path shared by `serve` and `dev`.
pub async fn serve_until_signal(store: Store, listener: TcpListener, opts: ServerOptions) -> anyhow::Result<()> {
    registry_server::serve(store, listener, opts, registry_server::shutdown_signal()).await
}

/// Registers `secret` as a token of `role` unless its id exists; fails when the id exists
/// with another secret, and warns when that token was revoked or has expired.
async fn bootstrap(
    store: &Store,
    secret: &str,
    role: Role,
    description: &str,
    expire: Option<time::OffsetDateTime>,
) -> anyhow::Result<()> {
    let Some(id) = token::parse(secret) else {
        bail!(
            "the {description} token is not a registry token (rgy_{{12 chars}}_{{secret}}); create one with `registryd token create`"
        );
    };
    if store.ensure_token(secret, role, description, expire).await? {
        tracing::info!(token = %id, role = %role, "{description} token registered");
        return Ok(());
    }
    let rec = store.find_token(id).await?.context("bootstrap token vanished")?;
    if !token::hashes_equal(&rec.secret_hash, &token::hash(secret)) {
        bail!("a token with id {id} exists with a different secret; the bootstrap token cannot be used");
    }
    if !rec.is_active(time::OffsetDateTime::now_utc()) {
        tracing::warn!(token = %id, "the {description} token was revoked or has expired; it stays unusable");
    }
    Ok(())
}
