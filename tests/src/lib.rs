//! The test harness, shared by every test binary of the workspace (`tests/api`, the
//! `registryd` binary tests, the `registryctl` tests): PostgreSQL for tests, fresh databases,
//! and [`TestApp`], which starts `registryd` in-process on 127.0.0.1:0 against a fresh
//! database and hands out a `registry-client` connected to it.
//!
//! PostgreSQL is found once per test process by `registryd::pg::discover(Policy::Tests)`, the
//! same way `registryd dev` finds it: `DATABASE_URL` (any database on the server; the harness
//! creates its own), else `postgres://postgres@127.0.0.1:5432/postgres` if it answers, else a
//! private cluster from the local PostgreSQL binaries in a temporary directory, stopped and
//! removed after the test process exits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{net::SocketAddr, str::FromStr, sync::OnceLock, time::Duration};

use registry_client::RegistryClient;
use registry_server::{ServerOptions, Store, StoreOptions, domain::enums::Role};
use registryd::pg;
use sqlx::{Connection, Executor, PgConnection, PgPool, postgres::PgConnectOptions};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use registry_client::{Error, pb};

/// The PostgreSQL server tests use, as a URL (found on first use, then the same for the
/// whole test process).
pub fn admin_url() -> String {
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    // Each #[tokio::test] has its own runtime: discover on a thread with a runtime of its own,
    // and let a private cluster outlive every runtime (it is stopped after the process exits).
    let url = URL.get_or_init(|| {
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            let pg = rt
                .block_on(pg::discover(pg::Policy::Tests))
                .map_err(|e| format!("{e:#}"))?;
            pg.stop_at_exit().map_err(|e| format!("{e:#}"))
        })
        .join()
        .unwrap_or_else(|_| Err("PostgreSQL discovery panicked".to_owned()))
    });
    match url {
        Ok(url) => url.clone(),
        Err(e) => panic!("no PostgreSQL for the tests: {e}"),
    }
}

/// A URL for a database of its own on the test PostgreSQL, named `{prefix}_{random}`, not
/// created yet (for `registryd`, which creates it).
pub fn fresh_database_url(prefix: &str) -> String {
    pg::with_database(&admin_url(), &unique_name(prefix)).expect("a database URL")
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh, migrated database on the test PostgreSQL, dropped with this value.
pub struct TestDb {
    pub name: String,
    /// A pool on the database.
    pub pool: PgPool,
}

impl TestDb {
    /// Creates the database and runs the migrations.
    pub async fn create() -> TestDb {
        let db = Self::empty().await;
        registry_server::store::MIGRATOR
            .run(&db.pool)
            .await
            .expect("migrate the test database");
        db
    }

    /// Creates the database without running any migration (to test migrations on the data
    /// shapes of an earlier version).
    pub async fn empty() -> TestDb {
        let name = create_database("registry_test").await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(connect_options(&name))
            .await
            .expect("connect to the test database");
        TestDb { name, pool }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        drop_database(self.name.clone());
    }
}

/// Connect options for database `name` on the test PostgreSQL.
fn connect_options(name: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(&admin_url())
        .expect("valid PostgreSQL URL")
        .database(name)
}

/// Creates an empty database `{prefix}_{random}` and returns its name.
async fn create_database(prefix: &str) -> String {
    let name = unique_name(prefix);
    let mut admin = admin_connection().await;
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .expect("create test database");
    admin.close().await.ok();
    name
}

/// Drops database `name` (disconnecting whoever still uses it), from a thread with its own
/// runtime: callable from `Drop`, which cannot await.
fn drop_database(name: String) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        rt.block_on(async move {
            if let Ok(mut c) = PgConnection::connect(&admin_url()).await {
                let _ = c
                    .execute(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .await;
            }
        });
    })
    .join();
}

async fn admin_connection() -> PgConnection {
    let url = admin_url();
    match PgConnection::connect(&url).await {
        Ok(c) => c,
        Err(e) => panic!(
            "cannot reach PostgreSQL at {url}: {e}\n\
             Start the local server (e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL to a server \
             where this user may CREATE DATABASE."
        ),
    }
}

