//! ProductSet, TradeRecord and ImportDependency <-> proto.

use registry_proto::v1 as pb;

use super::{LONG_TEXT, Stamped, TITLE, labels, text, timestamp};
use crate::domain::{
    Collection, Error, Violations, check,
    dependency::{Dependency, DependentProduct},
    product_set::{
        FIELDS, MAX_PRODUCTS, ProductSet, ProductSetField, ProductSetPatch, ProductSetSpec, RULE_INPUTS, country,
        is_hs6,
    },
    trade::{Dominated, StoredRecord, TradeRecord},
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
            ..Default::default()
        }
        .stamped(crate::store::Resource::etag(self), &self.stamps)
    }
}

patchable!(pb::ProductSet => ProductSetField, ProductSetPatch, ProductSetSpec, FIELDS, RULE_INPUTS);

/// One writable field of `p`, validated (`f` is its path in the request).
fn field(v: &mut Violations, f: &str, p: &pb::ProductSet, name: &str) -> Option<ProductSetField> {
    Some(match name {
        "display_name" => ProductSetField::DisplayName(text(v, f, &p.display_name, TITLE)),
        "description" => ProductSetField::Description(text(v, f, &p.description, LONG_TEXT)),
        "products" => {
            crate::domain::product_set::check_products(v, f, &p.products, MAX_PRODUCTS);
            ProductSetField::Products(p.products.clone())
        }
        "labels" => ProductSetField::Labels(labels(v, f, &p.labels)),
        _ => return None,
    })
}

/// Whether a writable field of a request set holds a non-default value.
/// The spec of a product set created by an update with `allow_missing` (the whole message).
pub fn create_spec(
    field: &str,
    p: &pb::ProductSet,
    _id: &crate::domain::Id,
    _id_field: &str,
) -> Result<ProductSetSpec, Error> {
    ProductSetSpec::from_proto(field, p)
}

/// A trade record of an import, validated; violation paths are `{f}.{field}`.
pub fn trade_record(v: &mut Violations, f: &str, r: &pb::TradeRecord) -> Option<TradeRecord> {
    let before = v.len();
    check::year(v, &format!("{f}.year"), r.year);
    let exporter = v.take(country(&format!("{f}.exporter"), &r.exporter));
    let importer = v.take(country(&format!("{f}.importer"), &r.importer));
    if exporter.is_some() && exporter == importer {
        v.add(format!("{f}.importer"), "must differ from the exporter");
    }
    if !is_hs6(&r.product) {
        v.add(format!("{f}.product"), crate::domain::product_set::not_hs6(&r.product));
    }
    let edition_ok = r.hs_edition.is_empty()
        || (r.hs_edition.len() == 4
            && r.hs_edition.starts_with("HS")
            && r.hs_edition[2..].bytes().all(|b| b.is_ascii_digit()));
    if !edition_ok {
        v.add(format!("{f}.hs_edition"), "is an HS edition such as HS22 or HS17");
    }
    if r.value_usd < 0 {
        v.add(format!("{f}.value_usd"), "must not be negative");
    }
    if r.quantity_kg.is_some_and(|q| q < 0) {
        v.add(format!("{f}.quantity_kg"), "must not be negative");
    }
    check::text(v, &format!("{f}.source"), &r.source, false, check::MAX_TITLE, false);
    if v.len() != before {
        return None;
    }
    Some(TradeRecord {
        year: r.year,
        exporter: exporter?,
        importer: importer?,
        product: r.product.clone(),
        hs_edition: r.hs_edition.clone(),
        value_usd: r.value_usd,
        quantity_kg: r.quantity_kg,
        source: r.source.clone(),
        estimated: r.estimated,
    })
}

impl StoredRecord {
    pub fn to_proto(&self) -> pb::TradeRecord {
        let r = &self.record;
        pb::TradeRecord {
            year: r.year,
            exporter: r.exporter.clone(),
            importer: r.importer.clone(),
            product: r.product.clone(),
            hs_edition: r.hs_edition.clone(),
            value_usd: r.value_usd,
            quantity_kg: r.quantity_kg,
            source: r.source.clone(),
            estimated: r.estimated,
            valid_time: Some(timestamp(self.valid_from)),
            revision: i64::from(self.revision),
        }
    }
}

impl Dependency {
    pub fn to_proto(&self) -> pb::ImportDependency {
        let c = &self.current;
        pb::ImportDependency {
            product: self.product.clone(),
            year: self.year,
            import_hhi: c.import_hhi,
            top_supplier: c.top_supplier.clone(),
            top_supplier_share: c.top_supplier_share,
            supplier_count: c.supplier_count,
            world_export_hhi: c.world_export_hhi,
            import_export_ratio: c.import_export_ratio,
            concentrated_imports: c.concentrated_imports,
            concentrated_world_exports: c.concentrated_world_exports,
            non_substitutable: c.non_substitutable,
            persistent: self.persistent,
            dependent: self.persistent,
            explanation: self.explanation.clone(),
            import_value_usd: c.import_value_usd,
            export_value_usd: self.export_value_usd,
            years: self
                .years
                .iter()
                .map(|y| pb::DependencyYear {
                    year: y.year,
                    imported: y.imported,
                    import_hhi: y.import_hhi,
                    world_export_hhi: y.world_export_hhi,
                    import_export_ratio: y.import_export_ratio,
                    concentrated_imports: y.concentrated_imports,
                    concentrated_world_exports: y.concentrated_world_exports,
                    non_substitutable: y.non_substitutable,
                    world_importer_count: y.world_importer_count,
                })
                .collect(),
            unknown: self.unknown.clone(),
        }
    }
}

impl DependentProduct {
    pub fn to_proto(&self) -> pb::DependentProduct {
        pb::DependentProduct {
            product: self.product.clone(),
            year: self.year,
            importer: self.importer.clone(),
            top_supplier: self.top_supplier.clone(),
            top_supplier_share: self.top_supplier_share,
            import_hhi: self.import_hhi,
            product_sets: self
                .product_sets
                .iter()
                .map(|s| Collection::ProductSets.name(s))
                .collect(),
            risks: Collection::Risks.names(&self.risks),
            explanation: self.explanation.clone(),
        }
    }
}

impl Dominated {
    pub fn to_proto(&self, year: i32) -> pb::DominatedProduct {
        pb::DominatedProduct {
            product: self.product.clone(),
            year,
            supplier: self.supplier.clone(),
            share: self.share,
            supplier_value_usd: self.supplier_value_usd,
            import_value_usd: self.import_value_usd,
            supplier_count: self.supplier_count,
        }
    }
}
