//! PostgreSQL persistence through sqlx. No tonic here. Every mutation appends its change-log
//! row in the same transaction, with the actor and request id.

mod agreements;
pub mod cache;
mod changes;
mod check_ins;
mod dependents;
mod filter;
mod goals;
mod measurements;
mod page;
mod partners;
mod product_sets;
pub mod resource;
mod risks;
mod tokens;
pub mod trade;
mod trade_asof;

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::{
    PgPool, Postgres, Transaction,
    migrate::MigrateDatabase,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use time::OffsetDateTime;

pub use changes::{ChangeQuery, ChangeRecord, NOTIFY_CHANNEL};
pub use measurements::{MEASUREMENT_TYPE, MeasurementPage, MeasurementQuery};
pub use partners::{FLOW_TYPE, FlowPage, YearExports};
pub use resource::{Page, Resource, Writable};
pub use tokens::{TOKEN_TYPE, TokenRecord};

use crate::domain::{Actor, Error, Reason, list::PageTokens};

/// Embedded migrations (server/migrations).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Advisory-lock keys. The change-log lock serialises sequence assignment with commit order
/// (migration 20261201200001 takes it by its value, 125779852197889).
const CHANGE_LOG_LOCK: i64 = 0x7265_6769_0001;
/// The class of the writers' own change-log locks (two-key advisory locks `(class, key)`,
/// apart from the one-key locks above): each writer holds `(class, its transaction id mod
/// 2^31-1)` exclusively from before it draws sequence numbers until it ends (see
/// [`Store::settled_sequence`]).
const CHANGE_LOG_WRITER_CLASS: i32 = 0x7265_6769;

/// The locks a writer takes before drawing change-log sequence numbers (one row): its own
/// lock, then the change-log lock shared (which replicas of earlier versions wait for).
macro_rules! writer_locks {
    () => {
        "SELECT pg_advisory_xact_lock(1919248233, (pg_current_xact_id()::text::bigint % 2147483647)::int), \
         pg_advisory_xact_lock_shared(125779852197889)"
    };
}

/// [`writer_locks`], for tests that stand for a write in flight: run it in a transaction,
/// then draw a number with `SELECT nextval('change_log_sequence')`.
pub const CHANGE_LOG_WRITER_LOCKS: &str = writer_locks!();

const _: () = assert!(CHANGE_LOG_WRITER_CLASS == 1_919_248_233 && CHANGE_LOG_LOCK == 125_779_852_197_889);
/// Goal-tree lock: shared by operations that hang a goal under a parent, exclusive for those
/// that move or cascade over subtrees.
const GOAL_TREE_LOCK: i64 = 0x7265_6769_0002;

/// Store settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// How long a soft-deleted resource stays restorable.
    pub soft_delete_retention: Duration,
    /// How long request ids are remembered for idempotent retries.
    pub request_id_retention: Duration,
    /// A List counts the matches (its `total_size`) up to this many; beyond, it answers
    /// this plus one, read as "more than this".
    pub max_count: i64,
    /// `statement_timeout` of every connection: bounds a statement outside a transaction
    /// (transactions of a call take their call's deadline instead).
    pub statement_timeout: Duration,
    /// Run migrations when connecting; when false, only check that the schema is current
    /// (for a role without DDL rights).
    pub migrate: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            soft_delete_retention: Duration::from_secs(30 * 24 * 3600),
            request_id_retention: Duration::from_secs(7 * 24 * 3600),
            max_count: 10_000,
            statement_timeout: Duration::from_secs(30),
            migrate: true,
        }
    }
}

/// The registry's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    tokens: PageTokens,
    opts: StoreOptions,
    /// The read cache of the server this store serves (none outside a server).
    cache: Option<std::sync::Arc<cache::ReadCache>>,
}

/// A List request, validated (goals and partners).
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub order: Vec<crate::domain::list::OrderKey>,
    pub show_deleted: bool,
    pub page_size: usize,
    pub page_token: String,
    /// Fingerprint of the request fields a page token is bound to.
    pub fingerprint: String,
    /// The parsed `filter`; `None` for none.
    pub filter: Option<crate::domain::filter::Expr>,
}

