//! The commands every kind of resource has (`list`, `get`, `create`, `update`, `delete`,
//! `undelete`, `history`), written once over [`Kind`].

use std::{
    marker::PhantomData,
    path::{Path, PathBuf},
};

use clap::{Args, Subcommand};
use serde::Serialize;
use serde_norway::{Mapping, Value};

use super::{Ctx, feed, page_size};
use crate::{
    error::{CliError, CliResult, Context},
    kind::{DeleteOpts, Kind},
    output::{self, emit, kv_table},
    records::STAMP_KEYS,
    usage,
};

/// The standard subcommands of every kind of resource (flattened into `goals …`,
/// `partners …`); `F` are the kind's field flags.
#[derive(Debug, Subcommand)]
pub enum StandardCmd<F: Args> {
    /// Lists them (every page; --limit to stop early).
    List(ListArgs),
    /// Shows one, by id or resource name.
    Get(GetArgs),
    /// Creates one from flags or from a file (-f).
    Create(CreateArgs<F>),
    /// Changes the given fields of one (only those: they are the update mask).
    Update(UpdateArgs<F>),
    /// Soft-deletes one (see --force; undelete until it expires).
    Delete(DeleteArgs),
    /// Restores a soft-deleted one.
    Undelete(UndeleteArgs),
    /// The change history of one.
    History(HistoryArgs),
}

/// Runs a standard subcommand for kind `K`.
pub async fn run<K: Kind, F: Args + Serialize>(ctx: &Ctx, cmd: StandardCmd<F>) -> CliResult {
    match cmd {
        StandardCmd::List(a) => list::<K>(ctx, a).await,
        StandardCmd::Get(a) => get::<K>(ctx, a).await,
        StandardCmd::Create(a) => create::<K, F>(ctx, a).await,
        StandardCmd::Update(a) => update::<K, F>(ctx, a).await,
        StandardCmd::Delete(a) => delete::<K>(ctx, a).await,
        StandardCmd::Undelete(a) => undelete::<K>(ctx, a).await,
        StandardCmd::History(a) => history::<K>(ctx, a).await,
    }
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// AIP-160 filter, e.g. `state = ACTIVE AND sectors:semiconductors` or `kind = COUNTRY`.
    #[arg(long)]
    pub filter: Option<String>,
    /// Ordering, e.g. `update_time desc, title`.
    #[arg(long)]
    pub order_by: Option<String>,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Include soft-deleted ones.
    #[arg(long)]
    pub show_deleted: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    /// The id (`manufacturing-ax`, `us`) or the resource name (`policyGoals/…`).
    pub id: String,
    /// Show it as it was at this time (RFC 3339).
    #[arg(long)]
    pub read_time: Option<String>,
}

#[derive(Debug, Args)]
pub struct CreateArgs<F: Args> {
    #[command(flatten)]
    pub input: RecordInput<F, CreateHelp>,
    /// Idempotency key; a retry with the same key returns the original.
    #[arg(long)]
    pub request_id: Option<String>,
    /// Check only; store nothing.
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs<F: Args> {
    #[command(flatten)]
    pub input: RecordInput<F, UpdateHelp>,
    /// Remove a label (repeat).
    #[arg(long = "remove-label", value_name = "KEY")]
    pub remove_labels: Vec<String>,
    /// Clear a field (repeat), e.g. `--clear sectors --clear description`.
    #[arg(long = "clear", value_name = "FIELD")]
    pub clear: Vec<String>,
    #[command(flatten)]
    pub write: WriteOpts<UpdateHelp>,
}

/// What `create` and `update` make the record of: an id, a file and the field flags `F`
/// (see [`RecordInput::read`]); their help is `H`'s.
#[derive(Debug, Args)]
pub struct RecordInput<F: Args, H: InputHelp> {
    #[arg(help = H::ID)]
    pub id: Option<String>,
    #[arg(short = 'f', long = "file", help = H::FILE)]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub fields: F,
    #[arg(skip)]
    help: PhantomData<H>,
}

/// The help lines of [`RecordInput`]'s id and file in one command.
pub trait InputHelp: std::fmt::Debug + 'static {
    const ID: &'static str;
    const FILE: &'static str;
}

