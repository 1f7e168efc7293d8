//! The risk register in PostgreSQL. A risk's links to goals and partners are `text[]` columns
//! of its row; a write locks the linked goals and partners `FOR SHARE` and checks they are
//! live, and deleting a goal or partner locks it `FOR UPDATE` and checks the live risks that
//! link it, so whichever commits first, the other sees it.

use std::collections::{BTreeMap, HashMap};

use sqlx::{Postgres, Transaction, types::Json};

use super::{
    Change, ChangeKind, Store, WriteCtx, db_error,
    partners::{lock_live_goals, lock_live_partners, lock_live_product_sets},
    resource::{Meta, Resource, Writable},
};
use crate::domain::{
    Collection, Error, Id,
    enums::{RiskCategory, RiskState},
    list::SortValue,
    risk::{self, RiskEntry, RiskSpec},
};

const RISKS: Collection = Collection::Risks;

#[derive(sqlx::FromRow)]
pub struct RiskRow {
    #[sqlx(flatten)]
    stamps: super::resource::StampRow,
    title: String,
    title_ko: String,
    category: String,
    description: String,
    likelihood: i32,
    impact: i32,
    owner_organization: String,
    mitigation: String,
    state: String,
    source: String,
    labels: Json<BTreeMap<String, String>>,
    goals: Vec<String>,
    partners: Vec<String>,
    product_sets: Vec<String>,
}

/// Risk ids read for the register of `target`.
fn ids_of(v: Vec<String>, target: &str) -> Result<Vec<Id>, Error> {
    v.into_iter()
        .map(|s| Id::try_from(s).map_err(|_| Error::Internal(format!("a risk linking {target} has an invalid id"))))
        .collect()
}

impl TryFrom<RiskRow> for RiskEntry {
    type Error = Error;
    fn try_from(r: RiskRow) -> Result<Self, Error> {
        let (id, stamps, c) = r.stamps.read("risk")?;
        let score = |n: i32, what: &str| u8::try_from(n).map_err(|_| c.corrupt(what));
        Ok(RiskEntry {
            spec: RiskSpec {
                title: r.title,
                title_ko: r.title_ko,
                category: c.optional(Some(&r.category), RiskCategory::parse, "category")?,
                description: r.description,
                likelihood: score(r.likelihood, "likelihood")?,
                impact: score(r.impact, "impact")?,
                owner_organization: r.owner_organization,
                mitigation: r.mitigation,
                state: c.optional(Some(&r.state), RiskState::parse, "state")?,
                source: r.source,
                labels: r.labels.0,
                goals: c.ids(r.goals, "goal")?,
                partners: c.ids(r.partners, "partner")?,
                product_sets: c.ids(r.product_sets, "product set")?,
            },
            stamps,
            id,
        })
    }
}

super::resource::own_row_resource!(RiskEntry: RiskRow, RISKS, risk::FIELDS, "risks");

/// Which links of a risk: to goals, partners or product sets (the column of the `risks`
/// table).
#[derive(Debug, Clone, Copy)]
pub(super) enum Link {
    Goals,
    Partners,
    ProductSets,
}

impl Link {
    fn column(self) -> &'static str {
        match self {
            Link::Goals => "goals",
            Link::Partners => "partners",
            Link::ProductSets => "product_sets",
        }
    }
}

/// Live risks linking one of `ids` (at most 5, by id): what a delete of them is refused for.
pub(super) async fn risks_linking(
    tx: &mut Transaction<'static, Postgres>,
    link: Link,
    ids: &[&str],
) -> Result<Vec<String>, Error> {
    let sql = match link {
        Link::Goals => "SELECT id FROM risks WHERE goals && $1 AND delete_time IS NULL ORDER BY id LIMIT 5",
        Link::Partners => "SELECT id FROM risks WHERE partners && $1 AND delete_time IS NULL ORDER BY id LIMIT 5",
        Link::ProductSets => {
            "SELECT id FROM risks WHERE product_sets && $1 AND delete_time IS NULL ORDER BY id LIMIT 5"
        }
    };
    sqlx::query_scalar(sql)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)
}

