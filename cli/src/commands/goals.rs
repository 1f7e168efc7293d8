//! `registryctl goals …`

use std::{collections::BTreeMap, path::PathBuf};

use clap::{Args, Subcommand};
use futures::{StreamExt, TryStreamExt};
use registry_client::{pb, prost_types::FieldMask};
use serde::Serialize;

use super::Ctx;
use crate::{
    error::{CliError, CliResult, Context},
    output::{self, Format, emit, join, kv_table},
    records::{
        self, GoalRecord, GoalView, goal_id, goal_name, goal_state_name, parse_goal_state, parse_label, parse_outcome,
        pillar_name,
    },
    transfer::{reach_state, state_of},
    usage,
};

#[derive(Debug, Subcommand)]
pub enum GoalsCmd {
    /// Lists goals (every page; --limit to stop early).
    List(ListArgs),
    /// Shows one goal.
    Get(GetArgs),
    /// Creates a goal from flags or from a file (-f).
    Create(CreateArgs),
    /// Changes the given fields of a goal (only those: they are the update mask).
    Update(UpdateArgs),
    /// Moves a goal through its lifecycle (PLANNED, ACTIVE, ON_HOLD, CLOSED with --outcome).
    State(StateArgs),
    /// Soft-deletes a goal (undelete until it expires).
    Delete(DeleteArgs),
    /// Restores a soft-deleted goal.
    Undelete(UndeleteArgs),
    /// Shows the goal tree (pillars, goals, initiatives).
    Tree(TreeArgs),
    /// Records a measured value of one of a goal's targets (append-only history).
    Record(RecordArgs),
    /// Shows each target's computed progress (state, latest value, percent complete).
    Progress(ProgressArgs),
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// Goal id.
    pub goal: String,
    /// The metric of one of the goal's targets.
    #[arg(long)]
    pub metric: String,
    /// The observed value, in the target's unit.
    #[arg(long)]
    pub value: f64,
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

#[derive(Debug, Args)]
pub struct ListArgs {
    /// AIP-160 filter, e.g. `state = ACTIVE AND sectors:semiconductors`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Ordering, e.g. `update_time desc, title`.
    #[arg(long)]
    pub order_by: Option<String>,
    /// At most this many goals.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Include soft-deleted goals.
    #[arg(long)]
    pub show_deleted: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Goal id or `policyGoals/{id}`.
    pub goal: String,
    /// Show the goal as it was at this time (RFC 3339).
    #[arg(long)]
    pub read_time: Option<String>,
}

/// Fields settable by flag (targets, milestones and risks go through -f).
#[derive(Debug, Args, Default)]
pub struct GoalFlags {
    #[arg(long)]
    pub title: Option<String>,
    /// Korean title (only an established official term).
    #[arg(long)]
    pub title_ko: Option<String>,
    /// INDUSTRIAL_RESURGENCE, TRADE_NATIONAL_INTEREST or SUSTAINABLE_GROWTH_PARTNERSHIP.
    #[arg(long)]
    pub pillar: Option<String>,
    /// Parent goal id.
    #[arg(long)]
    pub parent: Option<String>,
    #[arg(long)]
    pub description: Option<String>,
    /// A sector slug (repeat; replaces the list).
    #[arg(long = "sector", value_name = "SECTOR")]
    pub sectors: Vec<String>,
    /// A region (repeat; replaces the list).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    #[arg(long)]
    pub lead_organization: Option<String>,
    /// LOW, MEDIUM or HIGH.
    #[arg(long)]
    pub confidence: Option<String>,
    #[arg(long)]
    pub confidence_note: Option<String>,
    /// A linked trade partner id (repeat; replaces the list).
    #[arg(long = "linked-partner", value_name = "PARTNER")]
    pub linked_partners: Vec<String>,
    /// Where the record comes from.
    #[arg(long)]
    pub source: Option<String>,
    /// A label KEY=VALUE (repeat).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new goal's id (or `id:` in the file).
    pub id: Option<String>,
    /// A YAML or JSON file with one goal (the schema of `seeds/`); flags override its fields.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: GoalFlags,
    /// Idempotency key; a retry with the same key returns the original goal.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Check only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Goal id (or `id:` in the file).
    pub id: Option<String>,
    /// A YAML or JSON file with the fields to set (e.g. edited `goals get -o yaml` output;
    /// its `etag` is honoured, output-only fields are ignored). Flags override it.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: GoalFlags,
    /// Remove a label (repeat).
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_labels: Vec<String>,
    /// Clear a field (repeat), e.g. `--clear sectors --clear description`.
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Only update if the goal still has this etag (else exit 4).
    #[arg(long)]
    pub etag: Option<String>,
    /// Create the goal if it does not exist.
    #[arg(long)]
    pub allow_missing: bool,
    /// Check only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
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
pub struct DeleteArgs {
    /// Goal id.
    pub goal: String,
    /// Also delete live descendants.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub etag: Option<String>,
    /// Succeed when the goal does not exist.
    #[arg(long)]
    pub allow_missing: bool,
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct UndeleteArgs {
    /// Goal id.
    pub goal: String,
    #[arg(long)]
    pub etag: Option<String>,
    #[arg(long)]
    pub validate_only: bool,
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
        GoalsCmd::List(a) => list(ctx, a).await,
        GoalsCmd::Get(a) => get(ctx, a).await,
        GoalsCmd::Create(a) => create(ctx, a).await,
        GoalsCmd::Update(a) => update(ctx, a).await,
        GoalsCmd::State(a) => state(ctx, a).await,
        GoalsCmd::Delete(a) => delete(ctx, a).await,
        GoalsCmd::Undelete(a) => undelete(ctx, a).await,
        GoalsCmd::Tree(a) => tree(ctx, a).await,
        GoalsCmd::Record(a) => record(ctx, a).await,
        GoalsCmd::Progress(a) => progress(ctx, a).await,
    }
}

async fn list(ctx: &Ctx, a: ListArgs) -> CliResult {
    let page_size = a.limit.map_or(1000, |l| l.clamp(1, 1000)) as i32;
    let stream = ctx.client.list_policy_goals(pb::ListPolicyGoalsRequest {
        page_size,
        page_token: String::new(),
        filter: a.filter.unwrap_or_default(),
        order_by: a.order_by.unwrap_or_default(),
        show_deleted: a.show_deleted,
    });
    let goals: Vec<pb::PolicyGoal> = match a.limit {
        Some(l) => stream.take(l).try_collect().await,
        None => stream.try_collect().await,
    }
    .context("listing goals")?;
    let views: Vec<GoalView> = goals.iter().map(GoalView::new).collect();
    emit(ctx.format, &views, || {
        let mut t = output::table(&["ID", "TITLE", "PILLAR", "STATE", "PARENT", "UPDATED"]);
        for g in &goals {
            let mut state = state_of(g);
            if g.delete_time.is_some() {
                state.push_str(" (deleted)");
            }
            t.add_row(vec![
                goal_id(&g.name).to_owned(),
                g.title.clone(),
                pillar_name(g.pillar).unwrap_or_default(),
                state,
                goal_id(&g.parent).to_owned(),
                records::ts(g.update_time.as_ref()).unwrap_or_default(),
            ]);
        }
        t
    })
}

fn show(ctx: &Ctx, g: &pb::PolicyGoal) -> CliResult {
    let view = GoalView::new(g);
    emit(ctx.format, &view, || {
        let r = &view.record;
        let targets: Vec<String> = r
            .targets
            .iter()
            .zip(&view.progress)
            .map(|(t, p)| {
                format!(
                    "{}: {} {} {} by {} ({}){}",
                    t.metric,
                    t.comparator.as_deref().unwrap_or_default(),
                    fmt_number(t.target_value),
                    t.unit,
                    t.target_year,
                    t.direction,
                    if p.state.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", p.state)
                    }
                )
            })
            .chain(r.targets.iter().skip(view.progress.len()).map(|t| {
                format!(
                    "{}: {} {} {} by {}",
                    t.metric,
                    t.comparator.as_deref().unwrap_or_default(),
                    fmt_number(t.target_value),
                    t.unit,
                    t.target_year
                )
            }))
            .collect();
        let milestones: Vec<String> = r
            .milestones
            .iter()
            .map(|m| {
                let due = m.due.map(|d| format!(" (due {d})")).unwrap_or_default();
                format!("{}{due} [{}]", m.title, m.state.as_deref().unwrap_or_default())
            })
            .collect();
        let risks: Vec<String> = r.risks.iter().map(|k| format!("{}: {}", k.category, k.title)).collect();
        let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let state = match &r.outcome {
            Some(o) => format!("{} ({o})", r.state.as_deref().unwrap_or_default()),
            None => r.state.clone().unwrap_or_default(),
        };
        kv_table(&[
            ("name", view.name.clone()),
            ("title", r.title.clone()),
            ("title_ko", r.title_ko.clone()),
            ("pillar", r.pillar.clone().unwrap_or_default()),
            ("parent", r.parent.clone().unwrap_or_default()),
            ("ancestors", join(&view.ancestors)),
            ("state", state),
            ("description", r.description.clone()),
            ("sectors", join(&r.sectors)),
            ("regions", join(&r.regions)),
            ("lead_organization", r.lead_organization.clone()),
            ("confidence", r.confidence.clone().unwrap_or_default()),
            ("confidence_note", r.confidence_note.clone()),
            ("targets", targets.join("\n")),
            ("milestones", milestones.join("\n")),
            ("linked_partners", join(&r.linked_partners)),
            ("risks", risks.join("\n")),
            ("source", r.source.clone()),
            ("labels", labels.join(", ")),
            ("etag", view.etag.clone()),
            ("revision", view.revision.to_string()),
            ("created", view.create_time.clone().unwrap_or_default()),
            ("updated", view.update_time.clone().unwrap_or_default()),
            ("deleted", view.delete_time.clone().unwrap_or_default()),
            ("expires", view.expire_time.clone().unwrap_or_default()),
        ])
    })
}

fn fmt_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        v.to_string()
    }
}

