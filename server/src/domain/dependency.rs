//! The import-dependency analysis of one importer, product and year, after CEPII's GeoDep
//! method (Lefebvre & Wibaux, CEPII Policy Brief 47, 2024): import concentration, world
//! export concentration, non-substitutability, and their persistence over three years.
//! Pure computation; the store gathers the figures.

use std::collections::BTreeMap;

/// The ratio reported when the importer exports none of the product.
pub const NO_EXPORTS_RATIO: f64 = 9999.0;
/// Years persistence looks at (the year analysed and the ones before it).
pub const YEARS: i32 = 3;
/// Years among [`YEARS`] in which all three criteria must hold.
pub const PERSISTENT_YEARS: usize = 2;

/// The thresholds of the criteria.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Import HHI (shares 0..1) above which imports are concentrated.
    pub import_hhi: f64,
    /// World export HHI above which world exports are concentrated.
    pub world_export_hhi: f64,
    /// Imports / exports above which the product is not substitutable by own production.
    pub ratio: f64,
    /// Fewest importers of a product-year the data must cover for its world HHI to be known.
    pub min_importers: i32,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            import_hhi: 0.4,
            world_export_hhi: 0.4,
            ratio: 1.0,
            min_importers: 10,
        }
    }
}

/// World statistics of a product-year (over every stored flow of it).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct World {
    pub export_hhi: f64,
    pub importer_count: i32,
}

/// An importer's imports of a product in a year, summed over its suppliers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imports {
    /// Total, USD.
    pub value_usd: i64,
    /// Σ v² over the suppliers' values: the HHI (shares 0..1) is this over the total squared.
    pub sum_squares: f64,
    /// The largest supplier (ISO alpha-2; ties: the first code) and its value; `None` when
    /// nothing was imported.
    pub top: Option<(String, i64)>,
    /// Suppliers with a value above zero.
    pub supplier_count: i32,
}

impl Imports {
    /// Adds one supplier's imports (for reads that fold the records themselves).
    pub fn push(&mut self, (supplier, value): (String, i64)) {
        self.value_usd = self.value_usd.saturating_add(value);
        self.sum_squares += value as f64 * value as f64;
        if value > 0 {
            self.supplier_count += 1;
        }
        let better = match &self.top {
            None => value > 0,
            Some((code, best)) => value > *best || (value == *best && supplier < *code),
        };
        if better {
            self.top = Some((supplier, value));
        }
    }

    /// HHI of the imports across suppliers, shares 0..1 (0 when nothing was imported).
    pub fn hhi(&self) -> f64 {
        if self.value_usd > 0 {
            self.sum_squares / (self.value_usd as f64 * self.value_usd as f64)
        } else {
            0.0
        }
    }

    /// The share of the largest supplier (0 when nothing was imported).
    pub fn top_share(&self) -> f64 {
        match &self.top {
            Some((_, v)) if self.value_usd > 0 => *v as f64 / self.value_usd as f64,
            _ => 0.0,
        }
    }
}

/// What the analysis reads for one product and one year.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct YearData {
    /// The importer's imports of the product.
    pub imports: Imports,
    /// The importer's exports of the product, USD.
    pub exports_usd: i64,
    /// World statistics; `None` when no flow of the product is stored that year.
    pub world: Option<World>,
}

/// The criteria of one year.
#[derive(Debug, Clone, PartialEq)]
pub struct YearVerdict {
    pub year: i32,
    pub imported: bool,
    pub import_value_usd: i64,
    pub import_hhi: f64,
    pub top_supplier: String,
    pub top_supplier_share: f64,
    pub supplier_count: i32,
    /// `None` when unknown (too few importers in the data).
    pub world_export_hhi: Option<f64>,
    pub world_importer_count: i32,
    pub import_export_ratio: f64,
    pub concentrated_imports: bool,
    pub concentrated_world_exports: bool,
    pub non_substitutable: bool,
}

impl YearVerdict {
    fn all_three(&self) -> bool {
        self.concentrated_imports && self.concentrated_world_exports && self.non_substitutable
    }

    /// All three could hold if the unknown world criterion did.
    fn could_hold(&self) -> bool {
        self.concentrated_imports
            && self.non_substitutable
            && (self.concentrated_world_exports || self.world_export_hhi.is_none())
    }
}

/// The verdict on one product.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependency {
    pub product: String,
    pub year: i32,
    /// The year analysed.
    pub current: YearVerdict,
    pub export_value_usd: i64,
    /// Oldest first: `year - 2`, `year - 1`, `year`.
    pub years: Vec<YearVerdict>,
    pub persistent: bool,
    /// Criteria left undecided for lack of data that could change the verdict.
    pub unknown: Vec<String>,
    pub explanation: String,
}

