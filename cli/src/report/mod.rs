//! `registryctl report`: the audit briefing, one self-contained HTML file (inline CSS, inline
//! SVG charts drawn with plotters; no external assets): the goal tree with each goal's state,
//! outcome, stated confidence and computed target progress; a chart per target of its
//! measurements against the linear path to the target; milestones overdue and coming due;
//! partners with their engagements and agreements; the export concentration of the latest
//! year with trade data (shares chart, HHI). Printable, in Korean and English where names
//! exist.
//!
//! `--as-of TIME` renders the registry as it stood then: every goal and partner is read at
//! that `read_time` (the API's history), measurements recorded after it are left out, and so
//! are trade flows created after it.

mod charts;
mod html;

use std::{collections::BTreeMap, path::PathBuf};

use clap::Args;
use futures::TryStreamExt;
use registry_client::{Error as ApiError, RegistryClient, pb, prost_types::Timestamp};

use crate::{
    commands::Ctx,
    error::{CliError, CliResult, Context},
    kind::{Goals, Kind, Partners},
};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Render the registry as it stood at this time (RFC 3339, e.g. 2026-06-30T00:00:00Z),
    /// from the change history; default now.
    #[arg(long, value_name = "TIME")]
    pub as_of: Option<String>,
    /// Write the HTML to FILE instead of standard output (`-o` is the global output format).
    #[arg(long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Everything the report shows, read from the API.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The time the report describes.
    pub as_of: Timestamp,
    /// Whether `as_of` was asked for (a historical report) rather than now.
    pub historical: bool,
    /// Live goals at `as_of`, ordered by name.
    pub goals: Vec<pb::PolicyGoal>,
    /// Each goal's measurements recorded by `as_of`, by goal name, in observe-time order.
    pub measurements: BTreeMap<String, Vec<pb::Measurement>>,
    /// Live partners at `as_of`, ordered by name.
    pub partners: Vec<pb::TradePartner>,
    /// The export concentration of the latest year with trade data.
    pub concentration: Option<pb::ExportConcentration>,
}

/// `registryctl report`.
pub async fn run(ctx: &Ctx, a: ReportArgs) -> CliResult {
    let as_of = match a.as_of.as_deref() {
        Some(t) => Some(
            t.parse::<Timestamp>()
                .map_err(|_| CliError::usage(format!("--as-of {t:?} is not an RFC 3339 time")))?,
        ),
        None => None,
    };
    let data = gather(&ctx.client, as_of).await?;
    let page = html::render(&data).map_err(|e| CliError::other(format!("cannot draw the report: {e}")))?;
    match &a.out {
        Some(path) => {
            std::fs::write(path, page).map_err(|e| CliError::other(format!("cannot write {}: {e}", path.display())))?;
            ctx.note(format!(
                "wrote {} ({} goals, {} partners)",
                path.display(),
                data.goals.len(),
                data.partners.len()
            ));
        }
        None => print!("{page}"),
    }
    Ok(())
}

fn is_before_or_at(t: Option<&Timestamp>, limit: &Timestamp) -> bool {
    t.is_some_and(|t| (t.seconds, t.nanos) <= (limit.seconds, limit.nanos))
}

/// The resources of kind `K` that were live at `at` (when given), each as it stood then
/// (read with a `read_time`), ordered by name; without `at`, the live ones.
async fn as_they_were<K: Kind>(client: &RegistryClient, at: Option<Timestamp>) -> CliResult<Vec<K::Pb>> {
    let listed: Vec<K::Pb> = client
        .pages(K::list_request(String::new(), "name".into(), 1000, at.is_some()))
        .try_collect()
        .await
        .context(format!("listing {}", K::PLURAL))?;
    let mut out = Vec::with_capacity(listed.len());
    for item in listed {
        let item = match at {
            Some(t) => match K::get(client, K::pb_name(&item).to_owned(), Some(t)).await {
                Ok(then) => then,
                // Created after `at`.
                Err(ApiError::NotFound { .. }) => continue,
                Err(e) => return Err(e).context(format!("reading {} at {t}", K::pb_name(&item))),
            },
            None => item,
        };
        if K::delete_time(&item).is_none() || at.is_some_and(|t| !is_before_or_at(K::delete_time(&item), &t)) {
            out.push(item);
        }
    }
    Ok(out)
}

/// Reads what the report shows; at `as_of` when given, else now.
pub async fn gather(client: &RegistryClient, as_of: Option<Timestamp>) -> CliResult<ReportData> {
    let historical = as_of.is_some();
    let as_of = as_of.unwrap_or_else(|| Timestamp::from(std::time::SystemTime::now()));

    // Goals: soft-deleted ones too when reading the past (they may have been live then).
    let at = historical.then_some(as_of);
    let goals = as_they_were::<Goals>(client, at).await?;

    let mut measurements = BTreeMap::new();
    for g in goals.iter().filter(|g| !g.targets.is_empty()) {
        let all: Vec<pb::Measurement> = client
            .list_measurements(pb::ListMeasurementsRequest {
                parent: g.name.clone(),
                page_size: 1000,
                ..Default::default()
            })
            .try_collect()
            .await
            .context(format!("listing the measurements of {}", g.name))?;
        let known: Vec<pb::Measurement> = all
            .into_iter()
            .filter(|m| {
                !historical
                    || (is_before_or_at(m.create_time.as_ref(), &as_of)
                        && is_before_or_at(m.observe_time.as_ref(), &as_of))
            })
            .collect();
        measurements.insert(g.name.clone(), known);
    }

    let partners = as_they_were::<Partners>(client, at).await?;

    // The latest year with exports recorded (by `as_of`).
    let flows: Vec<pb::TradeFlow> = client
        .list_trade_flows(pb::ListTradeFlowsRequest {
            parent: "tradePartners/-".into(),
            page_size: 1000,
            ..Default::default()
        })
        .try_collect()
        .await
        .context("listing trade flows")?;
    let latest_year = flows
        .iter()
        .filter(|f| f.exports_usd > 0 && (!historical || is_before_or_at(f.create_time.as_ref(), &as_of)))
        .map(|f| f.year)
        .max();
    let concentration = match latest_year {
        Some(year) => Some(
            client
                .get_export_concentration(pb::GetExportConcentrationRequest {
                    year,
                    top_n: 10,
                    dependency_threshold: None,
                })
                .await
                .context(format!("export concentration of {year}"))?,
        ),
        None => None,
    };

    Ok(ReportData {
        as_of,
        historical,
        goals,
        measurements,
        partners,
        concentration,
    })
}