async fn get(ctx: &Ctx, a: GetArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let g = match a.read_time {
        Some(t) => {
            let ts = t
                .parse()
                .map_err(|_| CliError::usage(format!("--read-time {t:?} is not an RFC 3339 time")))?;
            ctx.client.get_policy_goal_at(&name, ts).await
        }
        None => ctx.client.get_policy_goal(&name).await,
    }
    .context(format!("getting {name}"))?;
    show(ctx, &g)
}

/// Keys of a goal document that the server sets; a file may carry them (from `get -o yaml`).
const OUTPUT_ONLY: &[&str] = &[
    "name",
    "ancestors",
    "progress",
    "revision",
    "create_time",
    "update_time",
    "delete_time",
    "expire_time",
];

/// A goal read from `-f FILE`, with the top-level keys present (the update mask).
struct GoalFile {
    record: GoalRecord,
    keys: Vec<String>,
    etag: Option<String>,
}

fn read_goal_file(path: &PathBuf) -> CliResult<GoalFile> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    let bad = |e: String| CliError::other(format!("{}: {e}", path.display()));
    let value: serde_norway::Value = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?
    };
    let mut map = match value {
        serde_norway::Value::Mapping(m) => m,
        _ => return Err(bad("expected a mapping with the goal's fields".into())),
    };
    // `goals: [one]` (a data file with one goal) is accepted too.
    if map.len() == 1
        && let Some(serde_norway::Value::Sequence(goals)) = map.get("goals")
    {
        match goals.as_slice() {
            [serde_norway::Value::Mapping(one)] => map = one.clone(),
            _ => {
                return Err(bad(
                    "`goals:` must hold exactly one goal here; use `import` for more".into()
                ));
            }
        }
    }
    let etag = match map.remove("etag") {
        Some(serde_norway::Value::String(s)) => Some(s),
        Some(_) => return Err(bad("etag: expected a string".into())),
        None => None,
    };
    for k in OUTPUT_ONLY {
        map.remove(*k);
    }
    let keys: Vec<String> = map.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    if !map.contains_key("id") {
        map.insert("id".into(), serde_norway::Value::String(String::new()));
    }
    let record: GoalRecord =
        serde_norway::from_value(serde_norway::Value::Mapping(map)).map_err(|e| bad(e.to_string()))?;
    Ok(GoalFile { record, keys, etag })
}

