//! `registryctl partners …` and `registryctl concentration`.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use futures::{StreamExt, TryStreamExt};
use registry_client::{pb, prost_types::FieldMask};
use serde::{Serialize, de::DeserializeOwned};

use super::Ctx;
use crate::{
    error::{CliError, CliResult, Context},
    output::{self, emit, join, kv_table},
    records::{
        self, FlowRecord, FlowView, PARTNER_WRITABLE, PartnerRecord, PartnerView, parse_label, partner_id, partner_name,
    },
    usage,
};

#[derive(Debug, Subcommand)]
pub enum PartnersCmd {
    /// Lists partners (every page; --limit to stop early).
    List(ListArgs),
    /// Shows one partner, with its memberships and the goals that link it.
    Get(GetArgs),
    /// Creates a partner from flags or from a file (-f).
    Create(CreateArgs),
    /// Changes the given fields of a partner (only those: they are the update mask).
    Update(UpdateArgs),
    /// Soft-deletes a partner (--force also unlinks goals and groups that refer to it).
    Delete(DeleteArgs),
    /// Restores a soft-deleted partner.
    Undelete(UndeleteArgs),
    /// Trade flows: `flows [PARTNER] [--year Y]` lists, `flows set PARTNER YEAR …` upserts.
    Flows(FlowsArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// AIP-160 filter, e.g. `kind = COUNTRY` or `members:us`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Ordering, e.g. `display_name`.
    #[arg(long)]
    pub order_by: Option<String>,
    /// At most this many partners.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Include soft-deleted partners.
    #[arg(long)]
    pub show_deleted: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// Partner id (`us`) or `tradePartners/{id}`.
    pub partner: String,
    /// Show the partner as it was at this time (RFC 3339).
    #[arg(long)]
    pub read_time: Option<String>,
}

/// Fields settable by flag (agreements, engagements and risks go through -f).
#[derive(Debug, Args, Default)]
pub struct PartnerFlags {
    /// COUNTRY, ECONOMIC_BLOC, FORUM or GROUP (immutable after create).
    #[arg(long)]
    pub kind: Option<String>,
    #[arg(long)]
    pub display_name: Option<String>,
    /// Korean name (only an established official term).
    #[arg(long)]
    pub display_name_ko: Option<String>,
    /// A region slug, e.g. `east-asia`.
    #[arg(long)]
    pub region: Option<String>,
    /// A member partner id (repeat; replaces the list).
    #[arg(long = "member", value_name = "PARTNER")]
    pub members: Vec<String>,
    /// LOW, MEDIUM, HIGH or STRATEGIC.
    #[arg(long)]
    pub priority: Option<String>,
    /// Where the record comes from.
    #[arg(long)]
    pub source: Option<String>,
    /// A label KEY=VALUE (repeat).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The new partner's id (or `id:` in the file).
    pub id: Option<String>,
    /// A YAML or JSON file with one partner (the schema of `seeds/`); flags override it.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: PartnerFlags,
    /// Idempotency key; a retry with the same key returns the original partner.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Check only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Partner id (or `id:` in the file).
    pub id: Option<String>,
    /// A YAML or JSON file with the fields to set (e.g. edited `partners get -o yaml`
    /// output; its `etag` is honoured, output-only fields are ignored). Flags override it.
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: PartnerFlags,
    /// Remove a label (repeat).
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_labels: Vec<String>,
    /// Clear a field (repeat), e.g. `--clear members`.
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
    /// Only update if the partner still has this etag (else exit 4).
    #[arg(long)]
    pub etag: Option<String>,
    /// Create the partner if it does not exist.
    #[arg(long)]
    pub allow_missing: bool,
    /// Check only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Partner id.
    pub partner: String,
    /// Also remove it from the goals that link it and the groups that list it.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub etag: Option<String>,
    /// Succeed when the partner does not exist.
    #[arg(long)]
    pub allow_missing: bool,
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct UndeleteArgs {
    /// Partner id.
    pub partner: String,
    #[arg(long)]
    pub etag: Option<String>,
    #[arg(long)]
    pub validate_only: bool,
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
    /// The year.
    #[arg(long)]
    pub year: i32,
    /// How many of the largest partners the top-N share covers (server default 5).
    #[arg(long)]
    pub top_n: Option<i32>,
    /// Share (0 < t < 1) above which a partner is a dependency risk (server default 0.2).
    #[arg(long)]
    pub threshold: Option<f64>,
}

pub async fn run(ctx: &Ctx, cmd: PartnersCmd) -> CliResult {
    match cmd {
        PartnersCmd::List(a) => list(ctx, a).await,
        PartnersCmd::Get(a) => get(ctx, a).await,
        PartnersCmd::Create(a) => create(ctx, a).await,
        PartnersCmd::Update(a) => update(ctx, a).await,
        PartnersCmd::Delete(a) => delete(ctx, a).await,
        PartnersCmd::Undelete(a) => undelete(ctx, a).await,
        PartnersCmd::Flows(a) => match a.cmd {
            Some(FlowsCmd::Set(s)) => flow_set(ctx, s).await,
            None => flows(ctx, a.partner, a.year).await,
        },
    }
}

async fn list(ctx: &Ctx, a: ListArgs) -> CliResult {
    let page_size = a.limit.map_or(1000, |l| l.clamp(1, 1000)) as i32;
    let stream = ctx.client.list_trade_partners(pb::ListTradePartnersRequest {
        page_size,
        page_token: String::new(),
        filter: a.filter.unwrap_or_default(),
        order_by: a.order_by.unwrap_or_default(),
        show_deleted: a.show_deleted,
    });
    let partners: Vec<pb::TradePartner> = match a.limit {
        Some(l) => stream.take(l).try_collect().await,
        None => stream.try_collect().await,
    }
    .context("listing partners")?;
    let views: Vec<PartnerView> = partners.iter().map(PartnerView::new).collect();
    emit(ctx.format, &views, || {
        let mut t = output::table(&["ID", "KIND", "NAME", "MEMBERS", "LINKED GOALS", "UPDATED"]);
        for v in &views {
            let mut kind = v.record.kind.clone();
            if v.delete_time.is_some() {
                kind.push_str(" (deleted)");
            }
            t.add_row(vec![
                v.record.id.clone(),
                kind,
                v.record.display_name.clone(),
                join(&v.record.members),
                join(&v.linked_goals),
                v.update_time.clone().unwrap_or_default(),
            ]);
        }
        t
    })
}

fn show(ctx: &Ctx, t: &pb::TradePartner) -> CliResult {
    let view = PartnerView::new(t);
    emit(ctx.format, &view, || {
        let r = &view.record;
        let agreements: Vec<String> = r
            .agreements
            .iter()
            .map(|a| format!("{} ({}, {})", a.title, a.kind, a.status))
            .collect();
        let engagements: Vec<String> = r
            .engagements
            .iter()
            .map(|e| {
                let date = e.date.map(|d| format!(", {d}")).unwrap_or_default();
                format!(
                    "{} ({}, {}{date})",
                    e.title,
                    e.kind,
                    e.state.as_deref().unwrap_or_default()
                )
            })
            .collect();
        let risks: Vec<String> = r.risks.iter().map(|k| format!("{}: {}", k.category, k.title)).collect();
        let labels: Vec<String> = r.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        kv_table(&[
            ("name", view.name.clone()),
            ("kind", r.kind.clone()),
            ("display_name", r.display_name.clone()),
            ("display_name_ko", r.display_name_ko.clone()),
            ("region", r.region.clone()),
            ("members", join(&r.members)),
            ("memberships", join(&view.memberships)),
            ("priority", r.priority.clone().unwrap_or_default()),
            ("agreements", agreements.join("\n")),
            ("engagements", engagements.join("\n")),
            ("risks", risks.join("\n")),
            ("linked_goals", join(&view.linked_goals)),
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

async fn get(ctx: &Ctx, a: GetArgs) -> CliResult {
    let name = partner_name(&a.partner);
    let t = match a.read_time {
        Some(t) => {
            let ts = t
                .parse()
                .map_err(|_| CliError::usage(format!("--read-time {t:?} is not an RFC 3339 time")))?;
            ctx.client.get_trade_partner_at(&name, ts).await
        }
        None => ctx.client.get_trade_partner(&name).await,
    }
    .context(format!("getting {name}"))?;
    show(ctx, &t)
}

/// Keys of a partner document that the server sets.
const OUTPUT_ONLY: &[&str] = &[
    "name",
    "memberships",
    "linked_goals",
    "revision",
    "create_time",
    "update_time",
    "delete_time",
    "expire_time",
];

/// A record read from `-f FILE`: the record, the top-level keys present, the etag.
pub struct RecordFile<T> {
    pub record: T,
    pub keys: Vec<String>,
    pub etag: Option<String>,
}

/// Reads one record from a YAML/JSON file: a mapping, or a data file whose `section` holds
/// exactly one record. `output_only` keys (from `get -o yaml`) are dropped.
pub fn read_record_file<T: DeserializeOwned>(
    path: &Path,
    section: &str,
    output_only: &[&str],
) -> CliResult<RecordFile<T>> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    let bad = |e: String| CliError::other(format!("{}: {e}", path.display()));
    let value: serde_norway::Value = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?
    };
    let mut map = match value {
        serde_norway::Value::Mapping(m) => m,
        _ => return Err(bad("expected a mapping with the record's fields".into())),
    };
    if map.len() == 1
        && let Some(serde_norway::Value::Sequence(items)) = map.get(section)
    {
        match items.as_slice() {
            [serde_norway::Value::Mapping(one)] => map = one.clone(),
            _ => {
                return Err(bad(format!(
                    "`{section}:` must hold exactly one record here; use `import` for more"
                )));
            }
        }
    }
    let etag = match map.remove("etag") {
        Some(serde_norway::Value::String(s)) => Some(s),
        Some(_) => return Err(bad("etag: expected a string".into())),
        None => None,
    };
    for k in output_only {
        map.remove(*k);
    }
    let keys: Vec<String> = map.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    if !map.contains_key("id") {
        map.insert("id".into(), serde_norway::Value::String(String::new()));
    }
    let record = serde_norway::from_value(serde_norway::Value::Mapping(map)).map_err(|e| bad(e.to_string()))?;
    Ok(RecordFile { record, keys, etag })
}

/// Applies the flags to `r`; returns the mask paths they set.
fn apply_flags(r: &mut PartnerRecord, f: PartnerFlags) -> Vec<String> {
    let mut mask = Vec::new();
    if let Some(v) = f.kind {
        r.kind = v;
        mask.push("kind".to_owned());
    }
    for (path, value, field) in [
        ("display_name", f.display_name, &mut r.display_name),
        ("display_name_ko", f.display_name_ko, &mut r.display_name_ko),
        ("region", f.region, &mut r.region),
        ("source", f.source, &mut r.source),
    ] {
        if let Some(v) = value {
            *field = v;
            mask.push(path.to_owned());
        }
    }
    if !f.members.is_empty() {
        r.members = f.members;
        mask.push("members".to_owned());
    }
    if let Some(p) = f.priority {
        r.priority = Some(p);
        mask.push("priority".to_owned());
    }
    for (k, v) in f.labels {
        mask.push(format!("labels.{k}"));
        r.labels.insert(k, v);
    }
    mask
}

fn resolve_id(arg: Option<String>, file: &str) -> CliResult<String> {
    match (arg, file) {
        (Some(a), "") => Ok(partner_id(&a).to_owned()),
        (Some(a), f) if partner_id(&a) == partner_id(f) => Ok(partner_id(&a).to_owned()),
        (Some(a), f) => usage(format!("the id {a:?} differs from the file's id {f:?}")),
        (None, "") => usage("give the partner id (or `id:` in the file)"),
        (None, f) => Ok(partner_id(f).to_owned()),
    }
}

fn record_to_pb(r: &PartnerRecord) -> CliResult<pb::TradePartner> {
    r.to_pb().map_err(|problems| CliError::Other {
        message: format!("invalid partner {:?}", r.id),
        details: problems,
    })
}

async fn create(ctx: &Ctx, a: CreateArgs) -> CliResult {
    let mut record: PartnerRecord = match &a.file {
        Some(p) => read_record_file(p, "partners", OUTPUT_ONLY)?.record,
        None => PartnerRecord::default(),
    };
    record.id = resolve_id(a.id, &record.id)?;
    apply_flags(&mut record, a.fields);
    let partner = record_to_pb(&record)?;
    let name = partner_name(&record.id);
    let created = ctx
        .client
        .create_trade_partner(pb::CreateTradePartnerRequest {
            trade_partner_id: record.id.clone(),
            trade_partner: Some(partner),
            request_id: a.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            validate_only: a.validate_only,
        })
        .await
        .context(format!("creating {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} is valid (nothing stored)"));
        return Ok(());
    }
    ctx.note(format!("created {name}"));
    show(ctx, &created)
}

async fn update(ctx: &Ctx, a: UpdateArgs) -> CliResult {
    let (mut record, mut mask, file_etag) = match &a.file {
        Some(p) => {
            let f = read_record_file::<PartnerRecord>(p, "partners", OUTPUT_ONLY)?;
            let mask: Vec<String> = f.keys.iter().filter(|k| k.as_str() != "id").cloned().collect();
            (f.record, mask, f.etag)
        }
        None => (PartnerRecord::default(), Vec::new(), None),
    };
    record.id = resolve_id(a.id, &record.id)?;
    let name = partner_name(&record.id);
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
        if !PARTNER_WRITABLE.contains(&field.as_str()) {
            return usage(format!(
                "--clear {field:?}: not a writable field; one of {}",
                PARTNER_WRITABLE.join(", ")
            ));
        }
        clear_field(&mut record, &field);
        mask.push(field);
    }
    if mask.is_empty() {
        return usage("nothing to update: give fields as flags or in -f FILE");
    }
    let mut partner = record_to_pb(&record)?;
    partner.etag = a.etag.or(file_etag).unwrap_or_default();
    let updated = ctx
        .client
        .update_trade_partner(pb::UpdateTradePartnerRequest {
            trade_partner: Some(partner),
            update_mask: Some(FieldMask { paths: mask }),
            allow_missing: a.allow_missing,
            validate_only: a.validate_only,
        })
        .await
        .context(format!("updating {name}"))?;
    if a.validate_only {
        ctx.note(format!("the update of {name} is valid (nothing stored)"));
        return Ok(());
    }
    ctx.note(format!("updated {name} (revision {})", updated.revision));
    show(ctx, &updated)
}

fn clear_field(r: &mut PartnerRecord, field: &str) {
    match field {
        "display_name" => r.display_name.clear(),
        "display_name_ko" => r.display_name_ko.clear(),
        "region" => r.region.clear(),
        "members" => r.members.clear(),
        "priority" => r.priority = None,
        "agreements" => r.agreements.clear(),
        "engagements" => r.engagements.clear(),
        "risks" => r.risks.clear(),
        "source" => r.source.clear(),
        "labels" => r.labels.clear(),
        _ => {}
    }
}

async fn delete(ctx: &Ctx, a: DeleteArgs) -> CliResult {
    let name = partner_name(&a.partner);
    let t = ctx
        .client
        .delete_trade_partner(pb::DeleteTradePartnerRequest {
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
    if t.name.is_empty() {
        ctx.note(format!("{name} does not exist"));
        return Ok(());
    }
    ctx.note(format!(
        "deleted {name}; it can be undeleted until {}",
        records::ts(t.expire_time.as_ref()).unwrap_or_default()
    ));
    show(ctx, &t)
}

async fn undelete(ctx: &Ctx, a: UndeleteArgs) -> CliResult {
    let name = partner_name(&a.partner);
    let t = ctx
        .client
        .undelete_trade_partner(pb::UndeleteTradePartnerRequest {
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
    show(ctx, &t)
}

fn usd(v: i64) -> String {
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
    let flows: Vec<pb::TradeFlow> = ctx
        .client
        .list_trade_flows(pb::ListTradeFlowsRequest {
            parent: parent.clone(),
            year: year.unwrap_or(0),
            page_size: 1000,
            page_token: String::new(),
        })
        .try_collect()
        .await
        .context(format!("listing the trade flows of {parent}"))?;
    let views: Vec<FlowView> = flows.iter().map(FlowView::new).collect();
    emit(ctx.format, &views, || {
        let mut t = output::table(&["PARTNER", "YEAR", "EXPORTS USD", "IMPORTS USD", "ESTIMATED", "SOURCE"]);
        for v in &views {
            t.add_row(vec![
                v.record.partner.clone(),
                v.record.year.to_string(),
                usd(v.record.exports_usd),
                usd(v.record.imports_usd),
                if v.record.estimated { "yes" } else { "" }.to_owned(),
                v.record.source.clone(),
            ]);
        }
        t
    })
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

pub async fn concentration(ctx: &Ctx, a: ConcentrationArgs) -> CliResult {
    let c = ctx
        .client
        .get_export_concentration(pb::GetExportConcentrationRequest {
            year: a.year,
            top_n: a.top_n.unwrap_or(0),
            dependency_threshold: a.threshold,
        })
        .await
        .context(format!("getting the export concentration of {}", a.year))?;
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
                    t.add_row(vec![
                        s.partner.clone(),
                        s.display_name.clone(),
                        usd(s.exports_usd),
                        pct(s.share),
                        if s.dependency_risk { "yes" } else { "" }.to_owned(),
                    ]);
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