/// `create`'s.
#[derive(Debug)]
pub struct CreateHelp;

impl InputHelp for CreateHelp {
    const ID: &'static str = "The new id (or `id:` in the file)";
    const FILE: &'static str =
        "A YAML or JSON file with one record (the schema of `seeds/`); flags override its fields";
}

impl InputHelp for UpdateHelp {
    const ID: &'static str = "The id (or `id:` in the file)";
    const FILE: &'static str = "A YAML or JSON file with the fields to set (e.g. edited `get -o yaml` output; its \
        `etag` is honoured, output-only fields are ignored). Flags override it";
}

/// The options an update and a delete request share: the etag precondition, what to do when
/// the resource does not exist, and a dry run; their help is `H`'s.
#[derive(Debug, Args)]
pub struct WriteOpts<H: WriteHelp> {
    #[arg(long, help = H::ETAG)]
    pub etag: Option<String>,
    #[arg(long, help = H::ALLOW_MISSING)]
    pub allow_missing: bool,
    #[arg(long, help = H::VALIDATE_ONLY)]
    pub validate_only: bool,
    #[arg(skip)]
    help: PhantomData<H>,
}

/// The help lines of [`WriteOpts`]' flags in one command (`None`: no help line).
pub trait WriteHelp: std::fmt::Debug + 'static {
    const ETAG: Option<&'static str>;
    const ALLOW_MISSING: &'static str;
    const VALIDATE_ONLY: Option<&'static str>;
}

/// `update`'s (also for [`InputHelp`]).
#[derive(Debug)]
pub struct UpdateHelp;

impl WriteHelp for UpdateHelp {
    const ETAG: Option<&'static str> = Some("Only update if it still has this etag (else exit 4)");
    const ALLOW_MISSING: &'static str = "Create it if it does not exist";
    const VALIDATE_ONLY: Option<&'static str> = Some("Check only; store nothing");
}

/// `delete`'s.
#[derive(Debug)]
pub struct DeleteHelp;

impl WriteHelp for DeleteHelp {
    const ETAG: Option<&'static str> = None;
    const ALLOW_MISSING: &'static str = "Succeed when it does not exist";
    const VALIDATE_ONLY: Option<&'static str> = None;
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The id.
    pub id: String,
    /// Also delete a goal's live descendants; remove a partner from the goals that link it
    /// and the groups that list it.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub write: WriteOpts<DeleteHelp>,
}

#[derive(Debug, Args)]
pub struct UndeleteArgs {
    /// The id.
    pub id: String,
    #[arg(long)]
    pub etag: Option<String>,
    #[arg(long)]
    pub validate_only: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The id.
    pub id: String,
    #[command(flatten)]
    pub opts: feed::HistoryOpts,
}

pub async fn list<K: Kind>(ctx: &Ctx, a: ListArgs) -> CliResult {
    let req = K::list_request(
        a.filter.unwrap_or_default(),
        a.order_by.unwrap_or_default(),
        page_size(a.limit),
        a.show_deleted,
    );
    let found = ctx.list_all(req, a.limit, format!("listing {}", K::PLURAL)).await?;
    let views: Vec<K::View> = found.iter().map(K::view).collect();
    output::emit_list(ctx.format, &views, K::COLUMNS, K::row)
}

/// Prints one resource.
pub fn show<K: Kind>(ctx: &Ctx, p: &K::Pb) -> CliResult {
    let view = K::view(p);
    emit(ctx.format, &view, || {
        let mut rows = K::table_rows(&view);
        rows.extend(K::stamp(&view).rows().map(|(k, v)| (k.to_owned(), v)));
        let rows: Vec<(&str, String)> = rows.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        kv_table(&rows)
    })
}

