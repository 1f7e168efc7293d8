//! `registryctl goals …`

use std::collections::BTreeMap;

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
    kind::{Goals, fmt_number, state_of},
    output::{self, Columns, Format, emit, kv_table},
    records::{
        self, CheckInRecord, CheckInView, GoalShape, enum_name, goal_id, goal_name, parse_check_in_time, parse_enum,
    },
    usage,
};

#[derive(Debug, Subcommand)]
pub enum GoalsCmd {
    #[command(flatten)]
    Standard(StandardCmd<GoalFlags>),
    /// Moves a goal through its lifecycle (PLANNED, ACTIVE, ON_HOLD, CLOSED with --outcome).
    State(StateArgs),
    /// Shows the goal tree (pillars, goals, initiatives).
    Tree(TreeArgs),
    /// Records a measured value of one of a goal's targets (append-only history):
    /// `record GOAL METRIC VALUE`, or with --metric and --value.
    Record(RecordArgs),
    /// Shows each target's computed progress (state, latest value, percent complete) and the
    /// goal's latest stated confidence.
    Progress(ProgressArgs),
    /// Records a check-in: a dated status update stating how confident the owner is that the
    /// goal will be met (append-only; a newer check-in corrects an older one).
    CheckIn(CheckInArgs),
    /// Lists a goal's check-ins, newest first.
    CheckIns(CheckInsArgs),
}