/// Applies the flags to `r`; returns the mask paths they set.
fn apply_flags(r: &mut GoalRecord, f: GoalFlags) -> Vec<String> {
    let mut mask = Vec::new();
    let set = |path: &str, mask: &mut Vec<String>| mask.push(path.to_owned());
    macro_rules! opt {
        ($field:ident) => {
            if let Some(v) = f.$field {
                r.$field = v;
                set(stringify!($field), &mut mask);
            }
        };
        ($field:ident, some) => {
            if let Some(v) = f.$field {
                r.$field = Some(v);
                set(stringify!($field), &mut mask);
            }
        };
    }
    macro_rules! list {
        ($field:ident) => {
            if !f.$field.is_empty() {
                r.$field = f.$field;
                set(stringify!($field), &mut mask);
            }
        };
    }
    opt!(title);
    opt!(title_ko);
    opt!(pillar, some);
    opt!(parent, some);
    opt!(description);
    list!(sectors);
    list!(regions);
    opt!(lead_organization);
    opt!(confidence, some);
    opt!(confidence_note);
    list!(linked_partners);
    opt!(source);
    for (k, v) in f.labels {
        mask.push(format!("labels.{k}"));
        r.labels.insert(k, v);
    }
    mask
}

fn resolve_id(arg: Option<String>, file: &GoalRecord) -> CliResult<String> {
    match (arg, file.id.as_str()) {
        (Some(a), "") => Ok(goal_id(&a).to_owned()),
        (Some(a), f) if goal_id(&a) == goal_id(f) => Ok(goal_id(&a).to_owned()),
        (Some(a), f) => usage(format!("the id {a:?} differs from the file's id {f:?}")),
        (None, "") => usage("give the goal id (or `id:` in the file)"),
        (None, f) => Ok(goal_id(f).to_owned()),
    }
}