/// The time of a `--read-time` flag (RFC 3339).
pub fn read_time(flag: Option<&str>) -> CliResult<Option<registry_client::prost_types::Timestamp>> {
    flag.map(|t| {
        t.parse()
            .map_err(|_| CliError::usage(format!("--read-time {t:?} is not an RFC 3339 time")))
    })
    .transpose()
}

pub async fn get<K: Kind>(ctx: &Ctx, a: GetArgs) -> CliResult {
    let name = K::name_of(&a.id);
    let read_time = read_time(a.read_time.as_deref())?;
    let p = K::get(&ctx.client, name.clone(), read_time)
        .await
        .context(format!("getting {name}"))?;
    show::<K>(ctx, &p)
}

/// A record read from `-f FILE`: the record, the top-level keys present, the etag.
pub struct RecordFile<T> {
    pub record: T,
    pub keys: Vec<String>,
    pub etag: Option<String>,
}

/// Reads one record from a YAML/JSON file: a mapping, or a data file whose section holds
/// exactly one record. Output-only keys (from `get -o yaml`) are dropped.
pub fn read_record_file<K: Kind>(path: &Path) -> CliResult<RecordFile<K::Record>> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    let bad = |e: String| CliError::other(format!("{}: {e}", path.display()));
    let value: Value = if path.extension().and_then(|e| e.to_str()) == Some("json") {
        serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?
    } else {
        serde_norway::from_str(&text).map_err(|e| bad(e.to_string()))?
    };
    let Value::Mapping(mut map) = value else {
        return Err(bad(format!("expected a mapping with the {}'s fields", K::NOUN)));
    };
    if map.len() == 1
        && let Some(Value::Sequence(items)) = map.get(K::PLURAL)
    {
        match items.as_slice() {
            [Value::Mapping(one)] => map = one.clone(),
            _ => {
                return Err(bad(format!(
                    "`{}:` must hold exactly one {} here; use `import` for more",
                    K::PLURAL,
                    K::NOUN
                )));
            }
        }
    }
    let etag = match map.remove("etag") {
        Some(Value::String(s)) => Some(s),
        Some(_) => return Err(bad("etag: expected a string".into())),
        None => None,
    };
    for k in K::OUTPUT_ONLY.iter().chain(STAMP_KEYS) {
        map.remove(*k);
    }
    let keys: Vec<String> = map.keys().filter_map(|k| k.as_str().map(str::to_owned)).collect();
    if !map.contains_key("id") {
        map.insert("id".into(), Value::String(String::new()));
    }
    let record = serde_norway::from_value(Value::Mapping(map)).map_err(|e| bad(e.to_string()))?;
    Ok(RecordFile { record, keys, etag })
}

fn as_mapping<T: Serialize>(v: &T) -> CliResult<Mapping> {
    match serde_norway::to_value(v) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(CliError::other("a record is not a mapping")),
        Err(e) => Err(CliError::other(format!("cannot convert a record: {e}"))),
    }
}

fn from_mapping<R: serde::de::DeserializeOwned>(m: Mapping) -> CliResult<R> {
    serde_norway::from_value(Value::Mapping(m)).map_err(|e| CliError::other(format!("invalid record: {e}")))
}

/// Sets the fields the flags give on `r` (flags are named as the record's fields; an absent
/// or empty flag sets nothing; `labels` are added one by one); returns their mask paths.
fn apply_flags<K: Kind, F: Serialize>(r: &mut K::Record, flags: &F) -> CliResult<Vec<String>> {
    let mut record = as_mapping(r)?;
    let mut mask = Vec::new();
    for (key, value) in as_mapping(flags)? {
        let Some(field) = key.as_str().map(str::to_owned) else {
            continue;
        };
        match value {
            Value::Null => {}
            Value::Sequence(items) if items.is_empty() => {}
            Value::Sequence(pairs) if field == "labels" => {
                let labels = record.entry(key).or_insert_with(|| Value::Mapping(Mapping::new()));
                for pair in pairs {
                    if let (Value::Mapping(labels), Value::Sequence(kv)) = (&mut *labels, pair)
                        && let [Value::String(k), v] = kv.as_slice()
                    {
                        mask.push(format!("labels.{k}"));
                        labels.insert(Value::String(k.clone()), v.clone());
                    }
                }
            }
            value => {
                record.insert(key, value);
                mask.push(field);
            }
        }
    }
    *r = from_mapping(record)?;
    Ok(mask)
}

