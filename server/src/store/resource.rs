//! The generic read and lock paths of every top-level resource (goals, partners, …): Get,
//! BatchGet, List (through the one pager), a resource as it was at a time, and the row lock
//! of a write. What differs per resource is its [`Kind`] and a few methods of [`Resource`];
//! everything else is written once here.

use std::{collections::HashMap, future::Future, sync::Arc};

use serde::{Serialize, de::DeserializeOwned};
use sqlx::{
    FromRow, Postgres, QueryBuilder, Transaction,
    postgres::{PgArguments, PgRow},
    query::QueryAs,
};
use time::OffsetDateTime;

use super::{
    Change, ChangeKind, ListQuery, Store, WriteCtx,
    cache::{Depends, Encoding, ReadMode, memory_size},
    db_error, page,
};
use crate::domain::{
    Collection, Error, Id, Spec, Stamps, Stored,
    list::{FieldDef, SortValue},
};

/// Everything the generic paths need to know about one kind of stored resource.
#[derive(Debug)]
pub struct Kind {
    /// Names (`{prefix}/{id}`) and the type reported in errors and the change feed.
    pub collection: Collection,
    /// The resource's one description: filters, ordering and update masks come from it.
    pub fields: &'static [FieldDef],
    /// `SELECT … FROM table` producing a [`Resource::Row`], without a WHERE clause.
    pub select: &'static str,
    /// The table, for counts.
    pub table: &'static str,
    /// The id column, qualified where `select` joins.
    pub id: &'static str,
    /// `select` computes columns with subqueries: a write locks the row first and reads it
    /// in a second statement, because under READ COMMITTED a statement that waited for a
    /// lock still evaluates its subqueries on its old snapshot.
    pub lock_then_read: bool,
}

/// The columns of every resource table: the id and the [`Stamps`] (`#[sqlx(flatten)]` in each
/// resource's row).
#[derive(sqlx::FromRow)]
pub struct StampRow {
    id: String,
    create_time: OffsetDateTime,
    update_time: OffsetDateTime,
    delete_time: Option<OffsetDateTime>,
    expire_time: Option<OffsetDateTime>,
    revision: i64,
}

impl StampRow {
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// The id and stamps of a stored `what` (`goal`), and a reader of its other columns.
    pub(crate) fn read(self, what: &'static str) -> Result<(Id, Stamps, Columns), Error> {
        let columns = Columns { what, id: self.id };
        let id = Id::try_from(columns.id.clone()).map_err(|_| columns.corrupt("id"))?;
        let stamps = Stamps {
            create_time: self.create_time,
            update_time: self.update_time,
            delete_time: self.delete_time,
            expire_time: self.expire_time,
            revision: self.revision,
        };
        Ok((id, stamps, columns))
    }
}

/// Reads the stored columns of one row: an unreadable value is INTERNAL, naming the row.
#[derive(Debug)]
pub(crate) struct Columns {
    what: &'static str,
    id: String,
}

impl Columns {
    /// The columns of the stored `what` `id`.
    pub(crate) fn new(what: &'static str, id: &str) -> Columns {
        Columns {
            what,
            id: id.to_owned(),
        }
    }

    pub(crate) fn corrupt(&self, column: &str) -> Error {
        Error::Internal(format!("stored {} {} has an invalid {column}", self.what, self.id))
    }

    /// Stored ids (links, members).
    pub(crate) fn ids(&self, v: Vec<String>, column: &str) -> Result<Vec<Id>, Error> {
        v.into_iter()
            .map(|s| Id::try_from(s).map_err(|_| self.corrupt(column)))
            .collect()
    }

    /// A stored optional id.
    pub(crate) fn id(&self, v: Option<String>, column: &str) -> Result<Option<Id>, Error> {
        v.map(|s| Id::try_from(s).map_err(|_| self.corrupt(column))).transpose()
    }

    /// A stored enum value.
    pub(crate) fn value<T>(&self, raw: &str, parse: fn(&str) -> Option<T>, column: &str) -> Result<T, Error> {
        parse(raw).ok_or_else(|| self.corrupt(column))
    }

    /// A stored optional enum value: NULL, or `''`, is none.
    pub(crate) fn optional<T>(
        &self,
        raw: Option<&str>,
        parse: fn(&str) -> Option<T>,
        column: &str,
    ) -> Result<Option<T>, Error> {
        match raw {
            None | Some("") => Ok(None),
            Some(raw) => self.value(raw, parse, column).map(Some),
        }
    }
}