#[derive(Debug, Args)]
pub struct CheckInArgs {
    /// Goal id.
    pub goal: String,
    /// on-track, at-risk or off-track.
    #[arg(long)]
    pub confidence: String,
    /// Why: the narrative of the status.
    #[arg(long)]
    pub note: Option<String>,
    /// Who states it (default: the id of your API token).
    #[arg(long)]
    pub author: Option<String>,
    /// The date (2026-03-31) or RFC 3339 time the status refers to (default now).
    #[arg(long)]
    pub date: Option<String>,
    /// Where the statement comes from (a citation).
    #[arg(long)]
    pub source: Option<String>,
    /// The statement's words as the source gives them.
    #[arg(long)]
    pub quote: Option<String>,
    /// The check-in's id (default: chosen by the server).
    #[arg(long)]
    pub id: Option<String>,
    /// Idempotency key; a retry with the same key returns the original check-in.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CheckInsArgs {
    /// Goal id.
    pub goal: String,
    /// AIP-160 filter, e.g. `confidence = AT_RISK` or `check_in_time >= "2026-01-01T00:00:00Z"`.
    #[arg(long)]
    pub filter: Option<String>,
    /// The check-ins recorded by this RFC 3339 time.
    #[arg(long)]
    pub read_time: Option<String>,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Goal id.
    pub goal: String,
    /// METRIC and VALUE, when --metric and --value are not given.
    #[arg(value_name = "METRIC VALUE", num_args = 0..=2, allow_negative_numbers = true)]
    pub args: Vec<String>,
    /// The metric of one of the goal's targets.
    #[arg(long)]
    pub metric: Option<String>,
    /// The observed value, in the target's unit.
    #[arg(long, allow_negative_numbers = true)]
    pub value: Option<f64>,
    /// When the value was observed (RFC 3339; default now).
    #[arg(long)]
    pub observed_at: Option<String>,
    /// Where the value comes from.
    #[arg(long)]
    pub source: Option<String>,
    #[arg(long)]
    pub note: Option<String>,
    /// Idempotency key; a retry with the same key returns the original measurement.
    #[arg(long)]
    pub request_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct ProgressArgs {
    /// Goal id.
    pub goal: String,
}

/// Fields settable by flag (targets, milestones and risks go through -f). The plain fields
/// (title, description, confidence, …) are flags by the proto's descriptor.
pub type GoalFlags = KindFlags<GoalShape, GoalTable>;

flag_table! {
    /// The goal's flags besides the plain fields.
    GoalTable: [] [
        one pillar "pillar" "PILLAR" "INDUSTRIAL_RESURGENCE, TRADE_NATIONAL_INTEREST or SUSTAINABLE_GROWTH_PARTNERSHIP",
        one parent "parent" "PARENT" "Parent goal id",
        many sectors "sector" "SECTOR" "A sector slug (repeat; replaces the list)",
        many regions "region" "REGION" "A region (repeat; replaces the list)",
        many linked_partners "linked-partner" "PARTNER" "A linked trade partner id (repeat; replaces the list)",
        many product_sets "product-set" "SET" "A product set the goal concerns, by id (repeat; replaces the list)",
    ]
}

#[derive(Debug, Args)]
pub struct StateArgs {
    /// Goal id.
    pub goal: String,
    /// PLANNED, ACTIVE, ON_HOLD or CLOSED.
    pub state: String,
    /// With CLOSED: ACHIEVED, PARTIAL, MISSED or DROPPED.
    #[arg(long)]
    pub outcome: Option<String>,
    #[arg(long)]
    pub etag: Option<String>,
}

#[derive(Debug, Args)]
pub struct TreeArgs {
    /// Only the subtree under this goal.
    pub root: Option<String>,
    /// Include soft-deleted goals.
    #[arg(long)]
    pub show_deleted: bool,
}

pub async fn run(ctx: &Ctx, cmd: GoalsCmd) -> CliResult {
    match cmd {
        GoalsCmd::Standard(c) => resource::run::<Goals, _>(ctx, c).await,
        GoalsCmd::State(a) => state(ctx, a).await,
        GoalsCmd::Tree(a) => tree(ctx, a).await,
        GoalsCmd::Record(a) => record(ctx, a).await,
        GoalsCmd::Progress(a) => progress(ctx, a).await,
        GoalsCmd::CheckIn(a) => check_in(ctx, a).await,
        GoalsCmd::CheckIns(a) => check_ins(ctx, a).await,
    }
}

async fn state(ctx: &Ctx, a: StateArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let state = parse_enum::<pb::policy_goal::State>("state", &a.state).map_err(CliError::usage)?;
    let outcome = match a.outcome.as_deref() {
        Some(o) => parse_enum::<pb::policy_goal::Outcome>("--outcome", o).map_err(CliError::usage)?,
        None => 0,
    };
    let g = ctx
        .client
        .change_policy_goal_state(pb::ChangePolicyGoalStateRequest {
            name: name.clone(),
            state,
            outcome,
            etag: a.etag.unwrap_or_default(),
        })
        .await
        .context(format!("changing the state of {name}"))?;
    ctx.note(format!(
        "{name} is now {}",
        enum_name::<pb::policy_goal::State>(g.state).unwrap_or_default()
    ));
    resource::show::<Goals>(ctx, &g)
}

/// One node of `goals tree -o json|yaml`.
#[derive(Debug, Serialize)]
struct TreeNode {
    id: String,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pillar: Option<String>,
    state: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    children: Vec<TreeNode>,
}

async fn tree(ctx: &Ctx, a: TreeArgs) -> CliResult {
    let req = pb::ListPolicyGoalsRequest {
        page_size: 1000,
        show_deleted: a.show_deleted,
        ..Default::default()
    };
    let goals = ctx.list_all(req, None, "listing goals").await?;
    let mut by_parent: BTreeMap<String, Vec<&pb::PolicyGoal>> = BTreeMap::new();
    for g in &goals {
        by_parent.entry(goal_id(&g.parent).to_owned()).or_default().push(g);
    }
    for kids in by_parent.values_mut() {
        kids.sort_by(|x, y| x.name.cmp(&y.name));
    }
    fn build(g: &pb::PolicyGoal, by_parent: &BTreeMap<String, Vec<&pb::PolicyGoal>>, depth: usize) -> TreeNode {
        let id = goal_id(&g.name).to_owned();
        let children = if depth > 64 {
            Vec::new()
        } else {
            by_parent
                .get(&id)
                .map(|kids| kids.iter().map(|k| build(k, by_parent, depth + 1)).collect())
                .unwrap_or_default()
        };
        TreeNode {
            title: g.title.clone(),
            pillar: g.parent.is_empty().then(|| enum_name::<pb::Pillar>(g.pillar)).flatten(),
            state: state_of(g),
            deleted: g.delete_time.is_some(),
            children,
            id,
        }
    }
    let roots: Vec<TreeNode> = match &a.root {
        Some(r) => {
            let name = goal_name(r);
            let g = goals
                .iter()
                .find(|g| g.name == name)
                .ok_or_else(|| registry_client::Error::NotFound {
                    message: format!("{name} not found"),
                    resource_name: Some(name.clone()),
                })
                .context("")?;
            vec![build(g, &by_parent, 0)]
        }
        None => by_parent
            .get("")
            .map(|roots| roots.iter().map(|g| build(g, &by_parent, 0)).collect())
            .unwrap_or_default(),
    };
    match ctx.format {
        Format::Table => {
            let mut out = String::new();
            for root in &roots {
                draw(root, "", "", &mut out);
            }
            print!("{out}");
            Ok(())
        }
        f => {
            print!("{}", output::render(f, &roots)?);
            Ok(())
        }
    }
}

fn draw(n: &TreeNode, lead: &str, child_lead: &str, out: &mut String) {
    let deleted = if n.deleted { ", deleted" } else { "" };
    let pillar = n.pillar.as_deref().map(|p| format!(" {{{p}}}")).unwrap_or_default();
    out.push_str(&format!("{lead}{}  {}{pillar} [{}{deleted}]\n", n.id, n.title, n.state));
    for (i, c) in n.children.iter().enumerate() {
        let last = i + 1 == n.children.len();
        let (l, cl) = if last {
            ("└── ", "    ")
        } else {
            ("├── ", "│   ")
        };
        draw(c, &format!("{child_lead}{l}"), &format!("{child_lead}{cl}"), out);
    }
}

/// A measurement as `goals record` prints it.
#[derive(Debug, Serialize)]
struct MeasurementView {
    name: String,
    metric: String,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    observe_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    source: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    note: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    create_time: Option<String>,
    recorder: String,
}

async fn record(ctx: &Ctx, a: RecordArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let observe_time = match a.observed_at.as_deref() {
        Some(t) => t
            .parse()
            .map_err(|_| CliError::usage(format!("--observed-at {t:?} is not an RFC 3339 time")))?,
        None => registry_client::prost_types::Timestamp::from(std::time::SystemTime::now()),
    };
    let mut args = a.args.into_iter();
    let metric = match a.metric {
        Some(m) => m,
        None => args
            .next()
            .ok_or_else(|| CliError::usage("give the METRIC (or --metric)"))?,
    };
    let value = match a.value {
        Some(v) => v,
        None => {
            let v = args
                .next()
                .ok_or_else(|| CliError::usage("give the VALUE (or --value)"))?;
            v.parse()
                .map_err(|_| CliError::usage(format!("VALUE {v:?} is not a number")))?
        }
    };
    if let Some(extra) = args.next() {
        return usage(format!("unexpected argument {extra:?}"));
    }
    let m = ctx
        .client
        .record_measurement(pb::RecordMeasurementRequest {
            parent: name.clone(),
            measurement: Some(pb::Measurement {
                metric,
                value,
                observe_time: Some(observe_time),
                source: a.source.unwrap_or_default(),
                note: a.note.unwrap_or_default(),
                ..Default::default()
            }),
            request_id: a.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        })
        .await
        .context(format!("recording a measurement of {name}"))?;
    ctx.note(format!("recorded {}", m.name));
    let view = MeasurementView {
        name: m.name.clone(),
        metric: m.metric.clone(),
        value: m.value,
        observe_time: records::ts(m.observe_time.as_ref()),
        source: m.source.clone(),
        note: m.note.clone(),
        create_time: records::ts(m.create_time.as_ref()),
        recorder: m.recorder.clone(),
    };
    emit(ctx.format, &view, || {
        kv_table(&[
            ("name", view.name.clone()),
            ("metric", view.metric.clone()),
            ("value", fmt_number(view.value)),
            ("observed", view.observe_time.clone().unwrap_or_default()),
            ("source", view.source.clone()),
            ("note", view.note.clone()),
            ("recorded", view.create_time.clone().unwrap_or_default()),
            ("recorder", view.recorder.clone()),
        ])
    })
}

/// One target's progress as `goals progress` prints it.
#[derive(Debug, Serialize)]
struct TargetProgressView {
    metric: String,
    /// How the target reads ("500 factories", "+30% of the baseline").
    target: String,
    unit: String,
    target_value: f64,
    target_year: i32,
    state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latest_observe_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    percent_complete: Option<f64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    explanation: String,
}

async fn progress(ctx: &Ctx, a: ProgressArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let g = ctx
        .client
        .get_policy_goal(&name)
        .await
        .context(format!("getting {name}"))?;
    let views: Vec<TargetProgressView> = g
        .targets
        .iter()
        .map(|t| {
            let p = t.progress.clone().unwrap_or_default();
            TargetProgressView {
                metric: t.metric.clone(),
                target: crate::kind::target_text(t),
                unit: t.unit.clone(),
                target_value: t.target_value,
                target_year: t.target_year,
                state: records::enum_name::<pb::target_progress::State>(p.state).unwrap_or_default(),
                latest_value: p.latest_value,
                latest_observe_time: records::ts(p.latest_observe_time.as_ref()),
                percent_complete: p.percent_complete,
                explanation: p.explanation,
            }
        })
        .collect();
    if ctx.format == Format::Table {
        // Stated, beside the computed states: the two may disagree.
        let stated = g
            .latest_check_in
            .as_ref()
            .map_or_else(|| "none (no check-in)".to_owned(), |c| CheckInView::new(c).summary());
        println!("stated confidence: {stated}");
    }
    output::print_list(ctx.format, &views)
}

impl Columns for TargetProgressView {
    const COLUMNS: &[&str] = &["METRIC", "TARGET", "STATE", "LATEST", "COMPLETE", "WHY"];