fn record_to_pb(r: &GoalRecord) -> CliResult<pb::PolicyGoal> {
    r.to_pb().map_err(|problems| CliError::Other {
        message: format!("invalid goal {:?}", r.id),
        details: problems,
    })
}

/// The state and outcome a file asks for, if any.
fn wanted_state(r: &GoalRecord) -> CliResult<Option<(i32, i32)>> {
    let Some(s) = r.state.as_deref() else {
        return Ok(None);
    };
    let bad = |e| CliError::other(e);
    let state = parse_goal_state("state", s).map_err(bad)?;
    let outcome = match r.outcome.as_deref() {
        Some(o) => parse_outcome("outcome", o).map_err(bad)?,
        None => 0,
    };
    Ok(Some((state, outcome)))
}

async fn create(ctx: &Ctx, a: CreateArgs) -> CliResult {
    let mut record = match &a.file {
        Some(p) => read_goal_file(p)?.record,
        None => GoalRecord::default(),
    };
    record.id = resolve_id(a.id, &record)?;
    apply_flags(&mut record, a.fields);
    let wanted = wanted_state(&record)?;
    let goal = record_to_pb(&record)?;
    let name = goal_name(&record.id);
    let mut created = ctx
        .client
        .create_policy_goal(pb::CreatePolicyGoalRequest {
            policy_goal_id: record.id.clone(),
            policy_goal: Some(goal),
            request_id: a.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            validate_only: a.validate_only,
        })
        .await
        .context(format!("creating {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} is valid (nothing stored)"));
        return Ok(());
    }
    if let Some((state, outcome)) = wanted
        && (state, outcome) != (created.state, created.outcome)
    {
        reach_state(&ctx.client, &name, state, outcome)
            .await
            .context(format!("setting the state of {name}"))?;
        created = ctx
            .client
            .get_policy_goal(&name)
            .await
            .context(format!("getting {name}"))?;
    }
    ctx.note(format!("created {name}"));
    show(ctx, &created)
}

async fn update(ctx: &Ctx, a: UpdateArgs) -> CliResult {
    let (mut record, mut mask, file_etag) = match &a.file {
        Some(p) => {
            let f = read_goal_file(p)?;
            let mask: Vec<String> = f
                .keys
                .iter()
                .filter(|k| !matches!(k.as_str(), "id" | "state" | "outcome"))
                .cloned()
                .collect();
            (f.record, mask, f.etag)
        }
        None => (GoalRecord::default(), Vec::new(), None),
    };
    record.id = resolve_id(a.id, &record)?;
    let name = goal_name(&record.id);
    for p in apply_flags(&mut record, a.fields) {
        if !mask.contains(&p) {
            mask.push(p);
        }
    }
    for k in a.remove_labels {
        record.labels.remove(&k);
        mask.push(format!("labels.{k}"));
    }
    for field in a.clear {
        if !records::WRITABLE.contains(&field.as_str()) {
            return usage(format!(
                "--clear {field:?}: not a writable field; one of {}",
                records::WRITABLE.join(", ")
            ));
        }
        clear_field(&mut record, &field);
        mask.push(field);
    }
    let wanted = wanted_state(&record)?;
    if mask.is_empty() && wanted.is_none() {
        return usage("nothing to update: give fields as flags or in -f FILE");
    }
    let mut goal = record_to_pb(&record)?;
    goal.etag = a.etag.or(file_etag).unwrap_or_default();
    let mut updated = if mask.is_empty() {
        ctx.client
            .get_policy_goal(&name)
            .await
            .context(format!("getting {name}"))?
    } else {
        ctx.client
            .update_policy_goal(pb::UpdatePolicyGoalRequest {
                policy_goal: Some(goal),
                update_mask: Some(FieldMask { paths: mask }),
                allow_missing: a.allow_missing,
                validate_only: a.validate_only,
            })
            .await
            .context(format!("updating {name}"))?
    };
    if a.validate_only {
        ctx.note(format!("the update of {name} is valid (nothing stored)"));
        return Ok(());
    }
    if let Some((state, outcome)) = wanted
        && (state, outcome) != (updated.state, updated.outcome)
    {
        reach_state(&ctx.client, &name, state, outcome)
            .await
            .context(format!("setting the state of {name}"))?;
        updated = ctx
            .client
            .get_policy_goal(&name)
            .await
            .context(format!("getting {name}"))?;
    }
    ctx.note(format!("updated {name} (revision {})", updated.revision));
    show(ctx, &updated)
}