/// What every stored resource has: its id, revision and lifetime.
#[derive(Debug, Clone, Copy)]
pub struct Meta<'a> {
    pub id: &'a Id,
    pub revision: i64,
    pub create_time: OffsetDateTime,
    pub delete_time: Option<OffsetDateTime>,
}

/// The [`Resource::meta`] and [`Resource::sort_value`] of a resource whose struct has the
/// usual `id`, `revision`, `create_time` and `delete_time` fields and an inherent
/// `sort_value` (every resource so far): one line in its `impl Resource`.
macro_rules! stored_fields {
    () => {
        fn meta(&self) -> Meta<'_> {
            Meta {
                id: &self.id,
                revision: self.stamps.revision,
                create_time: self.stamps.create_time,
                delete_time: self.stamps.delete_time,
            }
        }

        fn sort_value(&self, field: &str) -> SortValue {
            Self::sort_value(self, field)
        }
    };
}
pub(crate) use stored_fields;

/// The `impl Resource` of a resource that is one row of its own table and shows nothing
/// besides it (no [`Resource::complete`] or [`Resource::detail`]).
macro_rules! own_row_resource {
    ($res:ty: $row:ty, $collection:expr, $fields:expr, $table:literal) => {
        impl $crate::store::resource::Resource for $res {
            const KIND: $crate::store::resource::Kind = $crate::store::resource::Kind {
                collection: $collection,
                fields: $fields,
                select: concat!("SELECT ", $table, ".* FROM ", $table),
                table: $table,
                id: concat!($table, ".id"),
                lock_then_read: false,
            };
            /// Its own row only.
            const DEPENDS: $crate::store::cache::Depends = $crate::store::cache::Depends::On(&[]);
            type Row = $row;

            $crate::store::resource::stored_fields!();
        }
    };
}
pub(crate) use own_row_resource;

/// A top-level resource stored in one table, soft-deletable, with etags and revisions.
pub trait Resource:
    Sized + Send + Sync + Serialize + DeserializeOwned + TryFrom<Self::Row, Error = Error> + 'static
{
    const KIND: Kind;
    /// What the resource shows besides its own row and the resources named under it,
    /// for the read cache's invalidation (see [`super::cache`]); by default anything.
    const DEPENDS: Depends = Depends::Anything;
    /// The row `KIND.select` produces.
    type Row: for<'r> FromRow<'r, PgRow> + Send + Unpin;

    fn meta(&self) -> Meta<'_>;
    /// The value of an orderable field, for a page-token cursor.
    fn sort_value(&self, field: &str) -> SortValue;

    fn from_row(row: Self::Row) -> Result<Self, Error> {
        Self::try_from(row)
    }

    fn id(&self) -> &Id {
        self.meta().id
    }

    fn etag(&self) -> String {
        let m = self.meta();
        crate::domain::etag(m.id.as_str(), m.revision, m.create_time)
    }

    fn delete_time(&self) -> Option<OffsetDateTime> {
        self.meta().delete_time
    }

    /// Completes resources read from the database with what is not stored on their row
    /// (goals: progress computed from measurements; `as_of` for a past state).
    fn complete<'a>(
        _store: &'a Store,
        _items: &'a mut [Self],
        _as_of: Option<OffsetDateTime>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// Adds to one resource read by Get (its current state) what would cost too much on
    /// every row of a List (goals and partners: the dependent products behind them).
    fn detail<'a>(_store: &'a Store, _item: &'a mut Self) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// Whether [`Resource::detail`] may add anything to this resource (without a query).
    fn has_detail(&self) -> bool {
        false
    }

    fn name(&self) -> String {
        Self::KIND.collection.name(self.id())
    }

    /// The change-log entry of a change to this resource, with its snapshot.
    fn change<'c>(&self, kind: ChangeKind, mask: Vec<String>, ctx: &'c WriteCtx) -> Result<Change<'c>, Error> {
        Ok(Change {
            resource_type: Self::KIND.collection.resource_type(),
            name: self.name(),
            kind,
            mask,
            snapshot: Some(snapshot(self)?),
            ctx,
        })
    }
}

/// A resource's JSON snapshot, as the change log keeps it.
pub(crate) fn snapshot<T: Serialize>(value: &T) -> Result<serde_json::Value, Error> {
    serde_json::to_value(value).map_err(|e| Error::Internal(format!("cannot encode a snapshot: {e}")))
}

