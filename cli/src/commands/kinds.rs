//! The kinds that have the standard commands only (`agreements`, `risks`, `product-sets`):
//! each is its flag table, written once here (the plain fields are flags by the proto's
//! descriptor; lists of events go through -f).

use super::resource::StandardCmd;
use crate::{
    flags::{KindFlags, flag_table},
    product_sets::ProductSetShape,
    records::{AgreementShape, RiskEntryShape},
};

/// `registryctl agreements …`: the standard commands of `agreements/{agreement}`.
pub type AgreementsCmd = StandardCmd<KindFlags<AgreementShape, AgreementTable>>;
/// `registryctl risks …`: the risk register.
pub type RisksCmd = StandardCmd<KindFlags<RiskEntryShape, RiskTable>>;
/// `registryctl product-sets …`: named lists of HS 6-digit products.
pub type ProductSetsCmd = StandardCmd<KindFlags<ProductSetShape, ProductSetTable>>;

flag_table! {
    /// An agreement's flags besides the plain fields (title, kind, description, source, …).
    AgreementTable: [] [many parties "party" "PARTNER" "A party's partner id (repeat; replaces the list); Korea (`kr`) is implied"]
    /// A risk's flags besides the plain fields (title, category, likelihood, impact, state, …).
    RiskTable: [] [
        many goals "goal" "GOAL" "A goal the risk threatens, by id (repeat; replaces the list)",
        many partners "partner" "PARTNER" "A partner the risk concerns, by id (repeat; replaces the list)",
        many product_sets "product-set" "SET" "A product set the risk threatens, by id (repeat; replaces the list)",
    ]
    /// A product set's flags besides the plain fields (display_name, description).
    ProductSetTable: [] [many products "product" "HS6" "An HS 6-digit product code (repeat; replaces the list)"]
}