    fn row(&self) -> Vec<String> {
        let percent = self.percent_complete.map(|p| format!("{p:.1}%"));
        vec![
            self.metric.clone(),
            format!("{} by {}", self.target, self.target_year),
            self.state.clone(),
            self.latest_value.map(fmt_number).unwrap_or_default(),
            percent.unwrap_or_default(),
            self.explanation.clone(),
        ]
    }
}

async fn check_in(ctx: &Ctx, a: CheckInArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let confidence = parse_enum::<pb::check_in::Confidence>("--confidence", &a.confidence)
        .map_err(|e| CliError::usage(format!("{e}; one of on-track, at-risk, off-track")))?;
    let check_in_time = match a.date.as_deref() {
        Some(d) => Some(parse_check_in_time("--date", d).map_err(CliError::usage)?),
        None => None,
    };
    let c = ctx
        .client
        .create_check_in(pb::CreateCheckInRequest {
            parent: name.clone(),
            check_in: Some(pb::CheckIn {
                check_in_time,
                confidence,
                note: a.note.unwrap_or_default(),
                author: a.author.unwrap_or_default(),
                source: a.source.unwrap_or_default(),
                quote: a.quote.unwrap_or_default(),
                ..Default::default()
            }),
            check_in_id: a.id.unwrap_or_default(),
            request_id: a.request_id.unwrap_or_default(),
            validate_only: false,
        })
        .await
        .context(format!("checking in on {name}"))?;
    ctx.note(format!("recorded {}", c.name));
    let view = CheckInView::new(&c);
    emit(ctx.format, &view, || kv_table(&check_in_rows(&view)))
}

fn check_in_rows(v: &CheckInView) -> Vec<(&'static str, String)> {
    let r: &CheckInRecord = &v.record;
    vec![
        ("name", v.name.clone()),
        ("check_in_time", r.check_in_time.clone()),
        ("confidence", r.confidence.clone()),
        ("note", r.note.clone()),
        ("author", r.author.clone()),
        ("source", r.source.clone()),
        ("quote", r.quote.clone()),
        ("recorded", v.create_time.clone().unwrap_or_default()),
        ("creator", v.creator.clone()),
    ]
}

async fn check_ins(ctx: &Ctx, a: CheckInsArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let req = pb::ListCheckInsRequest {
        parent: name.clone(),
        page_size: 1000,
        filter: a.filter.unwrap_or_default(),
        read_time: resource::read_time(a.read_time.as_deref())?,
        ..Default::default()
    };
    let what = format!("listing the check-ins of {name}");
    ctx.print_all(req, None, what, |c| CheckInView::new(&c)).await
}

impl Columns for CheckInView {
    const COLUMNS: &[&str] = &["ID", "TIME", "CONFIDENCE", "AUTHOR", "NOTE"];

    fn row(&self) -> Vec<String> {
        let r = &self.record;
        let note = output::truncate(&r.note, 60);
        vec![
            r.id.clone(),
            r.check_in_time.clone(),
            r.confidence.clone(),
            r.author.clone(),
            note,
        ]
    }
}