fn clear_field(r: &mut GoalRecord, field: &str) {
    match field {
        "title" => r.title.clear(),
        "title_ko" => r.title_ko.clear(),
        "pillar" => r.pillar = None,
        "parent" => r.parent = None,
        "description" => r.description.clear(),
        "sectors" => r.sectors.clear(),
        "regions" => r.regions.clear(),
        "lead_organization" => r.lead_organization.clear(),
        "confidence" => r.confidence = None,
        "confidence_note" => r.confidence_note.clear(),
        "targets" => r.targets.clear(),
        "milestones" => r.milestones.clear(),
        "linked_partners" => r.linked_partners.clear(),
        "risks" => r.risks.clear(),
        "source" => r.source.clear(),
        "labels" => r.labels.clear(),
        _ => {}
    }
}

async fn state(ctx: &Ctx, a: StateArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let state = parse_goal_state("state", &a.state).map_err(CliError::usage)?;
    let outcome = match a.outcome.as_deref() {
        Some(o) => parse_outcome("--outcome", o).map_err(CliError::usage)?,
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
        goal_state_name(g.state).unwrap_or_default()
    ));
    show(ctx, &g)
}

async fn delete(ctx: &Ctx, a: DeleteArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let g = ctx
        .client
        .delete_policy_goal(pb::DeletePolicyGoalRequest {
            name: name.clone(),
            etag: a.etag.unwrap_or_default(),
            force: a.force,
            allow_missing: a.allow_missing,
            validate_only: a.validate_only,
        })
        .await
        .context(format!("deleting {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} can be deleted (nothing changed)"));
        return Ok(());
    }
    if g.name.is_empty() {
        ctx.note(format!("{name} does not exist"));
        return Ok(());
    }
    ctx.note(format!(
        "deleted {name}; it can be undeleted until {}",
        records::ts(g.expire_time.as_ref()).unwrap_or_default()
    ));
    show(ctx, &g)
}

async fn undelete(ctx: &Ctx, a: UndeleteArgs) -> CliResult {
    let name = goal_name(&a.goal);
    let g = ctx
        .client
        .undelete_policy_goal(pb::UndeletePolicyGoalRequest {
            name: name.clone(),
            etag: a.etag.unwrap_or_default(),
            validate_only: a.validate_only,
        })
        .await
        .context(format!("undeleting {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} can be undeleted (nothing changed)"));
        return Ok(());
    }
    ctx.note(format!("undeleted {name}"));
    show(ctx, &g)
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
    let goals: Vec<pb::PolicyGoal> = ctx
        .client
        .list_policy_goals(pb::ListPolicyGoalsRequest {
            page_size: 1000,
            show_deleted: a.show_deleted,
            ..Default::default()
        })
        .try_collect()
        .await
        .context("listing goals")?;
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
            pillar: g.parent.is_empty().then(|| pillar_name(g.pillar)).flatten(),
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
    let m = ctx
        .client
        .record_measurement(pb::RecordMeasurementRequest {
            parent: name.clone(),
            measurement: Some(pb::Measurement {
                metric: a.metric,
                value: a.value,
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
                unit: t.unit.clone(),
                target_value: t.target_value,
                target_year: t.target_year,
                state: records::progress_state_name(p.state).unwrap_or_default(),
                latest_value: p.latest_value,
                latest_observe_time: records::ts(p.latest_observe_time.as_ref()),
                percent_complete: p.percent_complete,
                explanation: p.explanation,
            }
        })
        .collect();
    emit(ctx.format, &views, || {
        let mut t = output::table(&["METRIC", "TARGET", "STATE", "LATEST", "COMPLETE", "WHY"]);
        for v in &views {
            t.add_row(vec![
                v.metric.clone(),
                format!("{} {} by {}", fmt_number(v.target_value), v.unit, v.target_year),
                v.state.clone(),
                v.latest_value.map(fmt_number).unwrap_or_default(),
                v.percent_complete.map(|p| format!("{p:.1}%")).unwrap_or_default(),
                v.explanation.clone(),
            ]);
        }
        t
    })
}