/// Who changes what, recorded with every change.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    pub actor: Actor,
    pub request_id: Option<String>,
    pub validate_only: bool,
}

/// Kinds of change recorded in the change log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Created,
    Updated,
    Deleted,
    Undeleted,
    Purged,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "CREATED",
            ChangeKind::Updated => "UPDATED",
            ChangeKind::Deleted => "DELETED",
            ChangeKind::Undeleted => "UNDELETED",
            ChangeKind::Purged => "PURGED",
        }
    }
}

/// One change to append.
pub struct Change<'a> {
    pub resource_type: &'static str,
    pub name: String,
    pub kind: ChangeKind,
    pub mask: Vec<String>,
    pub snapshot: Option<serde_json::Value>,
    pub ctx: &'a WriteCtx,
}

impl Store {
    /// Connects, creating the database if it does not exist yet.
    pub async fn connect(url: &str, opts: StoreOptions) -> Result<Store, Error> {
        let conn: PgConnectOptions = url
            .parse()
            .map_err(|e| Error::Unavailable(format!("invalid DATABASE_URL: {e}")))?;
        if !sqlx::Postgres::database_exists(url).await.map_err(unavailable)? {
            tracing::info!("database does not exist; creating it");
            sqlx::Postgres::create_database(url).await.map_err(unavailable)?;
        }
        Store::connect_with(conn, opts).await
    }