/// NOT_FOUND for `id` in the collection of `R`.
pub(crate) fn not_found<R: Resource>(id: &Id) -> Error {
    Error::NotFound {
        resource_type: R::KIND.collection.resource_type(),
        name: R::KIND.collection.name(id),
    }
}

/// One page of a List.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_page_token: String,
    pub total_size: i64,
}

fn rows<R: Resource>(rows: Vec<R::Row>) -> Result<Vec<R>, Error> {
    rows.into_iter().map(R::from_row).collect()
}

fn push_where<R: Resource>(qb: &mut QueryBuilder<Postgres>, q: &ListQuery) {
    qb.push(" WHERE TRUE");
    if !q.show_deleted {
        qb.push(" AND ").push(R::KIND.table).push(".delete_time IS NULL");
    }
    if let Some(filter) = &q.filter {
        qb.push(" AND ");
        super::filter::push_expr(qb, filter, R::KIND.fields);
    }
}

/// `KIND.select` of the one resource `id`.
fn by_id<R: Resource>(id: &Id) -> QueryBuilder<Postgres> {
    let mut qb = QueryBuilder::<Postgres>::new(R::KIND.select);
    qb.push(" WHERE ")
        .push(R::KIND.id)
        .push(" = ")
        .push_bind(id.as_str().to_owned());
    qb
}

/// Runs a [`by_id`] query.
async fn fetch_one<'e, R: Resource>(
    mut qb: QueryBuilder<Postgres>,
    exec: impl sqlx::PgExecutor<'e>,
) -> Result<Option<R>, Error> {
    let row: Option<R::Row> = qb.build_query_as().fetch_optional(exec).await.map_err(db_error)?;
    row.map(R::from_row).transpose()
}

impl Store {
    /// Gets a resource, live or soft-deleted.
    pub async fn get<R: Resource>(&self, id: &Id) -> Result<R, Error> {
        let found = fetch_one::<R>(by_id::<R>(id), &self.pool).await?;
        self.completed(found.ok_or_else(|| not_found::<R>(id))?).await
    }

    /// [`Store::get`] through the read cache: a current cached value (with `mode`
    /// [`ReadMode::Cached`]), else the database's answer, which then fills the cache.
    pub async fn get_cached<R: Resource>(&self, id: &Id, mode: ReadMode) -> Result<Arc<R>, Error> {
        self.get_cached_encoded::<R>(id, mode).await.map(|(item, _)| item)
    }

    /// [`Store::get_cached`], with the slot of the value's encoded answer when the value is
    /// (now) in the cache.
    pub async fn get_cached_encoded<R: Resource>(
        &self,
        id: &Id,
        mode: ReadMode,
    ) -> Result<(Arc<R>, Option<Encoding>), Error> {
        let Some(cache) = self.cache.as_deref() else {
            return Ok((Arc::new(self.get::<R>(id).await?), None));
        };
        let name = R::KIND.collection.name(id);
        if mode == ReadMode::Cached
            && let Some((hit, encoded)) = cache.get_encoded::<R>(&name)
        {
            return Ok((hit, Some(encoded)));
        }
        let kind = cache.kind(R::KIND.collection.resource_type(), R::DEPENDS);
        let stamp = cache.stamp(&kind, &name);
        let item = Arc::new(self.get::<R>(id).await?);
        let encoded = cache.insert(name, item.clone(), memory_size(&*item), stamp);
        Ok((item, encoded))
    }

    /// [`Store::batch_get`] through the read cache: the current cached values, the others
    /// from the database in one query (and cached).
    pub async fn batch_get_cached<R: Resource + Clone>(
        &self,
        wanted: &[Id],
        allow_missing: bool,
        mode: ReadMode,
    ) -> Result<Vec<Arc<R>>, Error> {
        let items = self.batch_get_cached_encoded::<R>(wanted, allow_missing, mode).await?;
        Ok(items.into_iter().map(|(item, _)| item).collect())
    }

