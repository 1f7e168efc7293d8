//! Product sets in PostgreSQL: the row, the [`Resource`] impl (the generic reads) and the
//! writes (create, update, soft delete, undelete), each with its change-log entry.

use std::collections::BTreeMap;

use sqlx::{Postgres, Transaction, postgres::PgArguments, query::QueryAs, types::Json};
use time::OffsetDateTime;

use super::{
    ChangeKind, Claim, Store, WriteCtx, append_changes, append_changes_answering, check_etag, claim_request, db_error,
    request_hash,
    resource::{Kind, Meta, Resource, ensure_inserted, lock_row, not_found, read_back},
    resource_deleted,
    risks::{Link, risks_linking, unlink_from_risks},
};
use crate::domain::{
    Collection, Error, Id, Reason,
    list::SortValue,
    product_set::{self, ProductSet, ProductSetPatch, ProductSetSpec},
};

const SETS: Collection = Collection::ProductSets;

#[derive(sqlx::FromRow)]
pub struct ProductSetRow {
    #[sqlx(flatten)]
    stamps: super::resource::StampRow,
    display_name: String,
    description: String,
    products: Vec<String>,
    labels: Json<BTreeMap<String, String>>,
}

impl TryFrom<ProductSetRow> for ProductSet {
    type Error = Error;
    fn try_from(r: ProductSetRow) -> Result<Self, Error> {
        let (id, stamps, _) = r.stamps.read("product set")?;
        Ok(ProductSet {
            id,
            spec: ProductSetSpec {
                display_name: r.display_name,
                description: r.description,
                products: r.products,
                labels: r.labels.0,
            },
            stamps,
        })
    }
}

impl Resource for ProductSet {
    const KIND: Kind = Kind {
        collection: SETS,
        fields: product_set::FIELDS,
        select: "SELECT * FROM product_sets",
        table: "product_sets",
        id: "product_sets.id",
        lock_then_read: false,
    };
    /// Its own row only.
    const DEPENDS: super::cache::Depends = super::cache::Depends::On(&[]);
    type Row = ProductSetRow;

    super::resource::stored_fields!();
}

const INSERT: &str =
    "INSERT INTO product_sets (id, display_name, description, products, labels, create_time, update_time)
     VALUES ($1, $2, $3, $4, $5, now(), now())
     ON CONFLICT (id) DO NOTHING
     RETURNING id";

const UPDATE: &str = "UPDATE product_sets SET display_name = $2, description = $3, products = $4, labels = $5,
        update_time = now(), revision = revision + 1
     WHERE id = $1
     RETURNING id";

/// Binds `$1…$5` of [`INSERT`] and [`UPDATE`].
fn bind_columns<'q, O>(
    q: QueryAs<'q, Postgres, O, PgArguments>,
    id: &'q Id,
    spec: &'q ProductSetSpec,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    q.bind(id.as_str())
        .bind(&spec.display_name)
        .bind(&spec.description)
        .bind(&spec.products)
        .bind(Json(&spec.labels))
}

async fn insert(tx: &mut Transaction<'static, Postgres>, id: &Id, spec: &ProductSetSpec) -> Result<ProductSet, Error> {
    let inserted: Option<(String,)> = bind_columns(sqlx::query_as(INSERT), id, spec)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
    ensure_inserted::<ProductSet>(inserted, id)?;
    read_back::<ProductSet>(tx, id).await
}

/// Soft-deletes (`Some(retention)`) or restores (`None`) a set and reads it back.
async fn set_deleted(
    tx: &mut Transaction<'static, Postgres>,
    id: &Id,
    retention: Option<std::time::Duration>,
) -> Result<ProductSet, Error> {
    let q = match retention {
        Some(r) => sqlx::query(
            "UPDATE product_sets SET delete_time = now(), expire_time = now() + $2, update_time = now(),
                    revision = revision + 1 WHERE id = $1",
        )
        .bind(id.as_str())
        .bind(r),
        None => sqlx::query(
            "UPDATE product_sets SET delete_time = NULL, expire_time = NULL, update_time = now(),
                    revision = revision + 1 WHERE id = $1",
        )
        .bind(id.as_str()),
    };
    q.execute(&mut **tx).await.map_err(db_error)?;
    read_back::<ProductSet>(tx, id).await
}

