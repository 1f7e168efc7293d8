//! `registryd` command line: `serve`, `migrate`, `dev`, `token` and `healthcheck`.

use std::{
    net::SocketAddr,
    num::NonZeroU32,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use registry_server::{
    ServerOptions, Store, StoreOptions, TlsOptions,
    domain::{Actor, enums::Role, token},
    observe::MetricsListener,
    pg::{self, PgHandle},
    store::WriteCtx,
    telemetry,
};
use tokio::net::TcpListener;

/// The Policy & Partner Registry server.
#[derive(Debug, Parser)]
#[command(name = "registryd", version, about)]
struct Cli {
    /// Log format.
    #[arg(
        long,
        env = "REGISTRY_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: telemetry::LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run migrations, then serve gRPC until SIGTERM/Ctrl-C.
    Serve(ServeArgs),
    /// Run database migrations and exit.
    Migrate(DbArgs),
    /// Development: find or start a PostgreSQL (DATABASE_URL, else a private cluster in
    /// --data-dir), then serve like `serve` until SIGTERM/Ctrl-C and stop that PostgreSQL.
    Dev(DevArgs),
    /// Manage API tokens directly in the database (bootstrap, break-glass).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check a running server's gRPC health (for container HEALTHCHECKs): exit 0 when it
    /// answers SERVING, 1 otherwise.
    Healthcheck(HealthcheckArgs),
}

#[derive(Debug, Args)]
struct HealthcheckArgs {
    /// gRPC endpoint of the server (`https://…` needs --tls-ca).
    #[arg(
        long,
        env = "REGISTRY_HEALTHCHECK_ENDPOINT",
        default_value = "http://127.0.0.1:50051"
    )]
    endpoint: String,
    /// Service to check; empty for the whole server.
    #[arg(long, default_value = "")]
    service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 5)]
    timeout_secs: u64,
    /// PEM CA bundle to verify an `https://` endpoint.
    #[arg(long, env = "REGISTRY_HEALTHCHECK_TLS_CA")]
    tls_ca: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// viewer, editor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Days until the token expires (never when omitted).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List active tokens (with --all also revoked and expired ones).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        all: bool,
    },
    /// Revoke a token by id (`tokens/{id}` or `{id}`).
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        id: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("unknown role {s:?} (viewer, editor, admin)"))
}

#[derive(Debug, Args)]
struct DevArgs {
    /// Data directory of the private PostgreSQL cluster (kept across restarts).
    #[arg(long, env = "REGISTRY_DEV_DATA_DIR", default_value = pg::DEFAULT_DEV_DATA_DIR)]
    data_dir: PathBuf,
    /// Address to listen on for gRPC (port 0 picks a free port).
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// File holding the dev admin token (created on first start, reused afterwards).
    #[arg(long, env = "REGISTRY_DEV_TOKEN_FILE", default_value = ".registry-dev-admin-token")]
    token_file: PathBuf,
    /// Seed data imported on the first start (when the database holds no goals and no
    /// partners); skipped with a note when the directory does not exist.
    #[arg(long, env = "REGISTRY_DEV_SEEDS", default_value = "seeds")]
    seeds: PathBuf,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// PostgreSQL URL; the database is created if it does not exist.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Maximum database connections in the pool.
    #[arg(long, env = "REGISTRY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    db_max_connections: u32,
}

