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
    /// The flow (year, exporter, importer, product) in one integer: see [`flow`].
    pub fn flow(&self) -> i64 {
        flow(self.year, &self.exporter, &self.importer, &self.product)
    }

    /// The error of a flow given twice in one load.
    pub fn given_twice(&self) -> String {
        format!(
            "the flow {} {}->{} of product {} is given more than once",
            self.year, self.exporter, self.importer, self.product
        )
    }
}

/// Bits of the product (six digits, below 2^20) in a [`flow`].
const PRODUCT_BITS: u32 = 20;
/// Bits of a country (two letters A–Z, base 26: below 676 < 2^10) in a [`flow`].
const COUNTRY_BITS: u32 = 10;

/// A country code's two letters as a number (base 26), in their alphabetical order.
fn country_number(code: &str) -> i64 {
    let letter = |b: Option<u8>| i64::from(b.unwrap_or(b'A').saturating_sub(b'A').min(25));
    let mut b = code.bytes();
    letter(b.next()) * 26 + letter(b.next())
}

/// The flow of year, exporter, importer and product of a validated record (years
/// 1900..=2200, ISO alpha-2 codes in upper case, products of six digits) in one integer, the
/// primary key of the stored records: year − 1900 in the bits from 40 up, exporter and
/// importer in 10 bits each (their letters base 26), the product's number in the low 20 bits.
/// Distinct flows have distinct numbers, and numbers order as the four fields do, so a year,
/// or a year and exporter, is one range ([`flow_range`]). The migration
/// `20261202400000_trade_flow_key.sql` computes the same from the stored columns.
pub fn flow(year: i32, exporter: &str, importer: &str, product: &str) -> i64 {
    let product = product
        .bytes()
        .take(6)
        .fold(0i64, |n, b| n * 10 + i64::from(b.saturating_sub(b'0').min(9)));
    (i64::from(year.clamp(1900, 2200) - 1900) << (2 * COUNTRY_BITS + PRODUCT_BITS))
        | (country_number(exporter) << (COUNTRY_BITS + PRODUCT_BITS))
        | (country_number(importer) << PRODUCT_BITS)
        | product
}

/// The first and last [`flow`] of a year, or of a year and exporter.
pub fn flow_range(year: i32, exporter: Option<&str>) -> (i64, i64) {
    match exporter {
        None => {
            let first = flow(year, "AA", "AA", "000000");
            (first, first + (1 << (2 * COUNTRY_BITS + PRODUCT_BITS)) - 1)
        }
        Some(e) => {
            let first = flow(year, e, "AA", "000000");
            (first, first + (1 << (COUNTRY_BITS + PRODUCT_BITS)) - 1)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_order_as_their_fields_and_years_are_ranges() {
        let flows = [
            (1900, "AD", "AE", "000000"),
            (2021, "CN", "KR", "028530"),
            (2021, "CN", "KR", "999999"),
            (2021, "CN", "ZW", "000001"),
            (2021, "KR", "CN", "010101"),
            (2022, "AD", "AE", "000000"),
            (2200, "ZW", "ZM", "999999"),
        ];
        let numbers: Vec<i64> = flows.iter().map(|(y, e, i, p)| flow(*y, e, i, p)).collect();
        assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
        let (first, last) = flow_range(2021, None);
        assert!(numbers[1..5].iter().all(|n| (first..=last).contains(n)));
        assert!(!(first..=last).contains(&numbers[0]) && !(first..=last).contains(&numbers[5]));
        let (first, last) = flow_range(2021, Some("CN"));
        assert!(numbers[1..4].iter().all(|n| (first..=last).contains(n)));
        assert!(!(first..=last).contains(&numbers[4]));
        assert_eq!(flow(2021, "CN", "KR", "028530") & 0xF_FFFF, 28_530);
    }
}
