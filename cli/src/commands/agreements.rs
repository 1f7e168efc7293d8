//! `registryctl agreements …`: the standard commands of `agreements/{agreement}`.

use super::resource::StandardCmd;
use crate::{
    flags::{KindFlags, flag_table},
    records::AgreementShape,
};

pub type AgreementsCmd = StandardCmd<AgreementFlags>;

/// Fields settable by flag (events go through -f). The plain fields (title, kind,
/// description, source, …) are flags by the proto's descriptor.
pub type AgreementFlags = KindFlags<AgreementShape, AgreementTable>;

flag_table! {
    /// The agreement's flags besides the plain fields.
    AgreementTable: [] [many parties "party" "PARTNER" "A party's partner id (repeat; replaces the list); Korea (`kr`) is implied"]
}
