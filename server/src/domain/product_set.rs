//! Product sets (`productSets/{id}`): named lists of HS 6-digit products, and the checks of
//! HS codes and ISO country codes that product-level trade shares.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    Collection, Error, Id, Violations,
    list::{FieldDef, SortValue},
};

/// At most this many products in a set.
pub const MAX_PRODUCTS: usize = 10_000;

/// Whether `code` is an HS 6-digit product code written as 6 digits (`028530`).
pub fn is_hs6(code: &str) -> bool {
    code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit())
}

/// Why `code` is not an HS 6-digit code.
pub fn not_hs6(code: &str) -> String {
    format!(
        "{} is not an HS 6-digit code: write 6 digits, with leading zeros (e.g. 028530)",
        crate::domain::shown(code, 20)
    )
}

/// Checks a list of HS6 codes: each 6 digits, unique, at most `max`.
pub fn check_products(v: &mut Violations, field: &str, products: &[String], max: usize) {
    let item = |v: &mut Violations, f: &str, p: &str| {
        if !is_hs6(p) {
            v.add(f, not_hs6(p));
        }
        is_hs6(p)
    };
    super::check::list(v, field, products, (max, "products"), item, "duplicate");
}

/// Parses an ISO 3166-1 alpha-2 country code (any case) into its upper-case form.
pub fn country(field: &str, code: &str) -> Result<String, Error> {
    let upper = code.to_ascii_uppercase();
    if upper.len() == 2 && rust_iso3166::from_alpha2(&upper).is_some() {
        Ok(upper)
    } else {
        let why = "is not an ISO 3166-1 alpha-2 country code (e.g. KR, CN, US)";
        Err(crate::domain::invalid_value(field, code, 20, why))
    }
}

/// The client-writable part of a product set, validated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProductSetSpec {
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub products: Vec<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

patch_fields!(
    /// One field set by a write: the typed form of an update-mask path with its new value.
    ProductSetField, ProductSetPatch for ProductSetSpec {
        DisplayName(String) => display_name,
        Description(String) => description,
        Products(Vec<String>) => products,
        Labels(BTreeMap<String, String>) => labels,
});

/// What each rule of [`ProductSetSpec::apply`] reads.
pub const RULE_INPUTS: &[(&str, &[&str])] = &[("labels", &["labels"])];

impl ProductSetSpec {
    /// No rule spans fields but the labels' (checked for every resource).
    fn rules(&self, _v: &mut Violations) {}
}

/// A stored product set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSet {
    pub id: Id,
    #[serde(flatten)]
    pub spec: ProductSetSpec,
    #[serde(flatten)]
    pub stamps: super::Stamps,
}

impl ProductSet {
    pub fn name(&self) -> String {
        Collection::ProductSets.name(&self.id)
    }

    pub fn etag(&self) -> String {
        self.stamps.etag(&self.id)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        match field {
            "display_name" => SortValue::Text(self.spec.display_name.clone()),
            _ => self.stamps.sort_value(&self.id, field),
        }
    }
}

/// The fields of a product set: how each is written and which can be filtered and ordered.
pub const FIELDS: &[FieldDef] = resource_fields!(
    [
        FieldDef::text("display_name").orderable(),
        FieldDef::strings("products"),
    ],
    search ["display_name", "description"],
    plain ["description"],
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs6_codes_are_six_digits() {
        assert!(is_hs6("028530") && is_hs6("260500"));
        for bad in ["28530", "2605000", "26050a", "", "２６０５００"] {
            assert!(!is_hs6(bad), "{bad}");
        }
        let mut v = Violations::new();
        check_products(&mut v, "p", &["260500".into(), "260500".into(), "x".into()], 10);
        let fields: Vec<String> = v.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["p[1]", "p[2]"]);
    }

    #[test]
    fn countries_are_iso_alpha2() {
        assert_eq!(country("c", "kr").expect("kr"), "KR");
        for bad in ["XX", "KOR", "", "k"] {
            assert!(country("c", bad).is_err(), "{bad}");
        }
    }
}