#[derive(Debug, Args)]
struct ServeArgs {
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

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
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

fn store_options(db: &DbArgs) -> StoreOptions {
    StoreOptions {
        max_connections: db.db_max_connections,
        ..StoreOptions::default()
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = telemetry::init(cli.log_format);
    match cli.command {
        Command::Migrate(db) => {
            Store::connect(&db.database_url, store_options(&db))
                .await
                .context("cannot connect to PostgreSQL")?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Serve(args) => {
            let store = Store::connect(
                &args.db.database_url,
                StoreOptions {
                    soft_delete_retention: Duration::from_secs(args.soft_delete_retention_days * 24 * 3600),
                    ..store_options(&args.db)
                },
            )
            .await
            .context("cannot connect to PostgreSQL")?;
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
                ..ServerOptions::default()
            };
            serve_until_signal(store, listener, opts).await
        }
        Command::Token(cmd) => token_command(cmd).await,
        Command::Healthcheck(args) => healthcheck(args).await,
        Command::Dev(args) => {
            let pg = pg::discover(pg::Policy::Dev {
                data_dir: args.data_dir.clone(),
            })
            .await?;
            let served = dev(&pg, &args).await;
            let stopped = pg.stop().await.context("cannot stop the private PostgreSQL");
            served.and(stopped)
        }
    }
}

async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}

/// The serving path shared by `serve` and `dev`.
async fn serve_until_signal(store: Store, listener: TcpListener, opts: ServerOptions) -> anyhow::Result<()> {
    registry_server::serve(store, listener, opts, registry_server::shutdown_signal()).await
}

async fn token_command(cmd: TokenCommand) -> anyhow::Result<()> {
    let connect = |db: DbArgs| async move {
        Store::connect(&db.database_url, store_options(&db))
            .await
            .context("cannot connect to PostgreSQL")
    };
    let ctx = WriteCtx {
        actor: Actor { id: "registryd".into() },
        request_id: None,
        validate_only: false,
    };
    match cmd {
        TokenCommand::Create {
            db,
            role,
            description,
            expires_in_days,
        } => {
            let store = connect(db).await?;
            let expire = expires_in_days.map(|d| time::OffsetDateTime::now_utc() + time::Duration::days(d.into()));
            let (rec, secret) = store.create_token(role, &description, expire, &ctx).await?;
            eprintln!(
                "created tokens/{} ({}); the secret is shown only now:",
                rec.id,
                rec.role.to_ascii_lowercase()
            );
            println!("{secret}");
        }
        TokenCommand::List { db, all } => {
            let store = connect(db).await?;
            let mut after = String::new();
            println!(
                "{:<14} {:<7} {:<26} {:<26} DESCRIPTION",
                "ID", "ROLE", "EXPIRES", "REVOKED"
            );
            loop {
                let page = store.list_tokens(&after, 500, all).await?;
                let Some(last) = page.last() else { break };
                after = last.id.clone();
                for t in &page {
                    let show = |t: Option<time::OffsetDateTime>| t.map_or("-".to_owned(), |t| t.to_string());
                    println!(
                        "{:<14} {:<7} {:<26} {:<26} {}",
                        t.id,
                        t.role.to_ascii_lowercase(),
                        show(t.expire_time),
                        show(t.revoke_time),
                        t.description
                    );
                }
            }
        }
        TokenCommand::Revoke { db, id } => {
            let store = connect(db).await?;
            let id = id.strip_prefix("tokens/").unwrap_or(&id);
            let rec = store.revoke_token(id, &ctx).await?;
            println!("revoked tokens/{}", rec.id);
        }
    }
    Ok(())
}

/// The dev admin token: the secret in `file` when it still works, else a new one (written to
/// `file`, readable only by its owner).
async fn dev_admin_token(store: &Store, file: &Path) -> anyhow::Result<String> {
    if let Ok(secret) = std::fs::read_to_string(file) {
        let secret = secret.trim();
        if let Some(id) = token::parse(secret) {
            store.ensure_token(secret, Role::Admin, "registryd dev").await?;
            if let Some(rec) = store.find_token(id).await?
                && token::hashes_equal(&rec.secret_hash, &token::hash(secret))
                && rec.is_active(time::OffsetDateTime::now_utc())
            {
                return Ok(secret.to_owned());
            }
        }
        tracing::warn!(file = %file.display(), "the saved dev token is no longer valid; creating a new one");
    }
    let ctx = WriteCtx {
        actor: Actor { id: "registryd".into() },
        request_id: None,
        validate_only: false,
    };
    let (_, secret) = store.create_token(Role::Admin, "registryd dev", None, &ctx).await?;
    write_private(file, &secret).with_context(|| format!("cannot save the dev token to {}", file.display()))?;
    Ok(secret)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.write_all(b"\n")
}

/// `registryd dev` on the PostgreSQL `pg`: database `registry`, default options.
async fn dev(pg: &PgHandle, args: &DevArgs) -> anyhow::Result<()> {
    let token_file = args.token_file.as_path();
    let url = pg::with_database(pg.url(), "registry")?;
    let store = Store::connect(&url, StoreOptions::default())
        .await
        .context("cannot connect to PostgreSQL")?;
    let admin_token = dev_admin_token(&store, token_file).await?;
    let listener = bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let pool = store.pool().clone();
    // Serve from here on: the seeds are imported through the API, like `registryctl import`.
    let server = tokio::spawn(serve_until_signal(store, listener, ServerOptions::default()));
    let endpoint = format!("http://{}", client_addr(addr));
    let seeds = seed_once(&endpoint, &admin_token, &args.seeds).await;
    let data = match pg.data_dir() {
        Some(dir) => format!("{} (private PostgreSQL, stopped on exit)", dir.display()),
        None => "external PostgreSQL server".to_owned(),
    };
    println!(
        "\nregistryd dev is ready\n  gRPC endpoint: {endpoint}\n  admin token:   {admin_token}\n  \
         (saved in {})\n  database:      {}\n  data:          {data}\n  seeds:         {seeds}\n  \
         try:           REGISTRY_ENDPOINT={endpoint} REGISTRY_TOKEN={admin_token} \
         cargo run -q -p registry-cli -- goals tree\n  \
         or:            grpcurl -plaintext -H 'authorization: Bearer {admin_token}' {} \
         motie.registry.v1.PolicyGoalService/ListPolicyGoals\nCtrl-C stops the server, then the database.\n",
        token_file.display(),
        pg::redact_password(&url),
        client_addr(addr),
    );
    let served = match server.await {
        Ok(r) => r,
        Err(e) => Err(anyhow::anyhow!("the server task failed: {e}")),
    };
    // Close the connections before the database stops.
    pool.close().await;
    served
}

/// The address a local client dials for a listener bound to `addr` (an unspecified address
/// becomes loopback).
fn client_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        a => a,
    }
}