/// Removes `ids` from the links of every live risk (a forced delete of goals or partners);
/// returns the change records of the risks that changed (each a new revision).
pub(super) async fn unlink_from_risks<'a>(
    tx: &mut Transaction<'static, Postgres>,
    link: Link,
    ids: &[&str],
    ctx: &'a WriteCtx,
) -> Result<Vec<Change<'a>>, Error> {
    let col = link.column();
    let sql = match link {
        Link::Goals => {
            "UPDATE risks SET goals = ARRAY(SELECT x FROM unnest(goals) x WHERE x <> ALL($1)),
                 update_time = now(), revision = revision + 1
             WHERE goals && $1 AND delete_time IS NULL RETURNING risks.*"
        }
        Link::Partners => {
            "UPDATE risks SET partners = ARRAY(SELECT x FROM unnest(partners) x WHERE x <> ALL($1)),
                 update_time = now(), revision = revision + 1
             WHERE partners && $1 AND delete_time IS NULL RETURNING risks.*"
        }
        Link::ProductSets => {
            "UPDATE risks SET product_sets = ARRAY(SELECT x FROM unnest(product_sets) x WHERE x <> ALL($1)),
                 update_time = now(), revision = revision + 1
             WHERE product_sets && $1 AND delete_time IS NULL RETURNING risks.*"
        }
    };
    let rows: Vec<RiskRow> = sqlx::query_as(sql)
        .bind(ids)
        .fetch_all(&mut **tx)
        .await
        .map_err(db_error)?;
    rows.into_iter()
        .map(|row| RiskEntry::try_from(row)?.change(ChangeKind::Updated, vec![col.to_owned()], ctx))
        .collect()
}

impl Writable for RiskEntry {
    const CREATE: &'static str = "CreateRiskEntry";
    const FIELD: &'static str = "risk";

    super::resource::writable_columns!(spec: RiskSpec {
        title,
        title_ko,
        category: spec.category.map(RiskCategory::as_str).unwrap_or_default(),
        description,
        likelihood: i32::from(spec.likelihood),
        impact: i32::from(spec.impact),
        owner_organization,
        mitigation,
        state: spec.state.map(RiskState::as_str).unwrap_or_default(),
        source,
        labels: Json(&spec.labels),
        goals: super::resource::ids(&spec.goals),
        partners: super::resource::ids(&spec.partners),
        product_sets: super::resource::ids(&spec.product_sets),
    });

    /// The goals, partners and product sets it links.
    async fn check_links(
        tx: &mut Transaction<'static, Postgres>,
        _id: &Id,
        spec: &RiskSpec,
        current: Option<&Self>,
    ) -> Result<(), Error> {
        if current.is_some_and(|c| {
            c.spec.goals == spec.goals && c.spec.partners == spec.partners && c.spec.product_sets == spec.product_sets
        }) {
            return Ok(());
        }
        let sorted = |ids: &[Id]| {
            let mut ids = ids.to_vec();
            ids.sort();
            ids
        };
        lock_live_goals(tx, &sorted(&spec.goals), "risk.goals").await?;
        lock_live_partners(tx, &sorted(&spec.partners), "risk.partners").await?;
        lock_live_product_sets(tx, &sorted(&spec.product_sets), "risk.product_sets").await?;
        Ok(())
    }
}

impl Store {
    /// The live risks linking each of `ids` through `link`, by id (the `risk_register` of
    /// goals and partners).
    pub(super) async fn risk_register(&self, link: Link, ids: &[&str]) -> Result<HashMap<String, Vec<Id>>, Error> {
        let sql = match link {
            Link::Goals => {
                "SELECT x, array_agg(id ORDER BY id) FROM risks, unnest(goals) x
                 WHERE delete_time IS NULL AND x = ANY($1) GROUP BY x"
            }
            Link::Partners => {
                "SELECT x, array_agg(id ORDER BY id) FROM risks, unnest(partners) x
                 WHERE delete_time IS NULL AND x = ANY($1) GROUP BY x"
            }
            Link::ProductSets => {
                "SELECT x, array_agg(id ORDER BY id) FROM risks, unnest(product_sets) x
                 WHERE delete_time IS NULL AND x = ANY($1) GROUP BY x"
            }
        };
        let rows: Vec<(String, Vec<String>)> = sqlx::query_as(sql)
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        rows.into_iter()
            .map(|(target, risks)| Ok((target.clone(), ids_of(risks, &target)?)))
            .collect()
    }

    /// Purges soft-deleted risks past their expire time.
    pub(super) async fn purge_expired_risks(&self) -> Result<u64, Error> {
        self.purge_in_batches(
            "DELETE FROM risks t WHERE t.id IN (
                SELECT id FROM risks r WHERE r.expire_time < now() LIMIT 500 FOR UPDATE SKIP LOCKED)
             RETURNING t.id",
            RISKS,
        )
        .await
    }
}