/// Empties `field` of `r` (a field the record does not hold is cleared by the server alone).
fn clear_field<K: Kind>(r: &mut K::Record, field: &str) -> CliResult {
    let mut record = as_mapping(r)?;
    record.remove(field);
    *r = from_mapping(record)?;
    Ok(())
}

fn resolve_id<K: Kind>(arg: Option<String>, file: &str) -> CliResult<String> {
    match (arg, file) {
        (Some(a), "") => Ok(K::id_of(&a).to_owned()),
        (Some(a), f) if K::id_of(&a) == K::id_of(f) => Ok(K::id_of(&a).to_owned()),
        (Some(a), f) => usage(format!("the id {a:?} differs from the file's id {f:?}")),
        (None, "") => usage(format!("give the {} id (or `id:` in the file)", K::NOUN)),
        (None, f) => Ok(K::id_of(f).to_owned()),
    }
}

fn record_to_pb<K: Kind>(r: &K::Record) -> CliResult<K::Pb> {
    K::to_pb(r).map_err(|problems| CliError::Other {
        message: format!("invalid {} {:?}", K::NOUN, K::record_id(r)),
        details: problems,
    })
}

/// Moves what was written to the lifecycle state the record asks for, if it is elsewhere.
async fn settle<K: Kind>(ctx: &Ctx, name: &str, wanted: Option<(i32, i32)>, written: K::Pb) -> CliResult<K::Pb> {
    match wanted {
        Some(w) if w != K::state_of(&written) => {
            K::reach_state(&ctx.client, name, w)
                .await
                .context(format!("setting the state of {name}"))?;
            K::get(&ctx.client, name.to_owned(), None)
                .await
                .context(format!("getting {name}"))
        }
        _ => Ok(written),
    }
}

/// A record read from [`RecordInput`].
struct Input<R> {
    record: R,
    id: String,
    /// Update-mask paths: the file's keys (but [`Kind::NOT_IN_MASK`]), then the flags'.
    mask: Vec<String>,
    /// The file's etag.
    etag: Option<String>,
}

impl<F: Args + Serialize, H: InputHelp> RecordInput<F, H> {
    /// The record: the file's (or an empty one) with the id and the flags set.
    fn read<K: Kind>(self) -> CliResult<Input<K::Record>> {
        let (mut record, mut mask, etag) = match &self.file {
            Some(p) => {
                let f = read_record_file::<K>(p)?;
                let mask: Vec<String> = f
                    .keys
                    .into_iter()
                    .filter(|k| !K::NOT_IN_MASK.contains(&k.as_str()))
                    .collect();
                (f.record, mask, f.etag)
            }
            None => (K::Record::default(), Vec::new(), None),
        };
        let id = resolve_id::<K>(self.id, K::record_id(&record))?;
        K::set_record_id(&mut record, id.clone());
        for p in apply_flags::<K, F>(&mut record, &self.fields)? {
            if !mask.contains(&p) {
                mask.push(p);
            }
        }
        Ok(Input { record, id, mask, etag })
    }
}

pub async fn create<K: Kind, F: Args + Serialize>(ctx: &Ctx, a: CreateArgs<F>) -> CliResult {
    let Input { record, id, .. } = a.input.read::<K>()?;
    let wanted = K::wanted_state(&record).map_err(CliError::other)?;
    let resource = record_to_pb::<K>(&record)?;
    let name = K::name_of(&id);
    let request_id = a.request_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let created = K::create(&ctx.client, id, resource, request_id, a.validate_only)
        .await
        .context(format!("creating {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} is valid (nothing stored)"));
        return Ok(());
    }
    let created = settle::<K>(ctx, &name, wanted, created).await?;
    ctx.note(format!("created {name}"));
    show::<K>(ctx, &created)
}