/// A running registry with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// A client authenticated with an ADMIN token.
    pub client: RegistryClient,
    /// The admin token's secret and id (the actor recorded for its changes).
    pub admin_token: String,
    pub admin_token_id: String,
    pub store: Store,
    pub db_name: String,
    /// Dropped with this app (false for a replica on another app's database).
    owns_database: bool,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// Starts a server with default options.
    pub async fn spawn() -> TestApp {
        Self::spawn_with(ServerOptions::default()).await
    }

    /// Starts a server with the given options on a fresh database.
    pub async fn spawn_with(opts: ServerOptions) -> TestApp {
        Self::spawn_with_store(opts, |s| s).await
    }

    /// Like [`TestApp::spawn_with`], with store options changed by `store`.
    pub async fn spawn_with_store(opts: ServerOptions, store: impl FnOnce(StoreOptions) -> StoreOptions) -> TestApp {
        let db_name = create_database("registry_test").await;
        Self::spawn_on(db_name, opts, store).await
    }

    /// Starts a server on a fresh database that `prepare` set up first, before any migration
    /// of the server's (e.g. the older migrations and rows of an old shape).
    pub async fn spawn_prepared(prepare: impl AsyncFnOnce(&sqlx::PgPool)) -> TestApp {
        let db_name = create_database("registry_test").await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect_with(connect_options(&db_name))
            .await
            .expect("connect to the test database");
        prepare(&pool).await;
        pool.close().await;
        Self::spawn_on(db_name, ServerOptions::default(), |s| s).await
    }

    async fn spawn_on(
        db_name: String,
        opts: ServerOptions,
        store: impl FnOnce(StoreOptions) -> StoreOptions,
    ) -> TestApp {
        let store = Store::connect_with(
            connect_options(&db_name),
            store(StoreOptions {
                max_connections: 8,
                acquire_timeout: Duration::from_secs(10),
                ..StoreOptions::default()
            }),
        )
        .await
        .expect("connect and migrate");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(registry_server::serve(store.clone(), listener, opts, async {
            let _ = rx.await;
        }));
        let (admin, admin_token) = store
            .create_token(Role::Admin, "e2e admin", None, &system_ctx())
            .await
            .expect("bootstrap admin token");
        // The listener is bound before serve() starts, so connecting cannot race it.
        let client = RegistryClient::builder(format!("http://{addr}"))
            .token(admin_token.clone())
            .lazy(true)
            .connect()
            .await
            .expect("connect client");
        TestApp {
            addr,
            client,
            admin_token,
            admin_token_id: admin.id,
            store,
            db_name,
            owns_database: true,
            shutdown: Some(tx),
            server: Some(server),
        }
    }

    /// Another registryd on this app's database (a replica, as behind a load balancer),
    /// with its own admin client; the database stays with this app.
    pub async fn spawn_replica(&self, opts: ServerOptions) -> TestApp {
        let mut replica = Self::spawn_on(self.db_name.clone(), opts, |s| s).await;
        replica.owns_database = false;
        replica
    }

    /// A second, independent (admin) client of the same server.
    pub async fn new_client(&self) -> RegistryClient {
        RegistryClient::builder(format!("http://{}", self.addr))
            .token(self.admin_token.clone())
            .connect()
            .await
            .expect("connect client")
    }

    /// Runs a query against this app's database.
    pub fn pool(&self) -> &sqlx::PgPool {
        self.store.pool()
    }

    /// Signals shutdown and waits for the server to finish draining.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        Ok(())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if self.owns_database {
            drop_database(self.db_name.clone());
        }
    }
}

/// The write context of harness-made changes.
pub fn system_ctx() -> registry_server::store::WriteCtx {
    registry_server::store::WriteCtx {
        actor: registry_server::domain::Actor::system(),
        request_id: None,
        validate_only: false,
    }
}

impl TestApp {
    /// A new token with `role`, and a client that uses it.
    pub async fn client_with_role(&self, role: Role) -> (String, RegistryClient) {
        let (rec, secret) = self
            .store
            .create_token(role, "e2e", None, &system_ctx())
            .await
            .expect("create token");
        (rec.id, self.client.with_token(Some(secret)).expect("token header"))
    }
}

/// A minimal valid root goal.
pub fn goal(title: &str, pillar: pb::Pillar) -> pb::PolicyGoal {
    pb::PolicyGoal {
        title: title.to_owned(),
        pillar: pillar.into(),
        ..Default::default()
    }
}

/// Create request for `id` with `goal`.
pub fn create(id: &str, goal: pb::PolicyGoal) -> pb::CreatePolicyGoalRequest {
    pb::CreatePolicyGoalRequest {
        policy_goal_id: id.to_owned(),
        policy_goal: Some(goal),
        ..Default::default()
    }
}

/// Field paths of an INVALID_ARGUMENT error (panics on any other result).
pub fn violations<T: std::fmt::Debug>(r: Result<T, Error>) -> Vec<String> {
    match r {
        Err(Error::InvalidArgument { violations, .. }) => violations.into_iter().map(|v| v.field).collect(),
        other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
    }
}

/// A minimal valid partner of `kind`.
pub fn partner(kind: pb::trade_partner::Kind, display_name: &str) -> pb::TradePartner {
    pb::TradePartner {
        kind: kind.into(),
        display_name: display_name.to_owned(),
        ..Default::default()
    }
}

/// Create request for partner `id`.
pub fn create_partner(id: &str, partner: pb::TradePartner) -> pb::CreateTradePartnerRequest {
    pb::CreateTradePartnerRequest {
        trade_partner_id: id.to_owned(),
        trade_partner: Some(partner),
        ..Default::default()
    }
}

/// The reason of a FAILED_PRECONDITION error (panics on any other result).
pub fn precondition<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    match r {
        Err(Error::FailedPrecondition { reason, .. }) => reason,
        other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
    }
}
