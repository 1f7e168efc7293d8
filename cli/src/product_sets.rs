//! The CLI's record and view of a product set (`productSets/{id}`).

use std::collections::BTreeMap;

use registry_client::pb;
use serde::{Deserialize, Serialize};

use crate::{
    plain::{Plain, Shape},
    records::{Stamp, Stamped, check_id},
};

/// `productSets/`.
pub const PRODUCT_SETS: &str = "productSets/";

/// A product set's message; its products and labels are spelt by the record.
#[derive(Debug)]
pub struct ProductSetShape;

impl Shape for ProductSetShape {
    const MESSAGE: &'static str = "motie.registry.v1.ProductSet";
    const SPECIAL: &'static [&'static str] = &[];
}

/// A product set as written in a file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ProductSetRecord {
    /// The id (`critical-minerals`); the set is `productSets/{id}`.
    pub id: String,
    /// The plain fields (display_name, description).
    #[serde(flatten)]
    pub fields: Plain<ProductSetShape>,
    /// HS 6-digit codes, as 6-character strings (`028530`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

fn id_of(s: &str) -> &str {
    s.strip_prefix(PRODUCT_SETS).unwrap_or(s)
}

impl ProductSetRecord {
    /// The protobuf set (name set); ids and product codes checked locally.
    pub fn to_pb(&self) -> Result<pb::ProductSet, Vec<String>> {
        let mut problems = Vec::new();
        check_id(&mut problems, id_of(&self.id), &self.id);
        for p in &self.products {
            if p.len() != 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                problems.push(format!(
                    "products: {p:?} is not an HS 6-digit code (6 digits, e.g. 028530)"
                ));
            }
        }
        let mut set = pb::ProductSet {
            name: format!("{PRODUCT_SETS}{}", id_of(&self.id)),
            products: self.products.clone(),
            labels: self.labels.clone().into_iter().collect(),
            ..Default::default()
        };
        if let Err(e) = self.fields.apply(&mut set) {
            problems.extend(e);
        }
        if problems.is_empty() { Ok(set) } else { Err(problems) }
    }

    /// The record of a stored set, in canonical form.
    pub fn from_pb(s: &pb::ProductSet) -> ProductSetRecord {
        ProductSetRecord {
            id: id_of(&s.name).to_owned(),
            fields: Plain::from_message(s),
            products: s.products.clone(),
            labels: s.labels.clone().into_iter().collect(),
        }
        .canonical()
    }

    /// The form in which two records that mean the same are equal: the id, not the name.
    pub fn canonical(&self) -> ProductSetRecord {
        let mut r = self.clone();
        r.id = id_of(&r.id).to_owned();
        r.fields = r.fields.canonical();
        r
    }
}

/// A product set as shown by `get`/`list` (json/yaml).
#[derive(Debug, Clone, Serialize)]
pub struct ProductSetView {
    pub name: String,
    #[serde(flatten)]
    pub record: ProductSetRecord,
    #[serde(flatten)]
    pub stamp: Stamp,
}

impl ProductSetView {
    pub fn new(s: &pb::ProductSet) -> ProductSetView {
        ProductSetView {
            name: s.name.clone(),
            record: ProductSetRecord::from_pb(s),
            stamp: s.stamp(),
        }
    }
}