/// Imports `seeds` through the API when the registry holds no goals and no partners (also
/// none soft-deleted): the first start. Returns what happened, for the banner; a failure is
/// reported there and does not stop the server.
async fn seed_once(endpoint: &str, token: &str, seeds: &Path) -> String {
    use registry_client::{RegistryClient, pb};

    if !seeds.exists() {
        return format!(
            "none ({} not found; --seeds DIR or REGISTRY_DEV_SEEDS)",
            seeds.display()
        );
    }
    let client = match RegistryClient::builder(endpoint.to_owned())
        .token(token.to_owned())
        .user_agent("registryd-dev-seeds")
        .connect()
        .await
    {
        Ok(c) => c,
        Err(e) => return format!("not imported: cannot connect: {e}"),
    };
    let goals = client
        .list_policy_goals_page(pb::ListPolicyGoalsRequest {
            page_size: 1,
            show_deleted: true,
            ..Default::default()
        })
        .await
        .map(|r| r.policy_goals.is_empty());
    let partners = client
        .list_trade_partners_page(pb::ListTradePartnersRequest {
            page_size: 1,
            show_deleted: true,
            ..Default::default()
        })
        .await
        .map(|r| r.trade_partners.is_empty());
    match (goals, partners) {
        (Ok(true), Ok(true)) => {}
        (Ok(_), Ok(_)) => {
            return format!(
                "kept (the database is not empty; not imported again from {})",
                seeds.display()
            );
        }
        (Err(e), _) | (_, Err(e)) => return format!("not imported: {e}"),
    }
    match registry_cli::import_seeds(&client, seeds).await {
        Ok(report) => format!("imported from {}: {}", seeds.display(), report.total),
        Err(e) => {
            tracing::warn!(seeds = %seeds.display(), error = %e, "the seed import failed");
            format!("import from {} failed: {e}", seeds.display())
        }
    }
}

/// `registryd healthcheck`: exit 0 when the server answers SERVING, 1 otherwise.
async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<()> {
    let ca = args
        .tls_ca
        .as_deref()
        .map(|p| read_file(p, "TLS CA bundle"))
        .transpose()?;
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    match registry_server::healthcheck::check(&args.endpoint, &args.service, timeout, ca).await {
        Ok(status) if status == tonic_health::pb::health_check_response::ServingStatus::Serving => {
            println!("{}", status.as_str_name());
            Ok(())
        }
        Ok(status) => {
            println!("{}", status.as_str_name());
            std::process::exit(1)
        }
        Err(e) => {
            eprintln!("unhealthy: {e:#}");
            std::process::exit(1)
        }
    }
}
