//! `registryctl partners …` and `registryctl concentration`.

use clap::{Args, Subcommand};
use registry_client::pb;
use serde::Serialize;

use super::{
    Ctx,
    resource::{self, StandardCmd},
};
use crate::{
    error::{CliError, CliResult, Context},
    flags::{KindFlags, flag_table},
    kind::Partners,
    output::{self, Columns, emit, join, kv_table},
    records::{FlowRecord, FlowView, PartnerShape, partner_id, partner_name},
    usage,
};

#[derive(Debug, Subcommand)]
pub enum PartnersCmd {
    #[command(flatten)]
    Standard(StandardCmd<PartnerFlags>),
    /// Trade flows: `flows [PARTNER] [--year Y]` lists, `flows set PARTNER YEAR …` upserts.
    Flows(FlowsArgs),
}

/// Fields settable by flag (agreements, engagements and risks go through -f). The plain
/// fields (display_name, region, priority, …) are flags by the proto's descriptor.
pub type PartnerFlags = KindFlags<PartnerShape, PartnerTable>;

flag_table! {
    /// The partner's flags besides the plain fields.
    PartnerTable: [one kind "kind" "KIND" "COUNTRY, ECONOMIC_BLOC, FORUM or GROUP (immutable after create)"]
        [many members "member" "PARTNER" "A member partner id (repeat; replaces the list)"]
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct FlowsArgs {
    #[command(subcommand)]
    pub cmd: Option<FlowsCmd>,
    /// Only this partner's flows (default: every partner; then give --year).
    pub partner: Option<String>,
    /// Only this year.
    #[arg(long)]
    pub year: Option<i32>,
}

#[derive(Debug, Subcommand)]
pub enum FlowsCmd {
    /// Creates or replaces the flow of a partner in a year.
    Set(FlowSetArgs),
}

#[derive(Debug, Args)]
pub struct FlowSetArgs {
    /// Partner id.
    pub partner: String,
    pub year: i32,
    /// Exports to the partner, USD.
    #[arg(long = "exports", value_name = "USD")]
    pub exports_usd: i64,
    /// Imports from the partner, USD.
    #[arg(long = "imports", value_name = "USD")]
    pub imports_usd: i64,
    /// Where the figures come from.
    #[arg(long)]
    pub source: Option<String>,
    /// The figures are estimates.
    #[arg(long)]
    pub estimated: bool,
    /// Only replace the flow if it still has this etag.
    #[arg(long)]
    pub etag: Option<String>,
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct ConcentrationArgs {
    /// The year (default: the latest year with trade flows).
    #[arg(long)]
    pub year: Option<i32>,
    /// How many of the largest partners the top-N share covers (server default 5).
    #[arg(long)]
    pub top_n: Option<i32>,
    /// Share (0 < t < 1) above which a partner is a dependency risk (server default 0.2).
    #[arg(long)]
    pub threshold: Option<f64>,
}

pub async fn run(ctx: &Ctx, cmd: PartnersCmd) -> CliResult {
    match cmd {
        PartnersCmd::Standard(c) => resource::run::<Partners, _>(ctx, c).await,
        PartnersCmd::Flows(a) => match a.cmd {
            Some(FlowsCmd::Set(s)) => flow_set(ctx, s).await,
            None => flows(ctx, a.partner, a.year).await,
        },
    }
}

/// 1234567 → `1,234,567`.
pub fn usd(v: i64) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if v < 0 { format!("-{out}") } else { out }
}

async fn flows(ctx: &Ctx, partner: Option<String>, year: Option<i32>) -> CliResult {
    if partner.is_none() && year.is_none() {
        return usage("give a PARTNER, or --year for every partner's flows of that year");
    }
    let parent = partner.as_deref().map_or_else(|| partner_name("-"), partner_name);
    let req = pb::ListTradeFlowsRequest {
        parent: parent.clone(),
        year: year.unwrap_or(0),
        page_size: 1000,
        page_token: String::new(),
    };
    let what = format!("listing the trade flows of {parent}");
    ctx.print_all(req, None, what, |f| FlowView::new(&f)).await
}

impl Columns for FlowView {
    const COLUMNS: &[&str] = &["PARTNER", "YEAR", "EXPORTS USD", "IMPORTS USD", "ESTIMATED", "SOURCE"];

    fn row(&self) -> Vec<String> {
        let r = &self.record;
        let estimated = if r.estimated { "yes" } else { "" };
        vec![
            r.partner.clone(),
            r.year.to_string(),
            usd(r.exports_usd),
            usd(r.imports_usd),
            estimated.to_owned(),
            r.source.clone(),
        ]
    }
}

async fn flow_set(ctx: &Ctx, a: FlowSetArgs) -> CliResult {
    let record = FlowRecord {
        partner: a.partner,
        year: a.year,
        exports_usd: a.exports_usd,
        imports_usd: a.imports_usd,
        source: a.source.unwrap_or_default(),
        estimated: a.estimated,
        key: String::new(),
    }
    .keyed();
    if let Err(problems) = record.check() {
        return Err(CliError::Other {
            message: format!("invalid trade flow {}", record.key),
            details: problems,
        });
    }
    let mut flow = record.to_pb();
    flow.etag = a.etag.unwrap_or_default();
    let name = record.name();
    let stored = ctx
        .client
        .update_trade_flow(pb::UpdateTradeFlowRequest {
            trade_flow: Some(flow),
            allow_missing: true,
            validate_only: a.validate_only,
        })
        .await
        .context(format!("setting {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} is valid (nothing stored)"));
        return Ok(());
    }
    ctx.note(format!("set {name} (revision {})", stored.revision));
    let view = FlowView::new(&stored);
    emit(ctx.format, &view, || {
        kv_table(&[
            ("name", view.name.clone()),
            ("exports_usd", usd(view.record.exports_usd)),
            ("imports_usd", usd(view.record.imports_usd)),
            ("source", view.record.source.clone()),
            ("estimated", view.record.estimated.to_string()),
            ("etag", view.etag.clone()),
            ("revision", view.revision.to_string()),
            ("updated", view.update_time.clone().unwrap_or_default()),
        ])
    })
}