/// FAILED_PRECONDITION when live risks (`LINKED_BY_RISKS`) or goals (`LINKED_BY_GOALS`) link
/// `set`.
async fn refuse_if_linked(tx: &mut Transaction<'static, Postgres>, set: &ProductSet) -> Result<(), Error> {
    let risks = risks_linking(tx, Link::ProductSets, &[set.id.as_str()]).await?;
    if !risks.is_empty() {
        return Err(Error::failed_precondition(
            Reason::LinkedByRisks,
            format!(
                "{} is linked by live risks ({}); unlink it from them first or set force",
                set.name(),
                super::name_list(Collection::Risks, risks.iter().map(String::as_str))
            ),
            Some(set.name()),
        ));
    }
    let goals: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM policy_goals WHERE product_sets @> ARRAY[$1] AND delete_time IS NULL ORDER BY id LIMIT 5",
    )
    .bind(set.id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    if !goals.is_empty() {
        return Err(Error::failed_precondition(
            Reason::LinkedByGoals,
            format!(
                "{} is linked by live goals ({}); unlink it from them first or set force",
                set.name(),
                super::name_list(Collection::PolicyGoals, goals.iter().map(String::as_str))
            ),
            Some(set.name()),
        ));
    }
    Ok(())
}

impl Store {
    /// Creates a product set. With a request id, a retry returns the original set.
    pub async fn create_product_set(&self, id: &Id, spec: ProductSetSpec, ctx: &WriteCtx) -> Result<ProductSet, Error> {
        let spec_json = serde_json::to_vec(&spec).unwrap_or_default();
        let hash = request_hash(&[id.as_str().as_bytes(), &spec_json]);
        let mut tx = self.begin().await?;
        if let Claim::Replay(resp) = claim_request(&mut tx, "CreateProductSet", ctx, &hash).await? {
            return serde_json::from_value(resp).map_err(|e| Error::Internal(format!("stored response: {e}")));
        }
        let set = insert(&mut tx, id, &spec).await?;
        let change = set.change(ChangeKind::Created, vec![], ctx)?;
        let response = change.snapshot.clone().unwrap_or(serde_json::Value::Null);
        append_changes_answering(&mut tx, &[change], "CreateProductSet", ctx, &response).await?;
        Self::finish(tx, ctx).await?;
        Ok(set)
    }

