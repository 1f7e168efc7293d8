//! ProductSet, TradeRecord and ImportDependency <-> proto.

use registry_proto::v1 as pb;

use super::timestamp;
use crate::domain::{
    Error, Violations, check,
    product_set::{FIELDS, MAX_PRODUCTS, ProductSet, ProductSetField, ProductSetPatch, ProductSetSpec, RULE_INPUTS},
};

impl ProductSet {
    pub fn to_proto(&self) -> pb::ProductSet {
        let s = &self.spec;
        pb::ProductSet {
            name: self.name(),
            display_name: s.display_name.clone(),
            description: s.description.clone(),
            products: s.products.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            create_time: Some(timestamp(self.create_time)),
            update_time: Some(timestamp(self.update_time)),
            delete_time: self.delete_time.map(timestamp),
            expire_time: self.expire_time.map(timestamp),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}

patchable!(pb::ProductSet => ProductSetField, ProductSetPatch, ProductSetSpec, FIELDS, RULE_INPUTS);

/// One writable field of `p`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, p: &pb::ProductSet, name: &str) -> Option<ProductSetField> {
    let before = v.len();
    let value = match name {
        "display_name" => {
            check::text(v, f, &p.display_name, true, check::MAX_TITLE, false);
            ProductSetField::DisplayName(p.display_name.clone())
        }
        "description" => {
            check::text(v, f, &p.description, false, check::MAX_LONG_TEXT, true);
            ProductSetField::Description(p.description.clone())
        }
        "products" => {
            crate::domain::product_set::check_products(v, f, &p.products, MAX_PRODUCTS);
            ProductSetField::Products(p.products.clone())
        }
        "labels" => {
            let labels = p.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            check::labels(v, f, &labels);
            ProductSetField::Labels(labels)
        }
        _ => return None,
    };
    (v.len() == before).then_some(value)
}

/// Whether a writable field of a request set holds a non-default value.
pub fn populated(p: &pb::ProductSet, field: &str) -> bool {
    match field {
        "display_name" => !p.display_name.is_empty(),
        "description" => !p.description.is_empty(),
        "products" => !p.products.is_empty(),
        "labels" => !p.labels.is_empty(),
        _ => false,
    }
}