    /// Connects to an existing database.
    pub async fn connect_with(conn: PgConnectOptions, opts: StoreOptions) -> Result<Store, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(opts.max_connections)
            .min_connections(1)
            .acquire_timeout(opts.acquire_timeout)
            .connect_with(conn.application_name("registryd").options([(
                "statement_timeout",
                format!("{}", opts.statement_timeout.as_millis().max(1)),
            )]))
            .await
            .map_err(unavailable)?;
        Store::from_pool(pool, opts).await
    }

    /// Wraps an existing pool: runs migrations (or checks them, see
    /// [`StoreOptions::migrate`]) and loads the page-token secret.
    pub async fn from_pool(pool: PgPool, opts: StoreOptions) -> Result<Store, Error> {
        if opts.migrate {
            // On a connection of its own without the pool's statement timeout: a migration
            // may rewrite or index a large table.
            let mut conn = pool.acquire().await.map_err(unavailable)?.detach();
            sqlx::query("SET statement_timeout = 0")
                .execute(&mut conn)
                .await
                .map_err(db_error)?;
            MIGRATOR
                .run(&mut conn)
                .await
                .map_err(|e| Error::Internal(format!("migration failed: {e}")))?;
            let _ = sqlx::Connection::close(conn).await;
        } else {
            check_schema(&pool).await?;
        }
        sqlx::query(
            "INSERT INTO registry_secrets (name, value)
             VALUES ('page_token', decode(md5(gen_random_uuid()::text) || md5(gen_random_uuid()::text), 'hex'))
             ON CONFLICT (name) DO NOTHING",
        )
        .execute(&pool)
        .await
        .map_err(db_error)?;
        let secret: Vec<u8> = sqlx::query_scalar("SELECT value FROM registry_secrets WHERE name = 'page_token'")
            .fetch_one(&pool)
            .await
            .map_err(db_error)?;
        Ok(Store {
            pool,
            tokens: PageTokens::new(secret),
            opts,
            cache: None,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The same store, reading through `cache` (see [`cache`]).
    pub fn with_cache(&self, cache: std::sync::Arc<cache::ReadCache>) -> Store {
        Store {
            cache: Some(cache),
            ..self.clone()
        }
    }

    /// The read cache, if this store has one.
    pub fn cache(&self) -> Option<&cache::ReadCache> {
        self.cache.as_deref()
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db_error)?;
        Ok(())
    }

    /// Starts a transaction. The BEGIN runs in a task of its own: a caller dropped while
    /// sqlx's BEGIN is in flight would otherwise put the connection back in the pool inside
    /// the transaction (sqlx queues its ROLLBACK only once it has counted the BEGIN), and the
    /// next user of the connection would run in, and could commit, that transaction. Dropped
    /// anywhere later, a transaction is rolled back by sqlx as it should be.
    ///
    /// Inside a call, the transaction's `statement_timeout` is the time left until the call's
    /// deadline ([`crate::limits::call_deadline`]), so a statement of a call that has given
    /// up is cancelled by PostgreSQL instead of running (or waiting for locks) on. Outside a
    /// call (background maintenance) a transaction has none.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Postgres>, Error> {
        let pool = self.pool.clone();
        let timeout_ms = crate::limits::call_deadline().map(|left| left.as_millis().clamp(1, u128::from(u32::MAX)));
        // A number formatted by us: nothing from the request reaches this SQL. Outside a call
        // (purging, compaction, bootstrap) there is no deadline: 0, no timeout.
        let sql = format!("BEGIN; SET LOCAL statement_timeout = {}", timeout_ms.unwrap_or(0));
        tokio::spawn(async move { pool.begin_with(sqlx::AssertSqlSafe(sql)).await })
            .await
            .map_err(|e| Error::Internal(format!("BEGIN task failed: {e}")))?
            .map_err(db_error)
    }

    /// Ends a write: commits, or rolls back for `validate_only`.
    /// Appends the change records of a write and commits it ([`Store::finish`]).
    async fn commit(
        mut tx: Transaction<'static, Postgres>,
        changes: &[Change<'_>],
        ctx: &WriteCtx,
    ) -> Result<(), Error> {
        append_changes(&mut tx, changes).await?;
        Self::finish(tx, ctx).await
    }

    async fn finish(tx: Transaction<'static, Postgres>, ctx: &WriteCtx) -> Result<(), Error> {
        if ctx.validate_only {
            tx.rollback().await.map_err(db_error)
        } else {
            tx.commit().await.map_err(db_error)
        }
    }

    /// Removes what has outlived its retention: expired soft-deleted goals (leaves first) and
    /// old request ids. Goals go first, so partners only they linked can go in the same
    /// pass. Risks go first: nothing refers to them. Returns how many risks, goals and partners
    /// were purged.
    pub async fn purge_expired(&self) -> Result<u64, Error> {
        let cutoff = OffsetDateTime::now_utc() - self.opts.request_id_retention;
        sqlx::query("DELETE FROM request_ids WHERE create_time < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        let risks = self.purge_expired_risks().await?;
        let goals = self.purge_expired_goals().await?;
        let sets = self.purge_expired_product_sets().await?;
        let agreements = self.purge_expired_agreements().await?;
        Ok(risks + goals + sets + agreements + self.purge_expired_partners().await?)
    }
}

impl Store {
    /// Runs `delete_sql` (a `DELETE … RETURNING id` of at most a batch of expired resources
    /// of collection `c`) until it deletes nothing, logging a PURGED change for each, one
    /// transaction per batch. Returns how many were purged.
    async fn purge_in_batches(&self, delete_sql: &'static str, c: crate::domain::Collection) -> Result<u64, Error> {
        let ctx = WriteCtx {
            actor: Actor::system(),
            request_id: None,
            validate_only: false,
        };
        let mut total = 0;
        loop {
            let mut tx = self.begin().await?;
            let purged: Vec<String> = sqlx::query_scalar(delete_sql)
                .fetch_all(&mut *tx)
                .await
                .map_err(db_error)?;
            if purged.is_empty() {
                return Ok(total);
            }
            total += purged.len() as u64;
            let changes: Vec<Change> = purged
                .iter()
                .map(|id| Change {
                    resource_type: c.resource_type(),
                    name: format!("{}/{id}", c.prefix()),
                    kind: ChangeKind::Purged,
                    mask: vec![],
                    snapshot: None,
                    ctx: &ctx,
                })
                .collect();
            append_changes(&mut tx, &changes).await?;
            tx.commit().await.map_err(db_error)?;
        }
    }
}

/// Resource names of `ids` in collection `c`, comma-separated (for error messages).
fn name_list<'a>(c: crate::domain::Collection, ids: impl IntoIterator<Item = &'a str>) -> String {
    ids.into_iter()
        .map(|id| format!("{}/{id}", c.prefix()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a delete of `name` is refused for while live resources refer to it: FAILED_PRECONDITION
/// `reason`, "`{name} {what} ({the first five of ids}); {fix} or set force`". Nothing when
/// `ids` is empty.
fn refuse_linked<'a>(
    name: String,
    reason: Reason,
    what: &str,
    c: crate::domain::Collection,
    ids: impl IntoIterator<Item = &'a str>,
    fix: &str,
) -> Result<(), Error> {
    let ids: Vec<&str> = ids.into_iter().take(5).collect();
    if ids.is_empty() {
        return Ok(());
    }
    let list = name_list(c, ids);
    Err(Error::failed_precondition(
        reason,
        format!("{name} {what} ({list}); {fix} or set force"),
        Some(name),
    ))
}

/// FAILED_PRECONDITION `RESOURCE_DELETED`: "`{name} {what}`".
fn resource_deleted(name: String, what: &str) -> Error {
    Error::failed_precondition(Reason::ResourceDeleted, format!("{name} {what}"), Some(name))
}

/// Optimistic concurrency: a non-empty `given` etag must equal the resource's `current` one
/// (ABORTED `ETAG_MISMATCH` naming the resource otherwise).
fn check_etag(given: &str, current: &str, name: impl FnOnce() -> String) -> Result<(), Error> {
    if !given.is_empty() && given != current {
        return Err(Error::etag_mismatch(&name()));
    }
    Ok(())
}

/// Takes a transaction-scoped advisory lock.
async fn lock(tx: &mut Transaction<'static, Postgres>, key: i64, shared: bool) -> Result<(), Error> {
    let sql = if shared {
        "SELECT pg_advisory_xact_lock_shared($1)"
    } else {
        "SELECT pg_advisory_xact_lock($1)"
    };
    sqlx::query(sql).bind(key).execute(&mut **tx).await.map_err(db_error)?;
    Ok(())
}

/// Appends change-log rows. Call it last in a transaction. Before drawing sequence numbers
/// it takes a lock of its own (exclusive, keyed by its transaction) and the change-log lock
/// *shared*, and holds both until the transaction ends, so concurrent writers commit in
/// parallel (sharing WAL flushes), while a reader ([`Store::settled_sequence`]) that reads the
/// sequence's last value and then waits for the writers' own locks it saw held knows that
/// every sequence drawn before it read the value belongs to a transaction that has ended.
/// Readers never look past that point, so a transaction that commits late cannot be skipped;
/// and since a reader waits only for locks of writers already in flight, it never pauses the
/// writers that come after it.
pub(crate) async fn append_changes(
    tx: &mut Transaction<'static, Postgres>,
    changes: &[Change<'_>],
) -> Result<(), Error> {
    append(tx, changes, None).await
}

/// [`append_changes`] and [`remember_response`] of a claimed request id, in one statement
/// (one round trip fewer on every create).
pub(crate) async fn append_changes_answering(
    tx: &mut Transaction<'static, Postgres>,
    changes: &[Change<'_>],
    method: &str,
    ctx: &WriteCtx,
    response: &serde_json::Value,
) -> Result<(), Error> {
    if changes.is_empty() || ctx.validate_only {
        return remember_response(tx, method, ctx, response).await;
    }
    let answer = ctx.request_id.as_deref().map(|r| (method, r, response));
    append(tx, changes, answer).await
}

async fn append(
    tx: &mut Transaction<'static, Postgres>,
    changes: &[Change<'_>],
    answer: Option<(&str, &str, &serde_json::Value)>,
) -> Result<(), Error> {
    if changes.is_empty() || changes[0].ctx.validate_only {
        return Ok(());
    }
    let mut types = Vec::with_capacity(changes.len());
    let mut names = Vec::with_capacity(changes.len());
    let mut kinds = Vec::with_capacity(changes.len());
    let mut actors = Vec::with_capacity(changes.len());
    let mut request_ids = Vec::with_capacity(changes.len());
    let mut masks = Vec::with_capacity(changes.len());
    let mut snapshots = Vec::with_capacity(changes.len());
    for c in changes {
        types.push(c.resource_type);
        names.push(c.name.as_str());
        kinds.push(c.kind.as_str());
        actors.push(c.ctx.actor.id.as_str());
        request_ids.push(c.ctx.request_id.as_deref());
        masks.push(c.mask.join(","));
        snapshots.push(c.snapshot.clone().unwrap_or(serde_json::Value::Null));
    }
    let sequences: Vec<i64> = sqlx::query_scalar(concat!(
        r#"WITH r AS (UPDATE request_ids SET response = $10
                    WHERE $8::text IS NOT NULL AND actor = $11 AND method = $8 AND request_id = $9),
              l AS MATERIALIZED ("#, writer_locks!(), r#"),
              n AS MATERIALIZED (SELECT pg_notify('registry_changes', ''))
         INSERT INTO change_log (sequence, resource_type, resource_name, change_kind, actor, request_id, update_mask, snapshot)
         SELECT nextval('change_log_sequence'), t, n, k, a, r, CASE WHEN m = '' THEN '{}'::text[] ELSE string_to_array(m, ',') END, NULLIF(s, 'null'::jsonb)
         FROM l, n, unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::jsonb[])
              WITH ORDINALITY AS u(t, n, k, a, r, m, s, ord)
         ORDER BY ord
         RETURNING sequence"#
    ))
    .bind(&types)
    .bind(&names)
    .bind(&kinds)
    .bind(&actors)
    .bind(&request_ids)
    .bind(&masks)
    .bind(&snapshots)
    .bind(answer.map(|a| a.0))
    .bind(answer.map(|a| a.1))
    .bind(answer.map(|a| a.2))
    .bind(changes[0].ctx.actor.id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let last = sequences.into_iter().max().unwrap_or(0);
    cache::record_writes(last, changes.iter().map(|c| (c.resource_type, c.name.as_str())));
    Ok(())
}

/// Hash of a request's identifying parts, to detect a request id reused for another request.
pub(crate) fn request_hash(parts: &[&[u8]]) -> Vec<u8> {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().to_vec()
}

/// Outcome of claiming an idempotency key.
pub(crate) enum Claim {
    /// First use: go ahead, then `remember` the response.
    New,
    /// A previous request with this key completed: its response.
    Replay(serde_json::Value),
}

/// Claims `(caller, method, request_id)` inside the transaction (request ids are scoped to
/// the caller: another caller's same id is not a replay). A concurrent claimant waits for the
/// first to commit (or roll back) and then sees its response.
pub(crate) async fn claim_request(
    tx: &mut Transaction<'static, Postgres>,
    method: &str,
    ctx: &WriteCtx,
    request_hash: &[u8],
) -> Result<Claim, Error> {
    let Some(request_id) = ctx.request_id.as_deref().filter(|_| !ctx.validate_only) else {
        return Ok(Claim::New);
    };
    let inserted = sqlx::query(
        "INSERT INTO request_ids (actor, method, request_id, request_hash) VALUES ($4, $1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(method)
    .bind(request_id)
    .bind(request_hash)
    .bind(ctx.actor.id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let (hash, response): (Vec<u8>, Option<serde_json::Value>) = sqlx::query_as(
        "SELECT request_hash, response FROM request_ids WHERE actor = $3 AND method = $1 AND request_id = $2",
    )
    .bind(method)
    .bind(request_id)
    .bind(ctx.actor.id.as_str())
    .fetch_one(&mut **tx)
    .await
    .map_err(db_error)?;
    if hash != request_hash {
        return Err(Error::invalid(
            "request_id",
            "was already used for a different request; use a new request id",
        ));
    }
    response
        .map(Claim::Replay)
        .ok_or_else(|| Error::Internal("request id claimed without a response".into()))
}

/// Stores the response of a claimed request id.
pub(crate) async fn remember_response(
    tx: &mut Transaction<'static, Postgres>,
    method: &str,
    ctx: &WriteCtx,
    response: &serde_json::Value,
) -> Result<(), Error> {
    let Some(request_id) = ctx.request_id.as_deref().filter(|_| !ctx.validate_only) else {
        return Ok(());
    };
    sqlx::query("UPDATE request_ids SET response = $3 WHERE actor = $4 AND method = $1 AND request_id = $2")
        .bind(method)
        .bind(request_id)
        .bind(response)
        .bind(ctx.actor.id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Fails unless every embedded migration has been applied.
async fn check_schema(pool: &PgPool) -> Result<(), Error> {
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
        .map_err(|e| {
            Error::Internal(format!(
                "cannot read the applied migrations (run `registryd migrate` first): {e}"
            ))
        })?;
    let missing: Vec<i64> = MIGRATOR
        .iter()
        .map(|m| m.version)
        .filter(|v| !applied.contains(v))
        .collect();
    if let Some(first) = missing.first() {
        return Err(Error::Internal(format!(
            "{} migrations are not applied (the first is {first}): run `registryd migrate` as the schema's owner",
            missing.len()
        )));
    }
    Ok(())
}

impl Store {
    /// Grants `role` what the server needs and nothing more: CONNECT on the database, USAGE
    /// on the schema, SELECT/INSERT/UPDATE/DELETE on the registry's tables, USAGE/SELECT on
    /// their sequences, SELECT on the migration history (to check it). No DDL, no TRUNCATE.
    pub async fn grant_dml(&self, role: &str) -> Result<(), Error> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(role)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        if !exists {
            return Err(Error::invalid("role", format!("role {role:?} does not exist")));
        }
        // PostgreSQL quotes the names (format's %I): nothing is spliced by us.
        let statements: Vec<String> = sqlx::query_scalar(
            "SELECT unnest(ARRAY[
                format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), $1),
                format('GRANT USAGE ON SCHEMA public TO %I', $1),
                format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', $1),
                format('REVOKE INSERT, UPDATE, DELETE ON _sqlx_migrations FROM %I', $1),
                format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', $1)])",
        )
        .bind(role)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)?;
        let mut tx = self.begin().await?;
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(|e| Error::Internal(format!("grant failed: {e}")))?;
        }
        tx.commit().await.map_err(db_error)
    }
}

fn unavailable(e: sqlx::Error) -> Error {
    Error::Unavailable(format!("database unavailable: {e}"))
}

/// Maps a database error to a client-meaningful error. Constraint violations become client
/// errors; connection problems UNAVAILABLE; anything else INTERNAL (logged, never sent).
pub(crate) fn db_error(e: sqlx::Error) -> Error {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => {
            Error::Unavailable("database unavailable; retry later".into())
        }
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("23505") => Error::Aborted {
                reason: Reason::ConcurrentModification,
                message: "a concurrent request changed the same resource; retry".into(),
            },
            Some("23503") => Error::failed_precondition(
                Reason::ReferenceViolation,
                "the change would leave a reference to a missing resource",
                None,
            ),
            Some("23514" | "23502" | "22P02" | "22001" | "22021" | "22003") => {
                // The constraint's name is schema detail: logged, not sent.
                tracing::info!(constraint = db.constraint().unwrap_or(""), error = %e, "value refused by the database");
                Error::invalid("", "a value was refused by a database check")
            }
            Some("40001" | "40P01") => Error::Aborted {
                reason: Reason::ConcurrentModification,
                message: "the transaction conflicted with a concurrent one; retry".into(),
            },
            Some("57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006" | "53300") => {
                Error::Unavailable("database unavailable; retry later".into())
            }
            Some("57014") => Error::DeadlineExceeded("the database query was cancelled".into()),
            _ => Error::Internal(format!("database error: {e}")),
        },
        _ => Error::Internal(format!("database error: {e}")),
    }
}
