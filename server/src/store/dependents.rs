//! The dependent products behind goals and partners' risks: the products of their product
//! sets that the import-dependency analysis marks `dependent` for Korea in the latest year
//! with data. Read by Get of one goal or partner ([`super::Resource::detail`]), from the
//! figures ListImportDependencies reads ([`Store::dependency_data`]): one query for the year,
//! one for the sets, and the analysis of their products only.

use std::collections::BTreeMap;

use super::{Store, db_error, risks::Link};
use crate::domain::{
    Error, Id,
    dependency::{self, DependentProduct, Thresholds},
    enums::PartnerKind,
    goal::PolicyGoal,
    partner::TradePartner,
    product_set::country,
};

/// The importer whose dependencies goals and partners show.
pub const IMPORTER: &str = "KR";

/// Where a product set comes from: the resource's own link (`None`) or a linking risk.
type Source = (String, Option<String>);

/// Why a product is shown: the sets and risks that bring it in.
#[derive(Default)]
struct Reasons {
    sets: Vec<String>,
    risks: Vec<String>,
}

fn add_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_owned());
    }
}

fn ids(v: Vec<String>) -> Result<Vec<Id>, Error> {
    let mut v: Vec<Id> = v
        .into_iter()
        .map(|s| Id::try_from(s).map_err(|_| Error::Internal("a stored link has an invalid id".into())))
        .collect::<Result<_, _>>()?;
    v.sort();
    Ok(v)
}

impl Store {
    /// The latest year in which the stored data has imports of `importer` (current figures);
    /// `None` when it has none. A backward walk of the importer's sums (a row per product-year
    /// it has current records of, kept by the loads).
    pub async fn latest_import_year(&self, importer: &str) -> Result<Option<i32>, Error> {
        sqlx::query_scalar("SELECT max(year) FROM trade_country_stats WHERE country = $1")
            .bind(importer)
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    /// The product sets of the live risks linking `id` through `link` (goals or partners),
    /// one row per (set, risk).
    async fn risk_sets(&self, link: Link, id: &Id) -> Result<Vec<Source>, Error> {
        let sql = match link {
            Link::Goals => {
                "SELECT s, id FROM risks, unnest(product_sets) s WHERE goals @> ARRAY[$1] AND delete_time IS NULL"
            }
            Link::Partners => {
                "SELECT s, id FROM risks, unnest(product_sets) s WHERE partners @> ARRAY[$1] AND delete_time IS NULL"
            }
            Link::ProductSets => return Err(Error::Internal("a product set has no product sets".into())),
        };
        let rows: Vec<(String, String)> = sqlx::query_as(sql)
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|(s, r)| (s, Some(r))).collect())
    }

    /// The dependent products among the products of the live product sets of `sources`, by
    /// product; with `suppliers`, only those whose top supplier is one of them.
    async fn dependents(
        &self,
        sources: &[Source],
        suppliers: Option<&[String]>,
    ) -> Result<Vec<DependentProduct>, Error> {
        if sources.is_empty() || suppliers.is_some_and(<[String]>::is_empty) {
            return Ok(Vec::new());
        }
        let Some(year) = self.latest_import_year(IMPORTER).await? else {
            return Ok(Vec::new());
        };
        // Each set and the risks that bring it in (none: the resource's own link).
        let mut risks_of: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (set, risk) in sources {
            risks_of.entry(set).or_default().extend(risk.as_deref());
        }
        let wanted: Vec<&str> = risks_of.keys().copied().collect();
        let sets: Vec<(String, Vec<String>)> =
            sqlx::query_as("SELECT id, products FROM product_sets WHERE id = ANY($1) AND delete_time IS NULL")
                .bind(&wanted)
                .fetch_all(&self.pool)
                .await
                .map_err(db_error)?;
        let mut why: BTreeMap<String, Reasons> = BTreeMap::new();
        for (set, products) in &sets {
            for product in products {
                let reasons = why.entry(product.clone()).or_default();
                add_unique(&mut reasons.sets, set);
                for risk in risks_of.get(set.as_str()).into_iter().flatten() {
                    add_unique(&mut reasons.risks, risk);
                }
            }
        }
        if why.is_empty() {
            return Ok(Vec::new());
        }
        let products: Vec<String> = why.keys().cloned().collect();
        let data = self
            .dependency_data(IMPORTER, year - dependency::YEARS + 1..=year, Some(&products))
            .await?;
        let t = Thresholds::default();
        let mut out = Vec::new();
        for (product, years) in &data {
            let Some(d) = dependency::assess(IMPORTER, product, year, years, &t) else {
                continue;
            };
            if !d.persistent || suppliers.is_some_and(|s| !s.contains(&d.current.top_supplier)) {
                continue;
            }
            let Some(reasons) = why.remove(product) else {
                continue;
            };
            out.push(DependentProduct {
                product: d.product,
                year,
                importer: IMPORTER.to_owned(),
                top_supplier: d.current.top_supplier,
                top_supplier_share: d.current.top_supplier_share,
                import_hhi: d.current.import_hhi,
                product_sets: ids(reasons.sets)?,
                risks: ids(reasons.risks)?,
                explanation: d.explanation,
            });
        }
        Ok(out)
    }

    /// The dependent products behind a goal: those of its own product sets and of the
    /// product sets of the live risks linking it.
    pub(super) async fn goal_dependents(&self, goal: &PolicyGoal) -> Result<Vec<DependentProduct>, Error> {
        if goal.stamps.delete_time.is_some() {
            return Ok(Vec::new());
        }
        let mut sources: Vec<Source> = goal
            .spec
            .product_sets
            .iter()
            .map(|s| (s.as_str().to_owned(), None))
            .collect();
        if !goal.risk_register.is_empty() {
            sources.extend(self.risk_sets(Link::Goals, &goal.id).await?);
        }
        self.dependents(&sources, None).await
    }

    /// The dependent products behind a partner's risks: those of the product sets of the live
    /// risks linking it whose top supplier is the partner (a country) or one of its member
    /// countries (a bloc, forum or group).
    pub(super) async fn partner_dependents(&self, partner: &TradePartner) -> Result<Vec<DependentProduct>, Error> {
        if partner.stamps.delete_time.is_some() || partner.risk_register.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<String> = if partner.spec.kind == PartnerKind::Country {
            vec![partner.id.as_str().to_ascii_uppercase()]
        } else {
            partner
                .spec
                .members
                .iter()
                .filter_map(|m| country("members", m.as_str()).ok())
                .collect()
        };
        let sources = self.risk_sets(Link::Partners, &partner.id).await?;
        self.dependents(&sources, Some(&codes)).await
    }
}