/// A dependent product behind a goal or a partner's risks: which of their product sets (and
/// which risks) bring it in, and the analysis' verdict on it.
#[derive(Debug, Clone, PartialEq)]
pub struct DependentProduct {
    pub product: String,
    pub year: i32,
    pub importer: String,
    pub top_supplier: String,
    pub top_supplier_share: f64,
    pub import_hhi: f64,
    /// Product sets containing the product, by id.
    pub product_sets: Vec<super::Id>,
    /// Live risks whose product sets contain it, by id (empty: a goal's own sets only).
    pub risks: Vec<super::Id>,
    pub explanation: String,
}

/// HHI of a set of values (shares in 0..1), the largest (ties: the first code in order)
/// and its share.
pub fn hhi(values: &[(String, i64)]) -> (f64, Option<(&str, f64)>) {
    let total: i128 = values.iter().map(|(_, v)| i128::from(*v)).sum();
    if total <= 0 {
        return (0.0, None);
    }
    let mut index = 0.0;
    let mut top: Option<(&str, i64)> = None;
    for (code, v) in values {
        let s = *v as f64 / total as f64;
        index += s * s;
        let better = match top {
            None => true,
            Some((c, best)) => *v > best || (*v == best && code.as_str() < c),
        };
        if better {
            top = Some((code.as_str(), *v));
        }
    }
    (index, top.map(|(c, v)| (c, v as f64 / total as f64)))
}