/// One partner's share, as `concentration -o json|yaml` prints it.
#[derive(Debug, Serialize)]
struct ShareView {
    partner: String,
    display_name: String,
    exports_usd: i64,
    share: f64,
    dependency_risk: bool,
}

#[derive(Debug, Serialize)]
struct ConcentrationView {
    year: i32,
    total_exports_usd: i64,
    hhi: f64,
    top_n: i32,
    top_n_share: f64,
    dependency_threshold: f64,
    shares: Vec<ShareView>,
    group_shares: Vec<ShareView>,
    excluded_partners: Vec<String>,
}

fn share_views(s: &[pb::PartnerShare]) -> Vec<ShareView> {
    s.iter()
        .map(|s| ShareView {
            partner: partner_id(&s.partner).to_owned(),
            display_name: s.display_name.clone(),
            exports_usd: s.exports_usd,
            share: s.share,
            dependency_risk: s.dependency_risk,
        })
        .collect()
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

/// The latest year for which any partner has a trade flow.
async fn latest_year(ctx: &Ctx) -> CliResult<i32> {
    let req = pb::ListTradeFlowsRequest {
        parent: partner_name("-"),
        page_size: 1000,
        ..Default::default()
    };
    let flows = ctx
        .list_all(req, None, "finding the latest year with trade flows")
        .await?;
    flows
        .iter()
        .map(|f| f.year)
        .max()
        .ok_or_else(|| CliError::other("no trade flows are recorded; give --year"))
}

pub async fn concentration(ctx: &Ctx, a: ConcentrationArgs) -> CliResult {
    let year = match a.year {
        Some(y) => y,
        None => latest_year(ctx).await?,
    };
    let c = ctx
        .client
        .get_export_concentration(pb::GetExportConcentrationRequest {
            year,
            top_n: a.top_n.unwrap_or(0),
            dependency_threshold: a.threshold,
        })
        .await
        .context(format!("getting the export concentration of {year}"))?;
    let view = ConcentrationView {
        year: c.year,
        total_exports_usd: c.total_exports_usd,
        hhi: c.hhi,
        top_n: c.top_n,
        top_n_share: c.top_n_share,
        dependency_threshold: c.dependency_threshold,
        shares: share_views(&c.shares),
        group_shares: share_views(&c.group_shares),
        excluded_partners: c.excluded_partners.iter().map(|p| partner_id(p).to_owned()).collect(),
    };
    match ctx.format {
        output::Format::Table => {
            println!(
                "{}",
                kv_table(&[
                    ("year", view.year.to_string()),
                    ("total exports USD", usd(view.total_exports_usd)),
                    ("HHI", format!("{:.0}", view.hhi)),
                    (&format!("top-{} share", view.top_n), pct(view.top_n_share)),
                    ("dependency threshold", pct(view.dependency_threshold)),
                    ("excluded (flows on non-countries)", join(&view.excluded_partners)),
                ])
            );
            for (title, rows) in [("PARTNER", &view.shares), ("GROUP", &view.group_shares)] {
                if rows.is_empty() {
                    continue;
                }
                let mut t = output::table(&[title, "NAME", "EXPORTS USD", "SHARE", "DEPENDENCY RISK"]);
                for s in rows {
                    output::add_row(
                        &mut t,
                        vec![
                            s.partner.clone(),
                            s.display_name.clone(),
                            usd(s.exports_usd),
                            pct(s.share),
                            if s.dependency_risk { "yes" } else { "" }.to_owned(),
                        ],
                    );
                }
                println!("{t}");
            }
            Ok(())
        }
        f => {
            print!("{}", output::render(f, &view)?);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::usd;

    #[test]
    fn usd_has_thousands_separators() {
        assert_eq!(usd(0), "0");
        assert_eq!(usd(1_234_567), "1,234,567");
        assert_eq!(usd(-1000), "-1,000");
        assert_eq!(usd(999), "999");
    }
}
