//! `registryctl risks …`: the risk register, through the standard commands.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{
    Ctx,
    resource::{self, StandardCmd},
};
use crate::{
    error::CliResult,
    kind::Risks,
    plain::PlainFlags,
    records::{RiskEntryShape, parse_label},
};

#[derive(Debug, Subcommand)]
pub enum RisksCmd {
    #[command(flatten)]
    Standard(StandardCmd<RiskFlags>),
}

/// Fields settable by flag. The plain fields (title, category, likelihood, impact, state, …)
/// are flags by the proto's descriptor.
#[derive(Debug, Args, Default, Serialize)]
pub struct RiskFlags {
    #[command(flatten)]
    #[serde(flatten)]
    pub plain: PlainFlags<RiskEntryShape>,
    /// A goal the risk threatens, by id (repeat; replaces the list).
    #[arg(long = "goal", value_name = "GOAL")]
    pub goals: Vec<String>,
    /// A partner the risk concerns, by id (repeat; replaces the list).
    #[arg(long = "partner", value_name = "PARTNER")]
    pub partners: Vec<String>,
    /// A product set the risk threatens, by id (repeat; replaces the list).
    #[arg(long = "product-set", value_name = "SET")]
    pub product_sets: Vec<String>,
    /// A label KEY=VALUE (repeat).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

pub async fn run(ctx: &Ctx, cmd: RisksCmd) -> CliResult {
    match cmd {
        RisksCmd::Standard(c) => resource::run::<Risks, _>(ctx, c).await,
    }
}
