//! `registryctl agreements …`: the standard commands of `agreements/{agreement}`.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{
    Ctx,
    resource::{self, StandardCmd},
};
use crate::{error::CliResult, kind::Agreements, plain::PlainFlags, records::AgreementShape, records::parse_label};

#[derive(Debug, Subcommand)]
pub enum AgreementsCmd {
    #[command(flatten)]
    Standard(StandardCmd<AgreementFlags>),
}

/// Fields settable by flag (events go through -f). The plain fields (title, kind,
/// description, source, …) are flags by the proto's descriptor.
#[derive(Debug, Args, Default, Serialize)]
pub struct AgreementFlags {
    #[command(flatten)]
    #[serde(flatten)]
    pub plain: PlainFlags<AgreementShape>,
    /// A party's partner id (repeat; replaces the list); Korea (`kr`) is implied.
    #[arg(long = "party", value_name = "PARTNER")]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parties: Vec<String>,
    /// A label KEY=VALUE (repeat).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<(String, String)>,
}

pub async fn run(ctx: &Ctx, cmd: AgreementsCmd) -> CliResult {
    match cmd {
        AgreementsCmd::Standard(c) => resource::run::<Agreements, _>(ctx, c).await,
    }
}