    /// [`Store::batch_get_cached`], each value with the slot of its encoded answer when it is
    /// (now) in the cache.
    pub async fn batch_get_cached_encoded<R: Resource + Clone>(
        &self,
        wanted: &[Id],
        allow_missing: bool,
        mode: ReadMode,
    ) -> Result<Vec<(Arc<R>, Option<Encoding>)>, Error> {
        let Some(cache) = self.cache.as_deref() else {
            let items = self.batch_get::<R>(wanted, allow_missing).await?;
            return Ok(items.into_iter().map(|item| (Arc::new(item), None)).collect());
        };
        let c = R::KIND.collection;
        let mut found: HashMap<&Id, (Arc<R>, Option<Encoding>)> = HashMap::with_capacity(wanted.len());
        // The names to read from the database, with the epochs taken before the read.
        let mut stamps: HashMap<Id, (String, super::cache::Stamp)> = HashMap::new();
        let kind = cache.kind(c.resource_type(), R::DEPENDS);
        for id in wanted {
            if found.contains_key(id) || stamps.contains_key(id) {
                continue;
            }
            let name = c.name(id);
            match cache.get_encoded::<R>(&name).filter(|_| mode == ReadMode::Cached) {
                Some((hit, encoded)) => {
                    found.insert(id, (hit, Some(encoded)));
                }
                None => {
                    let stamp = cache.stamp(&kind, &name);
                    stamps.insert(id.clone(), (name, stamp));
                }
            }
        }
        let mut fetched: HashMap<Id, (Arc<R>, Option<Encoding>)> = HashMap::with_capacity(stamps.len());
        if !stamps.is_empty() {
            let ids: Vec<Id> = stamps.keys().cloned().collect();
            for item in self.batch_get::<R>(&ids, true).await? {
                let item = Arc::new(item);
                let encoded = stamps
                    .remove(item.id())
                    .and_then(|(name, stamp)| cache.insert(name, item.clone(), memory_size(&*item), stamp));
                fetched.insert(item.id().clone(), (item, encoded));
            }
        }
        let mut out = Vec::with_capacity(wanted.len());
        for id in wanted {
            match found.get(id).or_else(|| fetched.get(id)) {
                Some(item) => out.push(item.clone()),
                None if allow_missing => {}
                None => return Err(not_found::<R>(id)),
            }
        }
        Ok(out)
    }

    /// A written resource with what [`Resource::complete`] adds (goals: the progress of
    /// targets, where the row does not hold it).
    pub async fn completed<R: Resource>(&self, mut item: R) -> Result<R, Error> {
        R::complete(self, std::slice::from_mut(&mut item), None).await?;
        Ok(item)
    }

    /// Gets several resources in the order asked (a name asked twice is answered twice);
    /// NOT_FOUND names the first missing one, or with `allow_missing` missing ones are left
    /// out.
    pub async fn batch_get<R: Resource + Clone>(&self, wanted: &[Id], allow_missing: bool) -> Result<Vec<R>, Error> {
        let keys: Vec<&str> = wanted.iter().map(Id::as_str).collect();
        let mut qb = QueryBuilder::<Postgres>::new(R::KIND.select);
        qb.push(" WHERE ")
            .push(R::KIND.id)
            .push(" = ANY(")
            .push_bind(keys)
            .push(")");
        let found: Vec<R::Row> = qb.build_query_as().fetch_all(&self.pool).await.map_err(db_error)?;
        let mut found: HashMap<Id, R> = rows::<R>(found)?.into_iter().map(|r| (r.id().clone(), r)).collect();
        // Moved out, not cloned; a name asked for twice is copied from its first answer.
        let mut out: Vec<R> = Vec::with_capacity(wanted.len());
        for id in wanted {
            let item = match found.remove(id) {
                Some(r) => r,
                None => match out.iter().find(|r| r.id() == id) {
                    Some(r) => r.clone(),
                    None if allow_missing => continue,
                    None => return Err(not_found::<R>(id)),
                },
            };
            out.push(item);
        }
        R::complete(self, &mut out, None).await?;
        Ok(out)
    }

