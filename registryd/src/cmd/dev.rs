//! `registryd dev`: zero-config. DATABASE_URL if set, else a private PostgreSQL from the
//! local binaries (data kept in --data-dir); migrates, imports `seeds/` on the first start,
//! prints the endpoint and an admin token, and stops the database on Ctrl-C.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use anyhow::Context;
use clap::Args;
use registry_server::{
    ServerOptions, Store, StoreOptions,
    domain::{enums::Role, token},
};
use registryd::{
    pg::{self, PgHandle},
    seeds,
};

use super::{
    config::bind,
    serve::{check_plaintext, serve_until_signal},
    token::registryd_ctx,
};

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Data directory of the private PostgreSQL cluster (kept across restarts).
    #[arg(long, env = "REGISTRY_DEV_DATA_DIR", default_value = pg::DEFAULT_DEV_DATA_DIR)]
    data_dir: PathBuf,
    /// Address to listen on for gRPC (port 0 picks a free port). Dev mode serves plaintext:
    /// only a loopback address, unless --insecure-plaintext-off-loopback.
    #[arg(long, env = "REGISTRY_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Serve plaintext on a non-loopback address anyway (a warning is logged).
    #[arg(long, env = "REGISTRY_INSECURE_PLAINTEXT_OFF_LOOPBACK")]
    insecure_plaintext_off_loopback: bool,
    /// File holding the dev admin token (created on first start, reused afterwards).
    #[arg(long, env = "REGISTRY_DEV_TOKEN_FILE", default_value = ".registry-dev-admin-token")]
    token_file: PathBuf,
    /// Seed data imported on the first start (when the database holds no goals and no
    /// partners); skipped with a note when the directory does not exist.
    #[arg(long, env = "REGISTRY_DEV_SEEDS", default_value = "seeds")]
    seeds: PathBuf,
}

/// `registryd dev`: finds or starts the PostgreSQL, serves until a signal, stops it.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    check_plaintext(args.listen, false, args.insecure_plaintext_off_loopback)?;
    let pg = pg::discover(pg::Policy::Dev {
        data_dir: args.data_dir.clone(),
    })
    .await?;
    let served = dev(&pg, &args).await;
    let stopped = pg.stop().await.context("cannot stop the private PostgreSQL");
    served.and(stopped)
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
    let seeds = seeds::seed_once(&endpoint, &admin_token, &args.seeds).await;
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

/// The dev admin token: the secret in `file` when it still works, else a new one (written to
/// `file`, readable only by its owner).
async fn dev_admin_token(store: &Store, file: &Path) -> anyhow::Result<String> {
    if let Ok(secret) = std::fs::read_to_string(file) {
        let secret = secret.trim();
        if let Some(id) = token::parse(secret) {
            store.ensure_token(secret, Role::Admin, "registryd dev", None).await?;
            if let Some(rec) = store.find_token(id).await?
                && token::hashes_equal(&rec.secret_hash, &token::hash(secret))
                && rec.is_active(time::OffsetDateTime::now_utc())
            {
                return Ok(secret.to_owned());
            }
        }
        tracing::warn!(file = %file.display(), "the saved dev token is no longer valid; creating a new one");
    }
    let (_, secret) = store
        .create_token(Role::Admin, "registryd dev", None, &registryd_ctx())
        .await?;
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

/// The address a local client dials for a listener bound to `addr` (an unspecified address
/// becomes loopback).
fn client_addr(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => SocketAddr::from(([127, 0, 0, 1], a.port())),
        SocketAddr::V6(a) if a.ip().is_unspecified() => SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port())),
        a => a,
    }
}
