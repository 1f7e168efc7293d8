//! Product-level trade records: one HS 6-digit flow between two countries in one year.

use time::OffsetDateTime;

/// One flow's figures, validated (countries ISO alpha-2 in upper case, product 6 digits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TradeRecord {
    pub year: i32,
    pub exporter: String,
    pub importer: String,
    pub product: String,
    pub hs_edition: String,
    pub value_usd: i64,
    pub quantity_kg: Option<i64>,
    pub source: String,
    pub estimated: bool,
}

impl TradeRecord {
    /// The flow (year, exporter, importer, product) in one integer, distinct for distinct
    /// flows of validated records (two-byte countries, six-byte products).
    pub fn flow_key(&self) -> u128 {
        let bytes = |s: &str| s.bytes().fold(0u128, |k, b| k << 8 | u128::from(b));
        (u128::from(self.year as u32) << 80)
            | (bytes(&self.exporter) << 64)
            | (bytes(&self.importer) << 48)
            | bytes(&self.product)
    }

    /// The error of a flow given twice in one load.
    pub fn given_twice(&self) -> String {
        format!(
            "the flow {} {}->{} of product {} is given more than once",
            self.year, self.exporter, self.importer, self.product
        )
    }
}

/// A stored version of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: TradeRecord,
    pub revision: i32,
    pub valid_from: OffsetDateTime,
}

/// What a load changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadCounts {
    pub received: i64,
    pub inserted: i64,
    pub revised: i64,
    pub product_years: i64,
}

/// One product the importer buys mostly from one supplier.
#[derive(Debug, Clone, PartialEq)]
pub struct Dominated {
    pub product: String,
    pub supplier: String,
    pub share: f64,
    pub supplier_value_usd: i64,
    pub import_value_usd: i64,
    pub supplier_count: i32,
}

/// The products (from an importer's imports of one year: product, supplier, value) whose top
/// supplier is `supplier` with at least `min_share` of the imports, by product.
pub fn dominated(rows: Vec<(String, String, i64)>, supplier: &str, min_share: f64) -> Vec<Dominated> {
    let mut by_product: std::collections::BTreeMap<String, Vec<(String, i64)>> = Default::default();
    for (product, exporter, value) in rows {
        by_product.entry(product).or_default().push((exporter, value));
    }
    let mut out = Vec::new();
    for (product, suppliers) in by_product {
        let (_, top) = super::dependency::hhi(&suppliers);
        let Some((top, share)) = top else { continue };
        if top != supplier || share < min_share {
            continue;
        }
        out.push(Dominated {
            supplier_value_usd: suppliers.iter().find(|(c, _)| c == supplier).map_or(0, |(_, v)| *v),
            import_value_usd: suppliers.iter().map(|(_, v)| *v).fold(0, i64::saturating_add),
            supplier_count: suppliers.iter().filter(|(_, v)| *v > 0).count() as i32,
            supplier: supplier.to_owned(),
            share,
            product,
        });
    }
    out
}