    /// Lists resources, one keyset page, with the total number that match.
    pub async fn list<R: Resource>(&self, q: &ListQuery) -> Result<Page<R>, Error> {
        let keys = page::order_keys(R::KIND.fields, &q.order, R::KIND.id);
        let pager = self.pager(&q.fingerprint, &q.page_token, keys, q.page_size)?;
        let mut qb = QueryBuilder::<Postgres>::new(R::KIND.select);
        push_where::<R>(&mut qb, q);
        let found: Vec<R::Row> = pager.fetch(qb).await?;

        // Counted up to one past the cap, so a count costs at most that many rows.
        let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM (SELECT 1 FROM ");
        count.push(R::KIND.table);
        push_where::<R>(&mut count, q);
        count
            .push(" LIMIT ")
            .push_bind(self.opts.max_count.saturating_add(1))
            .push(") AS matches");
        let total_size: i64 = count
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;

        let (mut items, next_page_token) = pager.finish(rows::<R>(found)?, |r| {
            let mut v: Vec<SortValue> = q.order.iter().map(|k| r.sort_value(k.field)).collect();
            v.push(SortValue::Text(r.id().as_str().to_owned()));
            v
        });
        R::complete(self, &mut items, None).await?;
        Ok(Page {
            items,
            next_page_token,
            total_size,
        })
    }

    /// A resource as it was at `at`, from the snapshot of its newest change at or before
    /// then; `None` if it did not exist then.
    pub async fn get_at<R: Resource>(&self, id: &Id, at: OffsetDateTime) -> Result<Option<R>, Error> {
        let Some(mut item) = self.resource_at::<R>(&R::KIND.collection.name(id), at).await? else {
            return Ok(None);
        };
        R::complete(self, std::slice::from_mut(&mut item), Some(at)).await?;
        Ok(Some(item))
    }
}

/// Locks a resource's row for a write (`FOR UPDATE`) and reads it; `None` if there is none.
pub(crate) async fn lock_row<R: Resource>(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
) -> Result<Option<R>, Error> {
    let mut qb = by_id::<R>(id);
    if R::KIND.lock_then_read {
        let mut lock = QueryBuilder::<Postgres>::new("SELECT 1 FROM ");
        lock.push(R::KIND.table)
            .push(" WHERE id = ")
            .push_bind(id.as_str())
            .push(" FOR UPDATE");
        let found: Option<i32> = lock
            .build_query_scalar()
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
        if found.is_none() {
            return Ok(None);
        }
    } else {
        qb.push(" FOR UPDATE");
    }
    fetch_one::<R>(qb, &mut **tx).await
}

/// Reads a resource inside a transaction (after a lock, or to answer a write).
pub(crate) async fn read<R: Resource>(tx: &mut Transaction<'static, Postgres>, id: &Id) -> Result<Option<R>, Error> {
    fetch_one::<R>(by_id::<R>(id), &mut **tx).await
}

/// [`read`] for a resource the transaction holds: NOT_FOUND when it is not there.
pub(crate) async fn read_back<R: Resource>(tx: &mut Transaction<'static, Postgres>, id: &Id) -> Result<R, Error> {
    read::<R>(tx, id).await?.ok_or_else(|| not_found::<R>(id))
}

/// ALREADY_EXISTS for `id` when an `INSERT … ON CONFLICT (id) DO NOTHING RETURNING id` of a
/// resource of `R` returned no row.
pub(crate) fn ensure_inserted<R: Resource>(inserted: Option<(String,)>, id: &Id) -> Result<(), Error> {
    match inserted {
        Some(_) => Ok(()),
        None => Err(Error::AlreadyExists {
            resource_type: R::KIND.collection.resource_type(),
            name: R::KIND.collection.name(id),
        }),
    }
}

/// What a write wants of the row it locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Intent {
    /// An update or a state change: the resource must be live.
    Update,
    /// A soft delete: the resource must be live.
    Delete,
    /// An undelete: the resource must be soft-deleted.
    Undelete,
}

/// Locks the row of a write, checks the request's etag (ABORTED) and the resource's state for
/// `intent` (FAILED_PRECONDITION `RESOURCE_DELETED`, or ALREADY_EXISTS for an undelete of a
/// live resource). `None` when there is no such resource (NOT_FOUND for an undelete), so
/// that an update may create it and a delete may allow it missing.
pub(crate) async fn lock_for<R: Resource>(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    etag: &str,
    intent: Intent,
) -> Result<Option<R>, Error> {
    let Some(current) = lock_row::<R>(tx, id).await? else {
        return match intent {
            Intent::Undelete => Err(not_found::<R>(id)),
            Intent::Update | Intent::Delete => Ok(None),
        };
    };
    super::check_etag(etag, &current.etag(), || current.name())?;
    let deleted = current.delete_time().is_some();
    match intent {
        Intent::Update if deleted => Err(super::resource_deleted(
            current.name(),
            "is deleted; undelete it before updating",
        )),
        Intent::Delete if deleted => Err(super::resource_deleted(current.name(), "is already deleted")),
        Intent::Undelete if !deleted => Err(Error::AlreadyExists {
            resource_type: R::KIND.collection.resource_type(),
            name: current.name(),
        }),
        _ => Ok(Some(current)),
    }
}