fn verdict(year: i32, d: Option<&YearData>, t: &Thresholds) -> YearVerdict {
    let empty = YearData::default();
    let d = d.unwrap_or(&empty);
    let import_value_usd = d.imports.value_usd;
    let imported = import_value_usd > 0;
    let world_export_hhi = d
        .world
        .filter(|w| w.importer_count >= t.min_importers)
        .map(|w| w.export_hhi);
    let ratio = if d.exports_usd == 0 {
        NO_EXPORTS_RATIO
    } else {
        import_value_usd as f64 / d.exports_usd as f64
    };
    YearVerdict {
        year,
        imported,
        import_value_usd,
        import_hhi: d.imports.hhi(),
        top_supplier: d.imports.top.as_ref().map(|(c, _)| c.clone()).unwrap_or_default(),
        top_supplier_share: d.imports.top_share(),
        supplier_count: d.imports.supplier_count,
        world_export_hhi,
        world_importer_count: d.world.map_or(0, |w| w.importer_count),
        import_export_ratio: if imported { ratio } else { 0.0 },
        concentrated_imports: imported && d.imports.hhi() > t.import_hhi,
        concentrated_world_exports: world_export_hhi.is_some_and(|h| h > t.world_export_hhi),
        non_substitutable: imported && ratio > t.ratio,
    }
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn describe(v: &YearVerdict, t: &Thresholds) -> String {
    if !v.imported {
        return format!("{}: not imported", v.year);
    }
    let world = match v.world_export_hhi {
        Some(h) => format!(
            "world export HHI {h:.3} > {} {}",
            t.world_export_hhi,
            yes(v.concentrated_world_exports)
        ),
        None => format!(
            "world export HHI unknown ({} importers in the data, fewer than {})",
            v.world_importer_count, t.min_importers
        ),
    };
    let ratio = if v.import_export_ratio >= NO_EXPORTS_RATIO {
        format!("imports/exports {NO_EXPORTS_RATIO} (no exports) > {} yes", t.ratio)
    } else {
        format!(
            "imports/exports {:.2} > {} {}",
            v.import_export_ratio,
            t.ratio,
            yes(v.non_substitutable)
        )
    };
    format!(
        "{}: import HHI {:.3} > {} {} (top supplier {} {:.1}%), {world}, {ratio}",
        v.year,
        v.import_hhi,
        t.import_hhi,
        yes(v.concentrated_imports),
        v.top_supplier,
        v.top_supplier_share * 100.0
    )
}

/// Assesses `product` for `importer` in `year` from the data of `year - 2 ..= year`; `None`
/// when the importer did not import it in `year`.
pub fn assess(
    importer: &str,
    product: &str,
    year: i32,
    data: &BTreeMap<i32, YearData>,
    t: &Thresholds,
) -> Option<Dependency> {
    let years: Vec<YearVerdict> = (year - YEARS + 1..=year).map(|y| verdict(y, data.get(&y), t)).collect();
    let current = years.last()?.clone();
    if !current.imported {
        return None;
    }
    let held = years.iter().filter(|v| v.all_three()).count();
    let could = years.iter().filter(|v| v.could_hold()).count();
    let persistent = held >= PERSISTENT_YEARS;
    let mut unknown = Vec::new();
    if !persistent && could >= PERSISTENT_YEARS {
        unknown = years
            .iter()
            .filter(|v| v.could_hold() && !v.all_three())
            .map(|v| format!("world_export_hhi {}", v.year))
            .collect();
    }
    let first = year - YEARS + 1;
    let verdict = if persistent {
        format!("{importer} depends on imports of {product} in {year}")
    } else if unknown.is_empty() {
        format!("{importer} does not depend on imports of {product} in {year}")
    } else {
        format!("{importer} is not shown to depend on imports of {product} in {year}, but this is undecided")
    };
    let mut explanation =
        format!("{verdict}: all three criteria held in {held} of the years {first}-{year} ({PERSISTENT_YEARS} needed)");
    if !unknown.is_empty() {
        explanation.push_str(&format!(
            " and could hold in {could} if the unknown world export concentration ({}) were high",
            unknown
                .iter()
                .map(|u| u.trim_start_matches("world_export_hhi "))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    explanation.push_str(" — ");
    explanation.push_str(&years.iter().map(|v| describe(v, t)).collect::<Vec<_>>().join("; "));
    explanation.push('.');
    Some(Dependency {
        product: product.to_owned(),
        year,
        export_value_usd: data.get(&year).map_or(0, |d| d.exports_usd),
        current,
        years,
        persistent,
        unknown,
        explanation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(values: &[(&str, i64)]) -> Imports {
        let mut i = Imports::default();
        for (c, v) in values {
            i.push(((*c).to_owned(), *v));
        }
        i
    }

    fn data(imports_by_supplier: &[(&str, i64)], exports: i64, world: Option<(f64, i32)>) -> YearData {
        YearData {
            imports: imports(imports_by_supplier),
            exports_usd: exports,
            world: world.map(|(h, n)| World {
                export_hhi: h,
                importer_count: n,
            }),
        }
    }

    #[test]
    fn hhi_of_shares() {
        // Shares 0.5, 0.3, 0.2: 0.25 + 0.09 + 0.04 = 0.38.
        let v = vec![("CN".to_owned(), 50), ("JP".to_owned(), 30), ("US".to_owned(), 20)];
        let (h, top) = hhi(&v);
        assert!((h - 0.38).abs() < 1e-12);
        assert_eq!(top, Some(("CN", 0.5)));
        assert_eq!(hhi(&[]).0, 0.0);
        // Summed one supplier at a time: the same index and top supplier.
        let i = imports(&[("JP", 30), ("CN", 50), ("US", 20), ("DE", 0)]);
        assert!((i.hhi() - 0.38).abs() < 1e-12);
        assert_eq!((i.top_share(), i.supplier_count, i.value_usd), (0.5, 3, 100));
        // Ties go to the first code; nothing imported is no top supplier.
        assert_eq!(imports(&[("US", 5), ("CN", 5)]).top, Some(("CN".to_owned(), 5)));
        assert_eq!((Imports::default().hhi(), Imports::default().top_share()), (0.0, 0.0));
    }

    #[test]
    fn persistent_in_two_of_three_years() {
        let t = Thresholds::default();
        let mut d = BTreeMap::new();
        d.insert(2021, data(&[("CN", 90), ("JP", 10)], 0, Some((0.6, 12))));
        d.insert(2022, data(&[("CN", 40), ("JP", 30), ("US", 30)], 0, Some((0.6, 12))));
        d.insert(2023, data(&[("CN", 95), ("JP", 5)], 10, Some((0.7, 12))));
        let r = assess("KR", "260500", 2023, &d, &t).expect("imported");
        assert!(r.persistent, "{}", r.explanation);
        assert_eq!(
            r.years.iter().map(|v| v.all_three()).collect::<Vec<_>>(),
            [true, false, true]
        );
        assert_eq!(r.current.import_export_ratio, 10.0);
        assert_eq!(r.years[0].import_export_ratio, NO_EXPORTS_RATIO);
        assert!(
            r.explanation.contains("held in 2 of the years 2021-2023"),
            "{}",
            r.explanation
        );
    }

    #[test]
    fn unknown_world_concentration_is_reported_not_hidden() {
        let t = Thresholds::default();
        let mut d = BTreeMap::new();
        for y in 2021..=2023 {
            d.insert(y, data(&[("CN", 100)], 0, Some((0.9, 3))));
        }
        let r = assess("KR", "260500", 2023, &d, &t).expect("imported");
        assert!(!r.persistent);
        assert_eq!(r.current.world_export_hhi, None);
        assert!(!r.current.concentrated_world_exports);
        assert_eq!(r.unknown.len(), 3);
        assert!(
            r.explanation.contains("undecided") && r.explanation.contains("unknown"),
            "{}",
            r.explanation
        );
        assert!(assess("KR", "260500", 2024, &d, &t).is_none(), "not imported in 2024");
    }
}
