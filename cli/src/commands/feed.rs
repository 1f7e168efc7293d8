//! `history`, `watch` and `health`.

use clap::Args;
use futures::StreamExt;
use registry_client::{HealthStatus, WatchEvent, WatchOptions, pb, prost_types};
use serde::Serialize;

use super::{Ctx, page_size};
use crate::{
    error::{CliError, CliResult, Context, exit},
    output::{self, Columns, Format, emit},
    records::{AgreementView, GoalView, PartnerView, RiskEntryView, enum_name, goal_name, ts},
};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// `policyGoals/{id}` (a bare id means a goal), `tradePartners/{id}`, `agreements/{id}` or
    /// `tokens/{id}`.
    pub name: String,
    #[command(flatten)]
    pub opts: HistoryOpts,
}

#[derive(Debug, Args)]
pub struct HistoryOpts {
    /// At most this many changes.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Newest first.
    #[arg(long)]
    pub newest_first: bool,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Deliver changes after this sequence (0: all retained history). Default: from now on.
    #[arg(long)]
    pub after: Option<i64>,
    /// Only this resource type (repeat): `goal`, `partner`, `token` or a full type name.
    #[arg(long = "type", value_name = "TYPE")]
    pub types: Vec<String>,
    /// Only resources whose name starts with this, e.g. `policyGoals/`.
    #[arg(long)]
    pub prefix: Option<String>,
    /// Stop after this many changes.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Heartbeat interval in seconds (1..=300); heartbeats are shown in table output.
    #[arg(long, value_parser = clap::value_parser!(i64).range(1..=300))]
    pub heartbeat_secs: Option<i64>,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The service to ask about (default: the whole server).
    #[arg(long, default_value = "")]
    pub service: String,
}

/// One change as printed.
#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub sequence: i64,
    pub resource_type: String,
    pub resource_name: String,
    pub kind: String,
    pub actor: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_time: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub update_mask: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_goal: Option<GoalView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_partner: Option<PartnerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trade_agreement: Option<AgreementView>,
    pub risk: Option<RiskEntryView>,
}

impl ChangeView {
    fn new(c: &pb::Change) -> ChangeView {
        use pb::change::Snapshot;
        let (mut policy_goal, mut trade_partner, mut trade_agreement, mut risk) = (None, None, None, None);
        match &c.snapshot {
            Some(Snapshot::PolicyGoal(g)) => policy_goal = Some(GoalView::new(g)),
            Some(Snapshot::TradePartner(t)) => trade_partner = Some(PartnerView::new(t)),
            Some(Snapshot::TradeAgreement(a)) => trade_agreement = Some(AgreementView::new(a)),
            Some(Snapshot::Risk(r)) => risk = Some(RiskEntryView::new(r)),
            _ => {}
        }
        ChangeView {
            sequence: c.sequence,
            resource_type: c.resource_type.clone(),
            resource_name: c.resource_name.clone(),
            kind: enum_name::<pb::change::Kind>(c.kind).unwrap_or_default(),
            actor: c.actor.clone(),
            request_id: c.request_id.clone(),
            change_time: ts(c.change_time.as_ref()),
            update_mask: c.update_mask.as_ref().map(|m| m.paths.clone()).unwrap_or_default(),
            policy_goal,
            trade_partner,
            trade_agreement,
            risk,
        }
    }
}

fn resource_name(s: &str) -> String {
    if s.contains('/') { s.to_owned() } else { goal_name(s) }
}

pub async fn history(ctx: &Ctx, a: HistoryArgs) -> CliResult {
    history_of(ctx, resource_name(&a.name), a.opts).await
}

/// Prints the change history of the resource `name`.
pub async fn history_of(ctx: &Ctx, name: String, a: HistoryOpts) -> CliResult {
    let req = pb::ListChangesRequest {
        page_size: page_size(a.limit),
        resource_name: name.clone(),
        newest_first: a.newest_first,
        ..Default::default()
    };
    let what = format!("reading the history of {name}");
    ctx.print_all(req, a.limit, what, |c| ChangeView::new(&c)).await
}