/// The spec of a resource that an update with `allow_missing` creates: NOT_FOUND without
/// one, ABORTED when the request sent an etag (nothing exists to match it).
pub(crate) fn create_instead<R: Resource, S>(
    id: &Id,
    etag: &str,
    create: Option<Result<S, Error>>,
) -> Result<S, Error> {
    let Some(spec) = create else {
        return Err(not_found::<R>(id));
    };
    if !etag.is_empty() {
        return Err(Error::etag_mismatch(&R::KIND.collection.name(id)));
    }
    spec
}

/// Marks the resources `ids` soft-deleted (expiring after `retention`) or restores them, each
/// with a new revision.
pub(crate) async fn set_deleted<R: Resource>(
    tx: &mut Transaction<'static, Postgres>,
    ids: &[&str],
    retention: Option<std::time::Duration>,
) -> Result<(), Error> {
    let mut qb = QueryBuilder::<Postgres>::new("UPDATE ");
    qb.push(R::KIND.table);
    match retention {
        Some(r) => qb
            .push(" SET delete_time = now(), expire_time = now() + ")
            .push_bind(r)
            .push(", "),
        None => qb.push(" SET delete_time = NULL, expire_time = NULL, "),
    };
    qb.push("update_time = now(), revision = revision + 1 WHERE id = ANY(")
        .push_bind(ids)
        .push(")");
    qb.build().execute(&mut **tx).await.map_err(db_error)?;
    Ok(())
}

/// How a create starts: a transaction with the request id claimed, or the answer the first
/// attempt of a retried request gave.
pub(crate) enum Begun<R> {
    Write(Transaction<'static, Postgres>),
    Replayed(R),
}

impl Store {
    /// Begins the create of `id` from `spec` by `method`: claims the request id (the same
    /// id with another request is refused), or answers a retry with the original resource.
    pub(crate) async fn begin_create<R: Resource, S: Serialize>(
        &self,
        method: &'static str,
        id: &Id,
        spec: &S,
        ctx: &WriteCtx,
    ) -> Result<Begun<R>, Error> {
        let spec_json = serde_json::to_vec(spec).unwrap_or_default();
        let hash = super::request_hash(&[id.as_str().as_bytes(), &spec_json]);
        let mut tx = self.begin().await?;
        match super::claim_request(&mut tx, method, ctx, &hash).await? {
            super::Claim::Replay(resp) => serde_json::from_value(resp)
                .map(Begun::Replayed)
                .map_err(|e| Error::Internal(format!("stored response: {e}"))),
            super::Claim::New => Ok(Begun::Write(tx)),
        }
    }

    /// Ends a create: logs `created` as CREATED, remembers it as the request id's answer and
    /// commits (rolls back for `validate_only`).
    pub(crate) async fn commit_created<R: Resource>(
        mut tx: Transaction<'static, Postgres>,
        created: &R,
        method: &'static str,
        ctx: &WriteCtx,
    ) -> Result<(), Error> {
        let change = created.change(ChangeKind::Created, vec![], ctx)?;
        let response = change.snapshot.clone().unwrap_or(serde_json::Value::Null);
        super::append_changes_answering(&mut tx, &[change], method, ctx, &response).await?;
        Self::finish(tx, ctx).await
    }
}

/// The ids of a list of references, as bound to a `text[]` column.
pub fn ids(v: &[Id]) -> Vec<&str> {
    v.iter().map(Id::as_str).collect()
}

/// A query whose parameters are being bound.
pub type Bound<'q, O> = QueryAs<'q, Postgres, O, PgArguments>;

/// The [`Writable::COLUMNS`] and [`Writable::bind`] of a resource: one line a column, the
/// column's name and the value bound (a bare name binds the spec's member of that name).
///
/// ```ignore
/// writable_columns!(spec: ProductSetSpec { display_name, products, labels: Json(&spec.labels) });
/// ```
macro_rules! writable_columns {
    ($spec:ident: $ty:ty { $($column:ident $(: $value:expr)?),+ $(,)? }) => {
        const COLUMNS: &'static [&'static str] = &[$(stringify!($column)),+];

        fn bind<'q, O>(q: $crate::store::resource::Bound<'q, O>, $spec: &'q $ty) -> $crate::store::resource::Bound<'q, O> {
            q$(.bind($crate::store::resource::writable_columns!(@value $spec, $column $(, $value)?)))+
        }
    };
    (@value $spec:ident, $column:ident) => {
        &$spec.$column
    };
    (@value $spec:ident, $column:ident, $value:expr) => {
        $value
    };
}
pub(crate) use writable_columns;

