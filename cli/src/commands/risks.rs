//! `registryctl risks …`: the risk register, through the standard commands.

use super::resource::StandardCmd;
use crate::{
    flags::{KindFlags, flag_table},
    records::RiskEntryShape,
};

pub type RisksCmd = StandardCmd<RiskFlags>;

/// Fields settable by flag. The plain fields (title, category, likelihood, impact, state, …)
/// are flags by the proto's descriptor.
pub type RiskFlags = KindFlags<RiskEntryShape, RiskTable>;

flag_table! {
    /// The risk's flags besides the plain fields.
    RiskTable: [] [
        many goals "goal" "GOAL" "A goal the risk threatens, by id (repeat; replaces the list)",
        many partners "partner" "PARTNER" "A partner the risk concerns, by id (repeat; replaces the list)",
        many product_sets "product-set" "SET" "A product set the risk threatens, by id (repeat; replaces the list)",
    ]
}