    /// Updates a product set with `patch` (the masked fields); with `create_spec`
    /// (allow_missing) a missing set is created.
    pub async fn update_product_set(
        &self,
        id: &Id,
        etag: &str,
        mask: Vec<String>,
        patch: Result<ProductSetPatch, Error>,
        create_spec: Option<Result<ProductSetSpec, Error>>,
        ctx: &WriteCtx,
    ) -> Result<ProductSet, Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_row::<ProductSet>(&mut tx, id).await? else {
            let Some(spec) = create_spec else {
                return Err(not_found::<ProductSet>(id));
            };
            if !etag.is_empty() {
                return Err(Error::etag_mismatch(&SETS.name(id)));
            }
            let set = insert(&mut tx, id, &spec?).await?;
            append_changes(&mut tx, &[set.change(ChangeKind::Created, vec![], ctx)?]).await?;
            Self::finish(tx, ctx).await?;
            return Ok(set);
        };
        check_etag(etag, &current.etag(), || current.name())?;
        if current.stamps.delete_time.is_some() {
            return Err(resource_deleted(
                current.name(),
                "is deleted; undelete it before updating",
            ));
        }
        let mut spec = current.spec.clone();
        spec.apply(patch?).map_err(|e| e.within("product_set"))?;
        if spec == current.spec {
            tx.rollback().await.map_err(db_error)?;
            return Ok(current);
        }
        bind_columns::<(String,)>(sqlx::query_as(UPDATE), id, &spec)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let set = read_back::<ProductSet>(&mut tx, id).await?;
        append_changes(&mut tx, &[set.change(ChangeKind::Updated, mask, ctx)?]).await?;
        Self::finish(tx, ctx).await?;
        Ok(set)
    }

    /// Soft-deletes a product set. A set that live risks or goals link is refused
    /// (FAILED_PRECONDITION) unless `force`, which removes it from their links (each a new
    /// revision in the change log).
    pub async fn delete_product_set(
        &self,
        id: &Id,
        etag: &str,
        force: bool,
        allow_missing: bool,
        ctx: &WriteCtx,
    ) -> Result<Option<ProductSet>, Error> {
        let mut tx = self.begin().await?;
        let Some(current) = lock_row::<ProductSet>(&mut tx, id).await? else {
            return if allow_missing {
                Ok(None)
            } else {
                Err(not_found::<ProductSet>(id))
            };
        };
        check_etag(etag, &current.etag(), || current.name())?;
        if current.stamps.delete_time.is_some() {
            return Err(resource_deleted(current.name(), "is already deleted"));
        }
        let mut changes = Vec::new();
        if force {
            changes.extend(unlink_from_risks(&mut tx, Link::ProductSets, &[id.as_str()], ctx).await?);
            changes.extend(super::goals::unlink_product_set_from_goals(&mut tx, id, ctx).await?);
        } else {
            refuse_if_linked(&mut tx, &current).await?;
        }
        let set = set_deleted(&mut tx, id, Some(self.opts.soft_delete_retention)).await?;
        changes.insert(0, set.change(ChangeKind::Deleted, vec![], ctx)?);
        append_changes(&mut tx, &changes).await?;
        Self::finish(tx, ctx).await?;
        Ok(Some(set))
    }

    /// Restores a soft-deleted product set.
    pub async fn undelete_product_set(&self, id: &Id, etag: &str, ctx: &WriteCtx) -> Result<ProductSet, Error> {
        let mut tx = self.begin().await?;
        let current = lock_row::<ProductSet>(&mut tx, id)
            .await?
            .ok_or_else(|| not_found::<ProductSet>(id))?;
        check_etag(etag, &current.etag(), || current.name())?;
        if current.stamps.delete_time.is_none() {
            return Err(Error::AlreadyExists {
                resource_type: SETS.resource_type(),
                name: current.name(),
            });
        }
        let set = set_deleted(&mut tx, id, None).await?;
        append_changes(&mut tx, &[set.change(ChangeKind::Undeleted, vec![], ctx)?]).await?;
        Self::finish(tx, ctx).await?;
        Ok(set)
    }

    /// The products of a live set, now or as it was at `at` (NOT_FOUND when it did not
    /// exist then, FAILED_PRECONDITION when it is, or was then, deleted).
    pub async fn product_set_products(&self, id: &Id, at: Option<OffsetDateTime>) -> Result<Vec<String>, Error> {
        let set = match at {
            None => self.get::<ProductSet>(id).await?,
            Some(t) => self
                .get_at::<ProductSet>(id, t)
                .await?
                .ok_or_else(|| not_found::<ProductSet>(id))?,
        };
        if set.stamps.delete_time.is_some() {
            return Err(resource_deleted(set.name(), "is deleted"));
        }
        Ok(set.spec.products)
    }

    /// Purges soft-deleted product sets past their expire time.
    pub(super) async fn purge_expired_product_sets(&self) -> Result<u64, Error> {
        self.purge_in_batches(
            "DELETE FROM product_sets WHERE id IN (
                SELECT id FROM product_sets WHERE expire_time < now() ORDER BY id LIMIT 500)
             RETURNING id",
            SETS,
        )
        .await
    }
}