/// A resource with the standard writes (create, update with a typed patch, soft delete,
/// undelete): the sequence of each is written once in [`Store::create_resource`] and its
/// siblings; what is a resource's own (its columns, the links it checks, who refers to it) is
/// a hook here.
pub trait Writable: Resource + Stored {
    /// The create method, under which the request id of a create is claimed.
    const CREATE: &'static str;
    /// The request field holding the resource: the prefix of an update's violations.
    const FIELD: &'static str;
    /// Whether a soft delete logs its own change before those of [`Writable::release`].
    const DELETED_FIRST: bool = false;

    /// The columns of `KIND.table` a write sets from the spec, besides `id` and the stamps,
    /// in the order [`Writable::bind`] binds them (both from [`writable_columns!`]).
    const COLUMNS: &'static [&'static str];

    /// Binds the spec's values of [`Writable::COLUMNS`], `$2…` (`$1` is the id).
    fn bind<'q, O>(q: Bound<'q, O>, spec: &'q Self::Spec) -> Bound<'q, O>;

    /// Locks what `spec` links and checks it is live: all of it for a new (or restored)
    /// resource, where `current` is `None`; for an update of `current`, what changed. By
    /// default it links nothing.
    fn check_links<'a>(
        _tx: &'a mut Transaction<'static, Postgres>,
        _id: &'a Id,
        _spec: &'a Self::Spec,
        _current: Option<&'a Self>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// Writes what is stored beside the row (partners: their member list), after it; as
    /// [`Writable::check_links`], everything when `current` is `None`.
    fn write_beside<'a>(
        _tx: &'a mut Transaction<'static, Postgres>,
        _id: &'a Id,
        _spec: &'a Self::Spec,
        _current: Option<&'a Self>,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        async { Ok(()) }
    }

    /// Before a soft delete: refuses (FAILED_PRECONDITION) while live resources refer to
    /// `current`, or with `force` removes those references and returns their changes. By
    /// default nothing refers to it.
    fn release<'a, 'c>(
        _store: &'a Store,
        _tx: &'a mut Transaction<'static, Postgres>,
        _current: &'a Self,
        _force: bool,
        _ctx: &'c WriteCtx,
    ) -> impl Future<Output = Result<Vec<Change<'c>>, Error>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Before an undelete: checks that what `current` links is still live (by default, as
    /// for a new resource).
    fn relink<'a>(
        tx: &'a mut Transaction<'static, Postgres>,
        current: &'a Self,
    ) -> impl Future<Output = Result<(), Error>> + Send + 'a {
        Self::check_links(tx, current.id(), current.spec(), None)
    }
}

/// Inserts the row of a new resource (ALREADY_EXISTS when its id is taken), checking what it
/// links, and reads it back.
async fn insert<R: Writable>(tx: &mut Transaction<'static, Postgres>, id: &Id, spec: &R::Spec) -> Result<R, Error> {
    R::check_links(tx, id, spec, None).await?;
    let columns = R::COLUMNS.join(", ");
    let values = (2..R::COLUMNS.len() + 2)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO {} (id, {columns}, create_time, update_time) VALUES ($1, {values}, now(), now())
         ON CONFLICT (id) DO NOTHING RETURNING id",
        R::KIND.table
    );
    let inserted: Option<(String,)> = R::bind(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), spec)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    ensure_inserted::<R>(inserted, id)?;
    R::write_beside(tx, id, spec, None).await?;
    read_back::<R>(tx, id).await
}

/// Writes `spec`, a changed spec of `current`, checking the links that changed.
async fn rewrite<R: Writable>(
    tx: &mut Transaction<'static, Postgres>,
    current: &R,
    spec: &R::Spec,
) -> Result<(), Error> {
    let id = current.id();
    R::check_links(tx, id, spec, Some(current)).await?;
    let set = (R::COLUMNS.iter().zip(2..))
        .map(|(c, i)| format!("{c} = ${i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "UPDATE {} SET {set}, update_time = now(), revision = revision + 1 WHERE id = $1 RETURNING id",
        R::KIND.table
    );
    R::bind::<(String,)>(sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.as_str()), spec)
        .fetch_one(&mut **tx)
        .await
        .map_err(db_error)?;
    R::write_beside(tx, id, spec, Some(current)).await
}