pub async fn update<K: Kind, F: Args + Serialize>(ctx: &Ctx, a: UpdateArgs<F>) -> CliResult {
    let Input {
        mut record,
        id,
        mut mask,
        etag: file_etag,
    } = a.input.read::<K>()?;
    let name = K::name_of(&id);
    if !a.remove_labels.is_empty() {
        let mut labels = as_mapping(&record)?;
        if let Some(Value::Mapping(l)) = labels.get_mut("labels") {
            for k in &a.remove_labels {
                l.remove(k.as_str());
            }
        }
        record = from_mapping(labels)?;
        mask.extend(a.remove_labels.iter().map(|k| format!("labels.{k}")));
    }
    let writable = K::writable();
    for field in a.clear {
        if !writable.contains(&field) {
            return usage(format!(
                "--clear {field:?}: not a writable field; one of {}",
                writable.join(", ")
            ));
        }
        clear_field::<K>(&mut record, &field)?;
        mask.push(field);
    }
    let wanted = K::wanted_state(&record).map_err(CliError::other)?;
    if mask.is_empty() && wanted.is_none() {
        return usage("nothing to update: give fields as flags or in -f FILE");
    }
    let mut resource = record_to_pb::<K>(&record)?;
    let w = a.write;
    K::set_etag(&mut resource, w.etag.or(file_etag).unwrap_or_default());
    let updated = if mask.is_empty() {
        K::get(&ctx.client, name.clone(), None)
            .await
            .context(format!("getting {name}"))?
    } else {
        K::update(&ctx.client, resource, mask, w.allow_missing, w.validate_only)
            .await
            .context(format!("updating {name}"))?
    };
    if w.validate_only {
        ctx.note(format!("the update of {name} is valid (nothing stored)"));
        return Ok(());
    }
    let updated = settle::<K>(ctx, &name, wanted, updated).await?;
    let view = K::view(&updated);
    ctx.note(format!("updated {name} (revision {})", K::stamp(&view).revision));
    show::<K>(ctx, &updated)
}

pub async fn delete<K: Kind>(ctx: &Ctx, a: DeleteArgs) -> CliResult {
    let name = K::name_of(&a.id);
    let w = a.write;
    let opts = DeleteOpts {
        force: a.force,
        allow_missing: w.allow_missing,
        validate_only: w.validate_only,
    };
    let p = K::delete(&ctx.client, name.clone(), w.etag.unwrap_or_default(), opts)
        .await
        .context(format!("deleting {name}"))?;
    if w.validate_only {
        ctx.note(format!("{name} can be deleted (nothing changed)"));
        return Ok(());
    }
    if K::pb_name(&p).is_empty() {
        ctx.note(format!("{name} does not exist"));
        return Ok(());
    }
    let view = K::view(&p);
    ctx.note(format!(
        "deleted {name}; it can be undeleted until {}",
        K::stamp(&view).expire_time.clone().unwrap_or_default()
    ));
    show::<K>(ctx, &p)
}

pub async fn undelete<K: Kind>(ctx: &Ctx, a: UndeleteArgs) -> CliResult {
    let name = K::name_of(&a.id);
    let p = K::undelete(&ctx.client, name.clone(), a.etag.unwrap_or_default(), a.validate_only)
        .await
        .context(format!("undeleting {name}"))?;
    if a.validate_only {
        ctx.note(format!("{name} can be undeleted (nothing changed)"));
        return Ok(());
    }
    ctx.note(format!("undeleted {name}"));
    show::<K>(ctx, &p)
}

pub async fn history<K: Kind>(ctx: &Ctx, a: HistoryArgs) -> CliResult {
    feed::history_of(ctx, K::name_of(&a.id), a.opts).await
}
