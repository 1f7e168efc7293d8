//! `registryd` command line: `serve`, `migrate` and `dev`.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use registry_server::{
    ServerOptions, Store, StoreOptions,
    pg::{self, PgHandle},
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
}

#[derive(Debug, Args)]
struct DevArgs {
    /// Data directory of the private PostgreSQL cluster (kept across restarts).
    #[arg(long, env = "REGISTRY_DEV_DATA_DIR", default_value = pg::DEFAULT_DEV_DATA_DIR)]
    data_dir: PathBuf,
    /// Address to listen on for gRPC (port 0 picks a free port).
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
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
    telemetry::init(cli.log_format);
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
            let listener = bind(args.listen).await?;
            let opts = ServerOptions {
                shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
                max_request_bytes: args.max_request_bytes,
                drain_timeout: Duration::from_secs(args.drain_timeout_secs),
                ..ServerOptions::default()
            };
            serve_until_signal(store, listener, opts).await
        }
        Command::Dev(args) => {
            let pg = pg::discover(pg::Policy::Dev {
                data_dir: args.data_dir,
            })
            .await?;
            let served = dev(&pg, args.listen).await;
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

/// `registryd dev` on the PostgreSQL `pg`: database `registry`, default options.
async fn dev(pg: &PgHandle, listen: SocketAddr) -> anyhow::Result<()> {
    let url = pg::with_database(pg.url(), "registry")?;
    let store = Store::connect(&url, StoreOptions::default())
        .await
        .context("cannot connect to PostgreSQL")?;
    // next: import seeds once (first start on an empty database).
    // next: create or reuse an admin token, and print it in the banner.
    let listener = bind(listen).await?;
    let addr = listener.local_addr()?;
    let data = match pg.data_dir() {
        Some(dir) => format!("{} (private PostgreSQL, stopped on exit)", dir.display()),
        None => "external PostgreSQL server".to_owned(),
    };
    println!(
        "\nregistryd dev is ready\n  gRPC endpoint: http://{addr}\n  database:      {}\n  data:          {data}\n  \
         try:           grpcurl -plaintext {addr} list\nCtrl-C stops the server, then the database.\n",
        pg::redact_password(&url)
    );
    let pool = store.pool().clone();
    let served = serve_until_signal(store, listener, ServerOptions::default()).await;
    // Close the connections before the database stops.
    pool.close().await;
    served
}