/// The patch of a [`Writable`] resource.
pub type PatchOf<R> = <<R as Stored>::Spec as Spec>::Patch;

impl Store {
    /// Creates a resource. With a request id, a retry returns the original resource.
    pub async fn create_resource<R: Writable>(&self, id: &Id, spec: R::Spec, ctx: &WriteCtx) -> Result<R, Error> {
        let mut tx = match self.begin_create(R::CREATE, id, &spec, ctx).await? {
            Begun::Write(tx) => tx,
            Begun::Replayed(original) => return Ok(original),
        };
        let created = insert::<R>(&mut tx, id, &spec).await?;
        Self::commit_created(tx, &created, R::CREATE, ctx).await?;
        Ok(created)
    }

    /// Updates a resource: applies `patch` (the masked fields, each valid, or their
    /// violations, reported once the resource is locked and its etag and state checked) to
    /// the stored resource and checks the result; an update that changes nothing writes
    /// nothing. With `create_spec` (allow_missing), a missing resource is created.
    pub async fn update_resource<R: Writable>(
        &self,
        id: &Id,
        etag: &str,
        mask: Vec<String>,
        patch: Result<PatchOf<R>, Error>,
        create_spec: Option<Result<R::Spec, Error>>,
        ctx: &WriteCtx,
    ) -> Result<R, Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_for::<R>(&mut tx, id, etag, Intent::Update).await? else {
            let spec = create_instead::<R, _>(id, etag, create_spec)?;
            let created = insert::<R>(&mut tx, id, &spec).await?;
            Self::commit(tx, &[created.change(ChangeKind::Created, vec![], ctx)?], ctx).await?;
            return Ok(created);
        };
        let spec = current.patched(patch?).map_err(|e| e.within(R::FIELD))?;
        if &spec == current.spec() {
            tx.rollback().await.map_err(db_error)?;
            return Ok(current);
        }
        rewrite(&mut tx, &current, &spec).await?;
        let updated = read_back::<R>(&mut tx, id).await?;
        Self::commit(tx, &[updated.change(ChangeKind::Updated, mask, ctx)?], ctx).await?;
        Ok(updated)
    }

    /// Soft-deletes a resource (see [`Writable::release`] for what refers to it and `force`).
    pub async fn delete_resource<R: Writable>(
        &self,
        id: &Id,
        etag: &str,
        force: bool,
        allow_missing: bool,
        ctx: &WriteCtx,
    ) -> Result<Option<R>, Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_for::<R>(&mut tx, id, etag, Intent::Delete).await? else {
            return if allow_missing {
                Ok(None)
            } else {
                Err(not_found::<R>(id))
            };
        };
        let mut changes = R::release(self, &mut tx, &current, force, ctx).await?;
        set_deleted::<R>(&mut tx, &[id.as_str()], Some(self.opts.soft_delete_retention)).await?;
        let deleted = read_back::<R>(&mut tx, id).await?;
        let change = deleted.change(ChangeKind::Deleted, vec![], ctx)?;
        if R::DELETED_FIRST {
            changes.insert(0, change);
        } else {
            changes.push(change);
        }
        Self::commit(tx, &changes, ctx).await?;
        Ok(Some(deleted))
    }

    /// Restores a soft-deleted resource; what it links must still be live.
    pub async fn undelete_resource<R: Writable>(&self, id: &Id, etag: &str, ctx: &WriteCtx) -> Result<R, Error> {
        let mut tx = self.begin().await?;
        let current = lock_for::<R>(&mut tx, id, etag, Intent::Undelete)
            .await?
            .ok_or_else(|| not_found::<R>(id))?;
        R::relink(&mut tx, &current).await?;
        Self::restore(tx, id, ctx).await
    }

    /// The end of an undelete: restores the soft-deleted `id`, whose row `tx` holds and whose
    /// links it has checked, logs the change and commits.
    pub(crate) async fn restore<R: Resource>(
        mut tx: Transaction<'static, Postgres>,
        id: &Id,
        ctx: &WriteCtx,
    ) -> Result<R, Error> {
        set_deleted::<R>(&mut tx, &[id.as_str()], None).await?;
        let restored = read_back::<R>(&mut tx, id).await?;
        Self::commit(tx, &[restored.change(ChangeKind::Undeleted, vec![], ctx)?], ctx).await?;
        Ok(restored)
    }
}
