//! `registryd serve` (production: config from flags/env, migrations on start, graceful
//! shutdown) and `registryd migrate`.

use std::{net::SocketAddr, num::NonZeroU32, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Args;
use registry_server::{
    ServerOptions, Store, StoreOptions, TlsOptions,
    domain::{enums::Role, token},
    observe::MetricsListener,
};
use tokio::net::TcpListener;

use super::config::{DbArgs, bind, read_file};

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on for gRPC.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
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
        match &self.bootstrap_admin_token_file {
            Some(p) => {
                let s = String::from_utf8(read_file(p, "bootstrap admin token file")?)
                    .context("the bootstrap admin token file is not UTF-8")?;
                Ok(Some(s.trim().to_owned()))
            }
            None => Ok(None),
        }
    }
}

fn cors_origin(s: &str) -> Result<http::HeaderValue, String> {
    registry_server::web::parse_origin(s.trim()).map_err(|e| e.to_string())
}

/// `registryd migrate`.
pub async fn migrate(db: DbArgs) -> anyhow::Result<()> {
    db.connect(db.store_options()).await?;
    tracing::info!("migrations applied");
    Ok(())
}

/// `registryd serve`.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let store = args
        .db
        .connect(StoreOptions {
            soft_delete_retention: Duration::from_secs(args.soft_delete_retention_days * 24 * 3600),
            ..args.db.store_options()
        })
        .await?;
    if let Some(secret) = args.bootstrap.secret()? {
        bootstrap_admin(&store, &secret, "bootstrap admin").await?;
    }
    let listener = bind(args.listen).await?;
    let tls = args.tls.load()?;
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
        request_timeout: Duration::from_secs(args.request_timeout_secs.max(1)),
        rate_limit_per_token: args.rate_limit_per_token,
        metrics_listener,
        tls,
        cors_allowed_origins: args.cors_allowed_origins,
        ..ServerOptions::default()
    };
    serve_until_signal(store, listener, opts).await
}

/// The serving path shared by `serve` and `dev`.
pub async fn serve_until_signal(store: Store, listener: TcpListener, opts: ServerOptions) -> anyhow::Result<()> {
    registry_server::serve(store, listener, opts, registry_server::shutdown_signal()).await
}

/// Registers `secret` as an admin token unless its id exists; fails when the id exists with
/// another secret, and warns when that token was revoked or has expired.
async fn bootstrap_admin(store: &Store, secret: &str, description: &str) -> anyhow::Result<()> {
    let Some(id) = token::parse(secret) else {
        bail!(
            "the bootstrap admin token is not a registry token (rgy_{{12 chars}}_{{secret}}); create one with `registryd token create`"
        );
    };
    if store.ensure_token(secret, Role::Admin, description).await? {
        tracing::info!(token = %id, "bootstrap admin token registered");
        return Ok(());
    }
    let rec = store.find_token(id).await?.context("bootstrap token vanished")?;
    if !token::hashes_equal(&rec.secret_hash, &token::hash(secret)) {
        bail!("a token with id {id} exists with a different secret; the bootstrap token cannot be used");
    }
    if !rec.is_active(time::OffsetDateTime::now_utc()) {
        tracing::warn!(token = %id, "the bootstrap admin token was revoked or has expired; it stays unusable");
    }
    Ok(())
}