impl Columns for ChangeView {
    const COLUMNS: &[&str] = &["SEQ", "TIME", "KIND", "ACTOR", "FIELDS", "REVISION"];

    fn row(&self) -> Vec<String> {
        let revision = self
            .policy_goal
            .as_ref()
            .map(|g| &g.stamp)
            .or(self.trade_partner.as_ref().map(|t| &t.stamp))
            .or(self.trade_agreement.as_ref().map(|a| &a.stamp))
            .or(self.risk.as_ref().map(|r| &r.stamp))
            .map(|s| s.revision.to_string());
        vec![
            self.sequence.to_string(),
            self.change_time.clone().unwrap_or_default(),
            self.kind.clone(),
            self.actor.clone(),
            self.update_mask.join(", "),
            revision.unwrap_or_default(),
        ]
    }
}

fn resource_type(t: &str) -> String {
    match t.to_ascii_lowercase().as_str() {
        "goal" | "goals" | "policygoal" | "policy-goal" | "policygoals" => "motie.registry.v1.PolicyGoal".into(),
        "partner" | "partners" | "tradepartner" | "trade-partner" => "motie.registry.v1.TradePartner".into(),
        "token" | "tokens" => "motie.registry.v1.Token".into(),
        "agreement" | "agreements" | "tradeagreement" | "trade-agreement" => "motie.registry.v1.TradeAgreement".into(),
        _ if t.contains('.') => t.to_owned(),
        _ => format!("motie.registry.v1.{t}"),
    }
}

pub async fn watch(ctx: &Ctx, a: WatchArgs) -> CliResult {
    let req = pb::WatchChangesRequest {
        after_sequence: a.after,
        resource_types: a.types.iter().map(|t| resource_type(t)).collect(),
        name_prefix: a.prefix.unwrap_or_default(),
        heartbeat_interval: a.heartbeat_secs.map(|s| prost_types::Duration { seconds: s, nanos: 0 }),
    };
    let mut stream = Box::pin(ctx.client.watch_changes(req, WatchOptions::default()));
    let mut seen = 0usize;
    if a.limit == Some(0) {
        return Ok(());
    }
    while let Some(event) = stream.next().await {
        match event.context("watching changes")? {
            WatchEvent::Change(c) => {
                let v = ChangeView::new(&c);
                match ctx.format {
                    Format::Table => println!(
                        "{}\t{}\t{}\t{}\t{}",
                        v.sequence,
                        v.change_time.as_deref().unwrap_or_default(),
                        v.kind,
                        v.resource_name,
                        v.actor
                    ),
                    Format::Json => println!(
                        "{}",
                        serde_json::to_string(&v).map_err(|e| CliError::other(e.to_string()))?
                    ),
                    Format::Yaml => print!("---\n{}", output::render(Format::Yaml, &v)?),
                }
                seen += 1;
                if a.limit.is_some_and(|l| seen >= l) {
                    return Ok(());
                }
            }
            WatchEvent::Heartbeat { sequence } => {
                if ctx.format == Format::Table && !ctx.quiet {
                    eprintln!("heartbeat: up to date at sequence {sequence}");
                }
            }
            WatchEvent::Reconnecting { after_sequence, error } => {
                ctx.note(format!("reconnecting after sequence {after_sequence}: {error}"));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Serialize)]
struct HealthView {
    service: String,
    status: &'static str,
}

pub async fn health(ctx: &Ctx, a: HealthArgs) -> CliResult {
    let status = ctx.client.health(a.service.clone()).await.context("checking health")?;
    let text = match status {
        HealthStatus::Serving => "SERVING",
        HealthStatus::NotServing => "NOT_SERVING",
        HealthStatus::Unknown => "UNKNOWN",
    };
    let view = HealthView {
        service: a.service,
        status: text,
    };
    match ctx.format {
        Format::Table => println!("{text}"),
        _ => emit(ctx.format, &view, || output::table(&[]))?,
    }
    if status == HealthStatus::Serving {
        Ok(())
    } else {
        Err(CliError::Exit(exit::UNAVAILABLE))
    }
}
