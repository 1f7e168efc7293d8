//! Product sets in PostgreSQL: the row, the [`Resource`] impl (the generic reads) and the
//! writes (create, update, soft delete, undelete), each with its change-log entry.

use std::collections::BTreeMap;

use sqlx::{Postgres, Transaction, types::Json};
use time::OffsetDateTime;

use super::{
    Change, Store, WriteCtx, db_error, refuse_linked,
    resource::{Meta, Writable, not_found},
    resource_deleted,
    risks::{Link, risks_linking, unlink_from_risks},
};
use crate::domain::{
    Collection, Error, Id, Reason,
    list::SortValue,
    product_set::{self, ProductSet, ProductSetSpec},
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

super::resource::own_row_resource!(ProductSet: ProductSetRow, SETS, product_set::FIELDS, "product_sets");

/// FAILED_PRECONDITION when live risks (`LINKED_BY_RISKS`) or goals (`LINKED_BY_GOALS`) link
/// `set`.
async fn refuse_if_linked(tx: &mut Transaction<'static, Postgres>, set: &ProductSet) -> Result<(), Error> {
    let risks = risks_linking(tx, Link::ProductSets, &[set.id.as_str()]).await?;
    let unlink = "unlink it from them first";
    let risks = risks.iter().map(String::as_str);
    refuse_linked(
        set.name(),
        Reason::LinkedByRisks,
        "is linked by live risks",
        Collection::Risks,
        risks,
        unlink,
    )?;
    let goals: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM policy_goals WHERE product_sets @> ARRAY[$1] AND delete_time IS NULL ORDER BY id LIMIT 5",
    )
    .bind(set.id.as_str())
    .fetch_all(&mut **tx)
    .await
    .map_err(db_error)?;
    let goals = goals.iter().map(String::as_str);
    refuse_linked(
        set.name(),
        Reason::LinkedByGoals,
        "is linked by live goals",
        Collection::PolicyGoals,
        goals,
        unlink,
    )
}

impl Writable for ProductSet {
    const CREATE: &'static str = "CreateProductSet";
    const FIELD: &'static str = "product_set";
    const DELETED_FIRST: bool = true;

    super::resource::writable_columns!(spec: ProductSetSpec {
        display_name,
        description,
        products,
        labels: Json(&spec.labels),
    });

    /// A set that live risks or goals link is refused (FAILED_PRECONDITION) unless `force`,
    /// which removes it from their links (each a new revision in the change log).
    async fn release<'a, 'c>(
        _store: &'a Store,
        tx: &'a mut Transaction<'static, Postgres>,
        current: &'a Self,
        force: bool,
        ctx: &'c WriteCtx,
    ) -> Result<Vec<Change<'c>>, Error> {
        if !force {
            refuse_if_linked(tx, current).await?;
            return Ok(Vec::new());
        }
        let id = &current.id;
        let mut changes = unlink_from_risks(tx, Link::ProductSets, &[id.as_str()], ctx).await?;
        changes.extend(super::goals::unlink_product_set_from_goals(tx, id, ctx).await?);
        Ok(changes)
    }
}

impl Store {
    /// Creates a product set (the trade service's create).
    pub async fn create_product_set(&self, id: &Id, spec: ProductSetSpec, ctx: &WriteCtx) -> Result<ProductSet, Error> {
        self.create_resource(id, spec, ctx).await
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
