//! `import` and `export`: idempotent upserts of data files, and files that import back.
//!
//! Each kind of resource implements [`Resource`]; `import` runs the same steps for every kind,
//! kinds in dependency order: product sets, partners (members before the groups that list
//! them), then agreements (their parties are partners), then the partners whose engagements
//! follow up an agreement this import creates (written first without that reference), then
//! trade flows, then goals (parents before children; goals link partners and product sets),
//! then risks (they link goals, partners and product sets), then check-ins (append-only: a
//! stored one is left alone if the file says the same, refused if it says otherwise):
//!
//! 1. read and parse every file (stop at the first syntax/schema error, with file and line);
//! 2. check every record locally: ids, enum names, duplicates, references, cycles;
//! 3. read what the registry holds and classify each record: create, update, unchanged;
//! 4. validate every create/update on the server with `validate_only` (nothing is written
//!    while any record is invalid; the first invalid one is reported with file and line);
//! 5. unless `--dry-run`, write them, parents before children, each record its own write;
//!    records whose dependencies are written are written concurrently (steps 4 and 5 keep
//!    up to 32 requests in flight).
//!
//! A failure in step 5 (e.g. a concurrent change) stops there: no new write starts, those in
//! flight finish, records already written stay written (the error says how many), and
//! because import is idempotent, running it again finishes the job.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    io::IsTerminal,
    path::{Path, PathBuf},
};

use futures::{StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressStyle};
use registry_client::{Error as ApiError, RegistryClient, pb};
use serde::Serialize;

use crate::{
    error::{CliError, CliResult, describe, violation_lines},
    kind::{Agreements, Goals, Kind, Partners, ProductSets, Risks, reach_state},
    product_sets::ProductSetRecord,
    records::{
        AgreementRecord, CheckInRecord, DataFile, FlowRecord, GoalRecord, PARTNERS, PartnerRecord, RiskEntryRecord,
        agreement_id, goal_id, goal_name, parse_enum, partner_id, partner_name,
    },
};

/// What the registry holds for one record.
#[derive(Debug, Clone)]
pub struct Stored<R> {
    pub record: R,
    pub etag: String,
    pub deleted: bool,
}

/// Where a record comes from, for messages.
#[derive(Debug, Clone)]
pub struct Origin {
    pub file: PathBuf,
    pub line: Option<usize>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file.display()),
            None => write!(f, "{}", self.file.display()),
        }
    }
}

/// One record to import.
#[derive(Debug, Clone)]
pub struct Item<R> {
    pub record: R,
    pub origin: Origin,
}

/// What import does with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Update,
    Unchanged,
}

/// Requests `import` keeps in flight (validations, then the writes of one wave).
const IMPORT_CONCURRENCY: usize = 32;
/// New records per batch create (the server's limit).
const IMPORT_BATCH: usize = 1000;
/// Bytes of records (as JSON) per batch create.
const IMPORT_BATCH_BYTES: usize = 2 << 20;

/// A kind of resource that `import` and `export` handle.
#[allow(async_fn_in_trait)]
pub trait Resource {
    /// Section of [`DataFile`] and name of the exported file (`goals` → `goals.yaml`).
    const SECTION: &'static str;
    /// For messages: `goal`.
    const NOUN: &'static str;
    type Record: Clone + PartialEq + Serialize + std::fmt::Debug;

    fn take(file: &mut DataFile) -> Vec<Self::Record>;
    fn put(file: &mut DataFile, records: Vec<Self::Record>);
    fn id(r: &Self::Record) -> &str;
    /// The resource name of the record with `id` (`tradePartners/us`).
    fn name(id: &str) -> String;
    /// Ids of records of the same kind that must exist before this one (a goal's parent);
    /// none by default.
    fn deps(_r: &Self::Record) -> Vec<String> {
        Vec::new()
    }
    /// Local checks (every problem, not just the first).
    fn check(r: &Self::Record) -> Result<(), Vec<String>>;
    /// True when writing `file` over `stored` would change nothing.
    fn same(file: &Self::Record, stored: &Self::Record) -> bool;
    /// The stored records (soft-deleted ones too), by id: every one, or (`wanted`) at least
    /// those with these ids and what their checks need (a kind may return more).
    async fn stored(
        client: &RegistryClient,
        wanted: Option<&[String]>,
    ) -> Result<HashMap<String, Stored<Self::Record>>, ApiError>;
    /// Validates the write with `validate_only`. `ctx.pending` holds the ids of this kind that
    /// the import will create or undelete before this record; the stored record, if any, is
    /// [`ValidateCtx::stored_of`].
    async fn validate(
        client: &RegistryClient,
        r: &Self::Record,
        ctx: &ValidateCtx<'_, Self::Record>,
    ) -> Result<(), ApiError>;
    /// Writes the record.
    async fn apply(
        client: &RegistryClient,
        r: &Self::Record,
        stored: Option<&Stored<Self::Record>>,
    ) -> Result<(), ApiError>;
    /// Creates several new records in one all-or-nothing request (parents may come earlier in
    /// `records`); with `ctx`, validates only (`validate_only`). `None`: the kind has no batch
    /// create, or these records cannot use it; they are written one by one.
    async fn create_batch(
        _client: &RegistryClient,
        _records: &[&Self::Record],
        _ctx: Option<&ValidateCtx<'_, Self::Record>>,
    ) -> Option<Result<(), ApiError>> {
        None
    }
    /// Whether `create_batch` takes this new record.
    fn batchable(_r: &Self::Record) -> bool {
        false
    }
    /// Orders records for export so that import can write them in that order; by id by
    /// default.
    fn export_order(mut records: Vec<Self::Record>) -> Vec<Self::Record> {
        records.sort_by(|a, b| Self::id(a).cmp(Self::id(b)));
        records
    }
}

/// What validation of one record may consult.
pub struct ValidateCtx<'a, R> {
    /// Records of this import, by id.
    pub batch: &'a HashMap<String, R>,
    /// Stored records, by id.
    pub stored: &'a HashMap<String, Stored<R>>,
    /// Ids that are not live in the registry before the import writes them.
    pub pending: &'a HashSet<String>,
    /// Resource names of other kinds that this import creates but has not written (a dry
    /// run): references to them cannot be checked by the server yet.
    pub earlier: &'a HashSet<String>,
}

impl<R> ValidateCtx<'_, R> {
    /// The stored record with `id` (soft-deleted too), if any.
    pub fn stored_of(&self, id: &str) -> Option<&Stored<R>> {
        self.stored.get(id)
    }
}

/// Counts of one import.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Summary {
    fn add(&mut self, a: Action) {
        match a {
            Action::Create => self.created += 1,
            Action::Update => self.updated += 1,
            Action::Unchanged => self.unchanged += 1,
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} unchanged",
            self.created, self.updated, self.unchanged
        )
    }
}

/// The data files under `path` (a file, or a directory searched recursively for
/// `*.yaml`, `*.yml` and `*.json`), sorted by path.
pub fn data_files(path: &Path) -> CliResult<Vec<PathBuf>> {
    let meta = std::fs::metadata(path).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut dirs = vec![path.to_owned()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| CliError::other(format!("{}: {e}", dir.display())))?;
        for entry in entries {
            let p = entry
                .map_err(|e| CliError::other(format!("{}: {e}", dir.display())))?
                .path();
            if p.is_dir() {
                dirs.push(p);
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json")) {
                out.push(p);
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(CliError::other(format!(
            "{}: no *.yaml, *.yml or *.json files",
            path.display()
        )));
    }
    Ok(out)
}

fn is_json(p: &Path) -> bool {
    p.extension().and_then(|e| e.to_str()) == Some("json")
}

/// Parses one data file.
pub fn parse_file(path: &Path) -> CliResult<(String, DataFile)> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    let parsed = if is_json(path) {
        serde_json::from_str::<DataFile>(&text)
            .map_err(|e| format!("{}:{}:{}: {e}", path.display(), e.line(), e.column()))
    } else if text.trim().is_empty() {
        Ok(DataFile::default())
    } else {
        serde_norway::from_str::<DataFile>(&text).map_err(|e| match e.location() {
            Some(l) => format!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
            None => format!("{}: {e}", path.display()),
        })
    };
    parsed.map(|f| (text, f)).map_err(CliError::other)
}

/// The 1-based line where the record with `id` starts (`- id: x`, `id: "x"`, `"id": "x"`).
pub fn line_of(text: &str, id: &str) -> Option<usize> {
    id_lines(text).get(id).copied()
}

/// The 1-based line where each record starts, by id (the first line naming it): one pass
/// over the text, however many records it holds.
pub fn id_lines(text: &str) -> HashMap<&str, usize> {
    let mut lines = HashMap::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim_start().trim_start_matches("- ").trim_start();
        let Some(rest) = l
            .strip_prefix("\"id\"")
            .or_else(|| l.strip_prefix("id"))
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix(':'))
        else {
            continue;
        };
        let id = rest
            .trim()
            .trim_end_matches(',')
            .trim_matches(|c| c == '"' || c == '\'');
        lines.entry(id).or_insert(i + 1);
    }
    lines
}

/// Options of one import.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub quiet: bool,
}

/// Reads and parses the data files under `paths` (see [`data_files`]).
pub fn read_files(paths: &[PathBuf]) -> CliResult<Vec<(PathBuf, String, DataFile)>> {
    let mut files = Vec::new();
    for p in paths {
        for f in data_files(p)? {
            let (text, data) = parse_file(&f)?;
            files.push((f, text, data));
        }
    }
    Ok(files)
}

/// One value per kind of a data file, in the order of import (and of a data file's
/// sections): product sets, partners, agreements, trade flows, goals, risks, check-ins.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct PerKind<T> {
    pub product_sets: T,
    pub partners: T,
    pub agreements: T,
    pub trade_flows: T,
    pub goals: T,
    pub risks: T,
    pub check_ins: T,
}

impl<T> PerKind<T> {
    /// Each kind's section name and value, in order.
    pub fn sections(&self) -> [(&'static str, &T); 7] {
        [
            (ProductSets::SECTION, &self.product_sets),
            (Partners::SECTION, &self.partners),
            (Agreements::SECTION, &self.agreements),
            (Flows::SECTION, &self.trade_flows),
            (Goals::SECTION, &self.goals),
            (Risks::SECTION, &self.risks),
            (CheckIns::SECTION, &self.check_ins),
        ]
    }
}

/// Exports every kind to `dir` (`{section}.yaml` each); the records written, by kind.
pub async fn export_all(client: &RegistryClient, dir: &Path) -> CliResult<PerKind<usize>> {
    Ok(PerKind {
        product_sets: export::<ProductSets>(client, dir).await?,
        partners: export::<Partners>(client, dir).await?,
        agreements: export::<Agreements>(client, dir).await?,
        trade_flows: export::<Flows>(client, dir).await?,
        goals: export::<Goals>(client, dir).await?,
        risks: export::<Risks>(client, dir).await?,
        check_ins: export::<CheckIns>(client, dir).await?,
    })
}

/// Counts of one import, by kind.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    pub dry_run: bool,
    #[serde(flatten)]
    pub kinds: PerKind<Summary>,
    pub total: Summary,
}

/// Imports every kind in dependency order: product sets, partners, agreements, trade flows,
/// goals, risks, check-ins.
pub async fn import_all(
    client: &RegistryClient,
    mut files: Vec<(PathBuf, String, DataFile)>,
    opts: ImportOptions,
) -> CliResult<ImportReport> {
    let product_sets = collect::<ProductSets>(&mut files);
    let mut partners = collect::<Partners>(&mut files);
    let agreements = collect::<Agreements>(&mut files);
    let flows = collect::<Flows>(&mut files);
    let goals = collect::<Goals>(&mut files);
    let risks = collect::<Risks>(&mut files);
    let check_ins = collect::<CheckIns>(&mut files);
    let mut earlier = HashSet::new();
    // Engagements that follow up an agreement not live yet are written without the
    // reference first, and completed once the agreements are written.
    let live_agreements: HashSet<String> = stored_all::<Agreements>(client)
        .await
        .map_err(|e| CliError::Api {
            context: "reading the agreements".into(),
            error: e,
        })?
        .into_iter()
        .filter(|(_, s)| !s.deleted)
        .map(|(id, _)| id)
        .collect();
    let mut completed = Vec::new();
    for item in &mut partners {
        let full = item.clone();
        let mut stripped = false;
        for e in &mut item.record.engagements {
            if e.agreement
                .as_deref()
                .is_some_and(|a| !live_agreements.contains(agreement_id(a)))
            {
                e.agreement = None;
                stripped = true;
            }
        }
        if stripped {
            completed.push(full);
        }
    }
    let product_sets = import::<ProductSets>(client, product_sets, opts, &mut earlier).await?;
    let partners = import::<Partners>(client, partners, opts, &mut earlier).await?;
    let agreements = import::<Agreements>(client, agreements, opts, &mut earlier).await?;
    if !opts.dry_run && !completed.is_empty() {
        // Counted once, with the first pass.
        import::<Partners>(client, completed, opts, &mut HashSet::new()).await?;
    }
    let trade_flows = import::<Flows>(client, flows, opts, &mut earlier).await?;
    let goals = import::<Goals>(client, goals, opts, &mut earlier).await?;
    let risks = import::<Risks>(client, risks, opts, &mut earlier).await?;
    let check_ins = import::<CheckIns>(client, check_ins, opts, &mut earlier).await?;
    let kinds = PerKind {
        product_sets,
        partners,
        agreements,
        trade_flows,
        goals,
        risks,
        check_ins,
    };
    let total = kinds.sections().iter().fold(Summary::default(), |t, (_, k)| Summary {
        created: t.created + k.created,
        updated: t.updated + k.updated,
        unchanged: t.unchanged + k.unchanged,
    });
    Ok(ImportReport {
        dry_run: opts.dry_run,
        kinds,
        total,
    })
}

/// Loads every record of kind `K` from the parsed files.
pub fn collect<K: Resource>(files: &mut [(PathBuf, String, DataFile)]) -> Vec<Item<K::Record>> {
    let mut items = Vec::new();
    for (path, text, data) in files.iter_mut() {
        let lines = id_lines(text);
        for record in K::take(data) {
            let line = lines.get(K::id(&record)).copied();
            items.push(Item {
                record,
                origin: Origin {
                    file: path.clone(),
                    line,
                },
            });
        }
    }
    items
}

fn record_error(origin: &Origin, noun: &str, id: &str, message: impl Into<String>, details: Vec<String>) -> CliError {
    CliError::Other {
        message: format!("{origin}: {noun} {id:?}: {}", message.into()),
        details,
    }
}

fn api_record_error(origin: &Origin, noun: &str, id: &str, e: &ApiError) -> CliError {
    let details = violation_lines(e)
        .into_iter()
        .map(|l| l.trim_start_matches("  - ").to_owned())
        .collect();
    record_error(origin, noun, id, describe(e), details)
}

/// Imports the records of kind `K`; returns the counts.
///
/// `earlier` holds the resource names that kinds imported before this one would have created
/// in a dry run (nothing is written then); this kind's are added to it.
pub async fn import<K: Resource>(
    client: &RegistryClient,
    items: Vec<Item<K::Record>>,
    opts: ImportOptions,
    earlier: &mut HashSet<String>,
) -> CliResult<Summary> {
    // Local checks, duplicates.
    let mut by_id: HashMap<String, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let id = K::id(&item.record);
        if let Err(problems) = K::check(&item.record) {
            return Err(record_error(&item.origin, K::NOUN, id, "invalid", problems));
        }
        if let Some(&first) = by_id.get(id) {
            return Err(record_error(
                &item.origin,
                K::NOUN,
                id,
                format!("duplicate; first defined at {}", items[first].origin),
                Vec::new(),
            ));
        }
        by_id.insert(id.to_owned(), i);
    }
    let wanted: Vec<String> = items
        .iter()
        .flat_map(|it| K::deps(&it.record).into_iter().chain([K::id(&it.record).to_owned()]))
        .collect();
    let stored = K::stored(client, Some(&wanted)).await.map_err(|e| CliError::Api {
        context: format!("reading the stored {}s", K::NOUN),
        error: e,
    })?;

    // Dependency order (a topological sort that keeps file order otherwise), references.
    let mut order = Vec::with_capacity(items.len());
    let mut state: HashMap<usize, bool> = HashMap::new(); // false: visiting, true: done
    for start in 0..items.len() {
        visit::<K>(start, &items, &by_id, &stored, &mut state, &mut order, &mut Vec::new())?;
    }

    // Classify.
    let mut plan = Vec::with_capacity(order.len());
    let mut pending = HashSet::new();
    for &i in &order {
        let item = &items[i];
        let id = K::id(&item.record);
        let action = match stored.get(id) {
            None => Action::Create,
            Some(s) if s.deleted => Action::Update,
            Some(s) if K::same(&item.record, &s.record) => Action::Unchanged,
            Some(_) => Action::Update,
        };
        if stored.get(id).is_none_or(|s| s.deleted) {
            pending.insert(id.to_owned());
        }
        plan.push((i, action));
    }
    let batch: HashMap<String, K::Record> = items
        .iter()
        .map(|it| (K::id(&it.record).to_owned(), it.record.clone()))
        .collect();
    let ctx = ValidateCtx {
        batch: &batch,
        stored: &stored,
        pending: &pending,
        earlier,
    };

    let to_write = plan.iter().filter(|(_, a)| *a != Action::Unchanged).count();
    let bar = progress(opts.quiet, to_write * if opts.dry_run { 1 } else { 2 });

    // Validate every write before writing anything. New records that the kind creates in
    // batches are validated a batch per request (a batch that fails is validated again record
    // by record, to name the first invalid one); the others one by one. Validation has no
    // order (the context says which references the import itself satisfies), so it runs
    // concurrently; the first invalid record in file order is the one reported.
    let writes: Vec<usize> = plan
        .iter()
        .filter(|(_, a)| *a != Action::Unchanged)
        .map(|(i, _)| *i)
        .collect();
    let batched = |i: usize| {
        let r = &items[i].record;
        !stored.contains_key(K::id(r)) && K::batchable(r)
    };
    let ctx = &ctx;
    let stored_ref = &stored;
    let items_ref = &items;
    let bar_ref = &bar;
    let (creates, mut singles): (Vec<usize>, Vec<usize>) = writes.iter().partition(|&&i| batched(i));
    let create_batches = batches(&creates, &items);
    let chunk_results: Vec<(&Vec<usize>, Option<ApiError>)> =
        futures::stream::iter(create_batches.iter().map(|chunk| async move {
            let records: Vec<&K::Record> = chunk.iter().map(|&i| &items_ref[i].record).collect();
            let failed = match K::create_batch(client, &records, Some(ctx)).await {
                Some(Ok(())) => None,
                Some(Err(e)) => Some(e),
                None => Some(ApiError::Transport("batch create unavailable".into())),
            };
            if failed.is_none() {
                bar_ref.inc(chunk.len() as u64);
            }
            (chunk, failed)
        }))
        .buffered(2)
        .collect()
        .await;
    let mut batch_failure = None;
    for (chunk, failed) in chunk_results {
        if let Some(e) = failed {
            singles.extend_from_slice(chunk);
            batch_failure.get_or_insert((chunk[0], e));
        }
    }
    let position: HashMap<usize, usize> = writes.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    singles.sort_by_key(|i| position.get(i).copied());
    let checked = futures::stream::iter(singles.iter().map(|&i| async move {
        let item = &items_ref[i];
        let id = K::id(&item.record);
        let r = K::validate(client, &item.record, ctx).await;
        bar_ref.inc(1);
        r.map_err(|e| api_record_error(&item.origin, K::NOUN, id, &e))
    }))
    .buffered(IMPORT_CONCURRENCY)
    .try_collect::<Vec<()>>()
    .await;
    if let Err(e) = checked {
        bar.finish_and_clear();
        return Err(e);
    }
    // Every record of a failed batch is valid alone: the batch as a whole is not (e.g. too
    // large); say so rather than fail half-way through the writes.
    if let Some((i, e)) = batch_failure {
        bar.finish_and_clear();
        let item = &items[i];
        return Err(api_record_error(&item.origin, K::NOUN, K::id(&item.record), &e));
    }

    let mut summary = Summary::default();
    if opts.dry_run {
        bar.finish_and_clear();
        earlier.extend(pending.iter().map(|id| K::name(id)));
        for (i, action) in &plan {
            summary.add(*action);
            if !opts.quiet && *action != Action::Unchanged {
                let verb = if *action == Action::Create { "create" } else { "update" };
                eprintln!("would {verb} {} {}", K::NOUN, K::id(&items[*i].record));
            }
        }
        return Ok(summary);
    }
    // Write in waves: a record goes in the wave after the last of its dependencies that this
    // import writes, so parents are committed before their children; records of one wave are
    // written concurrently. After a failure no new write starts, the ones in flight finish
    // (so the count of what was written is exact), and the first failure is reported.
    let mut wave_of: HashMap<&str, usize> = HashMap::new();
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, action) in &plan {
        let record = &items[*i].record;
        let deps = K::deps(record);
        let after = |extra: usize| {
            deps.iter()
                .filter_map(|d| wave_of.get(d.as_str()).map(|w| w + extra))
                .max()
        };
        if *action == Action::Unchanged {
            summary.add(*action);
            // Not written, but its dependants must still wait for what it depends on.
            if let Some(w) = after(0) {
                wave_of.insert(K::id(record), w);
            }
            continue;
        }
        let wave = after(1).unwrap_or(0);
        wave_of.insert(K::id(record), wave);
        if waves.len() <= wave {
            waves.resize_with(wave + 1, Vec::new);
        }
        waves[wave].push(*i);
    }
    let action_of: HashMap<usize, Action> = plan.iter().copied().collect();
    let mut failure: Option<(usize, ApiError)> = None;
    for wave in &waves {
        // New records the kind creates in batches go a batch per request; the others one by
        // one. Units are started in file order.
        let (creates, singles): (Vec<usize>, Vec<usize>) = wave.iter().partition(|&&i| batched(i));
        let mut units: Vec<Vec<usize>> = batches(&creates, &items);
        units.extend(singles.into_iter().map(|i| vec![i]));
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut next = units.into_iter();
        loop {
            while failure.is_none() && in_flight.len() < IMPORT_CONCURRENCY {
                let Some(unit) = next.next() else { break };
                let batched = &batched;
                in_flight.push(async move {
                    let r = if unit.len() == 1 && !batched(unit[0]) {
                        let item = &items_ref[unit[0]];
                        K::apply(client, &item.record, stored_ref.get(K::id(&item.record))).await
                    } else {
                        let records: Vec<&K::Record> = unit.iter().map(|&i| &items_ref[i].record).collect();
                        K::create_batch(client, &records, None)
                            .await
                            .unwrap_or_else(|| Err(ApiError::Transport("batch create unavailable".into())))
                    };
                    (unit, r)
                });
            }
            let Some((unit, r)) = in_flight.next().await else { break };
            match r {
                Ok(()) => {
                    for i in &unit {
                        summary.add(action_of.get(i).copied().unwrap_or(Action::Update));
                    }
                    bar.inc(unit.len() as u64);
                }
                Err(e) => {
                    // The record a batch error names (`requests[i]`), else the batch's first.
                    let at = batch_index(&e)
                        .and_then(|k| unit.get(k).copied())
                        .or_else(|| {
                            resource_of(&e)
                                .and_then(|n| unit.iter().copied().find(|&i| K::name(K::id(&items[i].record)) == n))
                        })
                        .unwrap_or(unit[0]);
                    if failure.as_ref().is_none_or(|(first, _)| at < *first) {
                        failure = Some((at, e));
                    }
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    bar.finish_and_clear();
    if let Some((i, e)) = failure {
        let item = &items[i];
        let mut err = api_record_error(&item.origin, K::NOUN, K::id(&item.record), &e);
        if let CliError::Other { details, .. } = &mut err {
            details.push(format!("written before the error: {summary}"));
        }
        return Err(err);
    }
    Ok(summary)
}

/// `indices` in batches of at most [`IMPORT_BATCH`] records and about
/// [`IMPORT_BATCH_BYTES`] of records (well within the server's default 4 MiB request limit).
fn batches<R: Serialize>(indices: &[usize], items: &[Item<R>]) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut current = Vec::new();
    let mut bytes = 0;
    for &i in indices {
        let size = serde_json::to_vec(&items[i].record).map_or(0, |v| v.len());
        if !current.is_empty() && (current.len() == IMPORT_BATCH || bytes + size > IMPORT_BATCH_BYTES) {
            out.push(std::mem::take(&mut current));
            bytes = 0;
        }
        current.push(i);
        bytes += size;
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The index `i` of `requests[i]` in a batch error's first field violation or message.
fn batch_index(e: &ApiError) -> Option<usize> {
    let text = match e {
        ApiError::InvalidArgument { violations, .. } => violations.first()?.field.clone(),
        other => other.to_string(),
    };
    let start = text.find("requests[")? + "requests[".len();
    let len = text[start..].find(']')?;
    text[start..start + len].parse().ok()
}

/// The resource an error names (ALREADY_EXISTS, NOT_FOUND).
fn resource_of(e: &ApiError) -> Option<&str> {
    match e {
        ApiError::AlreadyExists { resource_name, .. } | ApiError::NotFound { resource_name, .. } => {
            resource_name.as_deref()
        }
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn visit<K: Resource>(
    i: usize,
    items: &[Item<K::Record>],
    by_id: &HashMap<String, usize>,
    stored: &HashMap<String, Stored<K::Record>>,
    state: &mut HashMap<usize, bool>,
    order: &mut Vec<usize>,
    path: &mut Vec<String>,
) -> CliResult {
    match state.get(&i) {
        Some(true) => return Ok(()),
        Some(false) => {
            let item = &items[i];
            path.push(K::id(&item.record).to_owned());
            return Err(record_error(
                &item.origin,
                K::NOUN,
                K::id(&item.record),
                format!("cycle: {}", path.join(" -> ")),
                Vec::new(),
            ));
        }
        None => {}
    }
    state.insert(i, false);
    let item = &items[i];
    path.push(K::id(&item.record).to_owned());
    for dep in K::deps(&item.record) {
        if let Some(&j) = by_id.get(&dep) {
            visit::<K>(j, items, by_id, stored, state, order, path)?;
        } else if !stored.contains_key(&dep) {
            return Err(record_error(
                &item.origin,
                K::NOUN,
                K::id(&item.record),
                format!(
                    "refers to {} {dep:?}, which is neither in the import nor in the registry",
                    K::NOUN
                ),
                Vec::new(),
            ));
        }
    }
    path.pop();
    state.insert(i, true);
    order.push(i);
    Ok(())
}

fn progress(quiet: bool, len: usize) -> ProgressBar {
    if quiet || len < 20 || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Writes `DIR/{section}.yaml` with every live record of kind `K`; returns the count.
pub async fn export<K: Resource>(client: &RegistryClient, dir: &Path) -> CliResult<usize> {
    let stored = K::stored(client, None).await.map_err(|e| CliError::Api {
        context: format!("reading the {}s", K::NOUN),
        error: e,
    })?;
    let live: Vec<K::Record> = stored.into_values().filter(|s| !s.deleted).map(|s| s.record).collect();
    let records = K::export_order(live);
    let n = records.len();
    let mut data = DataFile::default();
    K::put(&mut data, records);
    let body = serde_norway::to_string(&data).map_err(|e| CliError::other(format!("cannot write YAML: {e}")))?;
    let text = format!(
        "# Exported by registryctl; `registryctl import` loads it back unchanged.\n{}",
        if n == 0 { String::new() } else { body }
    );
    let path = dir.join(format!("{}.yaml", K::SECTION));
    std::fs::write(&path, text).map_err(|e| CliError::other(format!("{}: {e}", path.display())))?;
    Ok(n)
}

fn invalid(problems: Vec<String>) -> ApiError {
    ApiError::InvalidArgument {
        message: "invalid record".into(),
        violations: problems
            .into_iter()
            .map(|p| registry_client::FieldViolation {
                field: String::new(),
                description: p,
            })
            .collect(),
    }
}

/// Every update of an import replaces the whole record.
fn mask_all() -> Vec<String> {
    vec!["*".to_owned()]
}

/// The stored record of a resource, by id.
fn stored_entry<K: Kind>(p: K::Pb) -> (String, Stored<K::Record>) {
    let record = K::from_pb(&p);
    (
        K::id_of(K::record_id(&record)).to_owned(),
        Stored {
            deleted: K::deleted(&p),
            etag: K::etag(&p).to_owned(),
            record,
        },
    )
}

/// Every stored resource of kind `K`, soft-deleted ones too, by id.
async fn stored_all<K: Kind>(client: &RegistryClient) -> Result<HashMap<String, Stored<K::Record>>, ApiError> {
    client
        .pages(K::list_request(String::new(), String::new(), 1000, true))
        .map_ok(stored_entry::<K>)
        .try_collect()
        .await
}

/// Creates `resource`, or restores and updates the stored one to it; with `validate_only`,
/// asks the server whether it would (a soft-deleted one: whether it can be restored).
async fn write<K: Kind>(
    client: &RegistryClient,
    id: &str,
    mut resource: K::Pb,
    stored: Option<&Stored<K::Record>>,
    validate_only: bool,
) -> Result<(), ApiError> {
    let Some(s) = stored else {
        let request_id = if validate_only {
            String::new()
        } else {
            uuid::Uuid::new_v4().to_string()
        };
        K::create(client, id.to_owned(), resource, request_id, validate_only).await?;
        return Ok(());
    };
    let mut etag = s.etag.clone();
    if s.deleted {
        let name = K::name_of(id);
        let undeleted = K::undelete(client, name.clone(), String::new(), validate_only).await;
        if validate_only {
            return undeleted.map(|_| ());
        }
        etag = match undeleted {
            Ok(p) => K::etag(&p).to_owned(),
            // Restored already, with an ancestor undeleted earlier in this import.
            Err(ApiError::AlreadyExists { .. }) => K::etag(&K::get(client, name, None).await?).to_owned(),
            Err(e) => return Err(e),
        };
    }
    K::set_etag(&mut resource, etag);
    K::update(client, resource, mask_all(), false, validate_only).await?;
    Ok(())
}

/// The goals with these ids that exist (soft-deleted ones too), and their ancestors.
async fn stored_goals_by_id(
    client: &RegistryClient,
    ids: &[String],
) -> Result<HashMap<String, Stored<GoalRecord>>, ApiError> {
    let mut out = HashMap::new();
    let mut seen: HashSet<String> = ids.iter().cloned().collect();
    let mut next: Vec<String> = seen.iter().cloned().collect();
    while !next.is_empty() {
        let names: Vec<String> = next.drain(..).map(|id| goal_name(&id)).collect();
        let found: Vec<Vec<pb::PolicyGoal>> = futures::stream::iter(
            names
                .chunks(IMPORT_BATCH)
                .map(|chunk| client.batch_get_existing_policy_goals(chunk.iter().cloned())),
        )
        .buffer_unordered(4)
        .try_collect()
        .await?;
        for g in found.into_iter().flatten() {
            let (id, stored) = stored_entry::<Goals>(g);
            if let Some(parent) = stored.record.parent.as_deref().map(goal_id)
                && seen.insert(parent.to_owned())
            {
                next.push(parent.to_owned());
            }
            out.insert(id, stored);
        }
    }
    Ok(out)
}

/// The goal a record creates, as sent in a create: with `ctx` (validation), a parent that the
/// import has not created yet (pending, and not earlier in `created_before`) is left out and
/// the pillar it would give is set instead.
fn goal_to_create(
    r: &GoalRecord,
    ctx: Option<&ValidateCtx<'_, GoalRecord>>,
    created_before: &HashSet<&str>,
) -> Result<pb::PolicyGoal, ApiError> {
    let mut goal = r.to_pb().map_err(invalid)?;
    if let Some(ctx) = ctx {
        goal.linked_partners.retain(|p| !ctx.earlier.contains(p));
        goal.product_sets.retain(|p| !ctx.earlier.contains(p));
        // Goals this import creates do not exist yet in a validation.
        goal.contributes_to
            .retain(|g| !ctx.pending.contains(goal_id(g)) || created_before.contains(goal_id(g)));
        if let Some(parent) = r.parent.as_deref().map(goal_id)
            && ctx.pending.contains(parent)
            && !created_before.contains(parent)
        {
            goal.parent.clear();
            if goal.pillar == 0 {
                goal.pillar = root_pillar(parent, ctx);
            }
        }
    }
    Ok(goal)
}

/// The parts of a [`Resource`] that its [`Kind`] already says: section, noun, id, name; and,
/// as listed, the standard ones: `check` (the local checks of its conversion), `same` (equal
/// in canonical form), `stored` (every stored one), `validate` and `apply` (a [`write`] of
/// the record; `validate(trim)` first lets `trim` drop the references a dry run cannot check
/// yet, or skip the server's check by returning false).
macro_rules! from_kind {
    ($section:ident: $record:ty $(; $($standard:ident $(($trim:expr))?),*)?) => {
        const SECTION: &'static str = <Self as Kind>::PLURAL;
        const NOUN: &'static str = <Self as Kind>::NOUN;
        type Record = $record;

        fn take(file: &mut DataFile) -> Vec<$record> {
            std::mem::take(&mut file.$section)
        }
        fn put(file: &mut DataFile, records: Vec<$record>) {
            file.$section = records;
        }
        fn id(r: &$record) -> &str {
            <Self as Kind>::id_of(&r.id)
        }
        fn name(id: &str) -> String {
            <Self as Kind>::name_of(id)
        }
        $($(from_kind!(@$standard $record $(, $trim)?);)*)?
    };
    (@check $record:ty) => {
        fn check(r: &$record) -> Result<(), Vec<String>> {
            r.to_pb().map(drop)
        }
    };
    (@same $record:ty) => {
        fn same(file: &$record, stored: &$record) -> bool {
            file.canonical() == *stored
        }
    };
    (@stored $record:ty) => {
        async fn stored(
            client: &RegistryClient,
            _wanted: Option<&[String]>,
        ) -> Result<HashMap<String, Stored<$record>>, ApiError> {
            stored_all::<Self>(client).await
        }
    };
    (@validate $record:ty) => {
        from_kind!(@validate $record, |_: &mut _, _: &ValidateCtx<'_, $record>| true);
    };
    (@validate $record:ty, $trim:expr) => {
        async fn validate(client: &RegistryClient, r: &$record, ctx: &ValidateCtx<'_, $record>) -> Result<(), ApiError> {
            let mut resource = r.to_pb().map_err(invalid)?;
            if !$trim(&mut resource, ctx) {
                return Ok(());
            }
            write::<Self>(client, Self::id(r), resource, ctx.stored_of(Self::id(r)), true).await
        }
    };
    (@apply $record:ty) => {
        async fn apply(
            client: &RegistryClient,
            r: &$record,
            stored: Option<&Stored<$record>>,
        ) -> Result<(), ApiError> {
            write::<Self>(client, Self::id(r), r.to_pb().map_err(invalid)?, stored, false).await
        }
    };
}

impl Resource for Goals {
    from_kind!(goals: GoalRecord);

    fn deps(r: &GoalRecord) -> Vec<String> {
        let to = r.contributes_to.iter();
        r.parent.iter().chain(to).map(|p| goal_id(p).to_owned()).collect()
    }

    fn check(r: &GoalRecord) -> Result<(), Vec<String>> {
        let mut problems = r.to_pb().err().unwrap_or_default();
        if r.outcome.is_some() && r.state.is_none() {
            problems.push("outcome: needs `state: CLOSED`".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    fn same(file: &GoalRecord, stored: &GoalRecord) -> bool {
        let mut f = file.canonical();
        if f.state.is_none() {
            f.state.clone_from(&stored.state);
            f.outcome.clone_from(&stored.outcome);
        }
        f == *stored
    }

    async fn stored(
        client: &RegistryClient,
        wanted: Option<&[String]>,
    ) -> Result<HashMap<String, Stored<GoalRecord>>, ApiError> {
        // An import reads only the goals it names and their ancestors, not every goal.
        if let Some(wanted) = wanted {
            return stored_goals_by_id(client, wanted).await;
        }
        stored_all::<Goals>(client).await
    }

    fn batchable(r: &GoalRecord) -> bool {
        // Batch creates set the initial state; CLOSED (with an outcome) needs a transition.
        r.outcome.is_none()
            && r.state
                .as_deref()
                .is_none_or(|s| matches!(s, "PLANNED" | "ACTIVE" | "ON_HOLD"))
    }

    async fn create_batch(
        client: &RegistryClient,
        records: &[&GoalRecord],
        ctx: Option<&ValidateCtx<'_, GoalRecord>>,
    ) -> Option<Result<(), ApiError>> {
        let mut created_before = HashSet::new();
        let mut requests = Vec::with_capacity(records.len());
        for r in records {
            // Partners this (dry-run) import would create do not exist yet; a parent it
            // creates in an earlier batch does not exist yet in a validation.
            let goal = match goal_to_create(r, ctx, &created_before) {
                Ok(g) => g,
                Err(e) => return Some(Err(e)),
            };
            created_before.insert(goal_id(&r.id));
            requests.push(pb::CreatePolicyGoalRequest {
                policy_goal_id: goal_id(&r.id).to_owned(),
                policy_goal: Some(goal),
                request_id: String::new(),
                validate_only: false,
            });
        }
        let req = pb::BatchCreatePolicyGoalsRequest {
            requests,
            request_id: String::new(),
            validate_only: ctx.is_some(),
        };
        Some(client.batch_create_policy_goals(req).await.map(|_| ()))
    }

    async fn validate(
        client: &RegistryClient,
        r: &GoalRecord,
        ctx: &ValidateCtx<'_, GoalRecord>,
    ) -> Result<(), ApiError> {
        // Partners this (dry-run) import would create do not exist yet; a parent that this
        // import creates does not exist yet either: validate the other fields as a root goal
        // of the pillar the parent chain leads to.
        let goal = goal_to_create(r, Some(ctx), &HashSet::new())?;
        let id = goal_id(&r.id).to_owned();
        let stored = ctx.stored_of(&id);
        if let (Some(want), Some(s)) = (r.state.as_deref(), stored)
            && let Ok(want) = parse_enum::<pb::policy_goal::State>("state", want)
            && want == pb::policy_goal::State::Planned as i32
            && s.record.state.as_deref().is_some_and(|st| st != "PLANNED")
        {
            return Err(ApiError::FailedPrecondition {
                message: format!(
                    "{} is {} and cannot go back to PLANNED",
                    goal_name(&id),
                    s.record.state.as_deref().unwrap_or_default()
                ),
                reason: "INVALID_STATE_TRANSITION".into(),
            });
        }
        match stored {
            // Its parent is restored earlier in this import: nothing to ask yet.
            Some(s) if s.deleted && r.parent.as_deref().is_some_and(|p| ctx.pending.contains(goal_id(p))) => Ok(()),
            _ => write::<Goals>(client, &id, goal, stored, true).await,
        }
    }

    async fn apply(
        client: &RegistryClient,
        r: &GoalRecord,
        stored: Option<&Stored<GoalRecord>>,
    ) -> Result<(), ApiError> {
        let id = goal_id(&r.id).to_owned();
        let name = goal_name(&id);
        write::<Goals>(client, &id, r.to_pb().map_err(invalid)?, stored, false).await?;
        if let Some(state) = r.state.as_deref() {
            let state = parse_enum::<pb::policy_goal::State>("state", state).unwrap_or_default();
            let outcome = r
                .outcome
                .as_deref()
                .and_then(|o| parse_enum::<pb::policy_goal::Outcome>("outcome", o).ok())
                .unwrap_or_default();
            reach_state(client, &name, state, outcome).await?;
        }
        Ok(())
    }

    fn export_order(records: Vec<GoalRecord>) -> Vec<GoalRecord> {
        // Depth first from the roots, siblings by id: parents come before children.
        let mut children: BTreeMap<Option<String>, Vec<GoalRecord>> = BTreeMap::new();
        let ids: HashSet<String> = records.iter().map(|r| r.id.clone()).collect();
        for r in records {
            // A live goal always has a live parent; be safe anyway.
            let key = r.parent.clone().filter(|p| ids.contains(p));
            children.entry(key).or_default().push(r);
        }
        for list in children.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }
        let mut out = Vec::new();
        let mut stack: Vec<GoalRecord> = children.remove(&None).unwrap_or_default();
        stack.reverse();
        while let Some(r) = stack.pop() {
            if let Some(mut kids) = children.remove(&Some(r.id.clone())) {
                kids.reverse();
                stack.extend(kids);
            }
            out.push(r);
        }
        out
    }
}

impl Resource for Partners {
    from_kind!(partners: PartnerRecord; stored, validate(without_unwritten_members), apply);

    fn deps(r: &PartnerRecord) -> Vec<String> {
        r.members.iter().map(|m| partner_id(m).to_owned()).collect()
    }

    fn check(r: &PartnerRecord) -> Result<(), Vec<String>> {
        let mut problems = r.to_pb().err().unwrap_or_default();
        if r.kind.is_empty() {
            problems.push("kind: required (COUNTRY, ECONOMIC_BLOC, FORUM or GROUP)".into());
        }
        if problems.is_empty() { Ok(()) } else { Err(problems) }
    }

    fn same(file: &PartnerRecord, stored: &PartnerRecord) -> bool {
        let mut f = file.canonical();
        // A country without a Korean name in the file has CLDR's, which the server gives it.
        if f.kind == "COUNTRY" && !f.fields.has("display_name_ko") && stored.fields.has("display_name_ko") {
            f.fields.set("display_name_ko", stored.fields.text("display_name_ko"));
            f.fields = f.fields.canonical();
        }
        f == *stored
    }

    fn export_order(records: Vec<PartnerRecord>) -> Vec<PartnerRecord> {
        // By id, each record after its members (depth first).
        let mut by_id: BTreeMap<String, PartnerRecord> = records.into_iter().map(|r| (r.id.clone(), r)).collect();
        let ids: Vec<String> = by_id.keys().cloned().collect();
        let mut out = Vec::new();
        fn place(id: &str, by_id: &mut BTreeMap<String, PartnerRecord>, out: &mut Vec<PartnerRecord>, depth: usize) {
            let Some(r) = by_id.remove(id) else { return };
            if depth < 64 {
                for m in &r.members {
                    place(m, by_id, out, depth + 1);
                }
            }
            out.push(r);
        }
        for id in ids {
            place(&id, &mut by_id, &mut out, 0);
        }
        out
    }
}

/// Members this import creates or restores first do not exist yet.
fn without_unwritten_members(partner: &mut pb::TradePartner, ctx: &ValidateCtx<'_, PartnerRecord>) -> bool {
    partner
        .members
        .retain(|m| !ctx.pending.contains(partner_id(m)) && !ctx.earlier.contains(m));
    true
}

impl Resource for Agreements {
    from_kind!(agreements: AgreementRecord; check, same, stored, validate(without_unwritten_parties), apply);
}

/// Parties this (dry-run) import would create do not exist yet; with none but Korea left,
/// there is nothing for the server to check the parties against.
fn without_unwritten_parties(agreement: &mut pb::TradeAgreement, ctx: &ValidateCtx<'_, AgreementRecord>) -> bool {
    let before = agreement.parties.len();
    agreement.parties.retain(|p| !ctx.earlier.contains(p));
    agreement.parties.len() == before || agreement.parties.iter().any(|p| partner_id(p) != crate::records::KOREA)
}

/// Product sets (before the goals and risks that link them).
impl Resource for ProductSets {
    from_kind!(product_sets: ProductSetRecord; check, same, stored, validate, apply);
}

/// Entries of the risk register (after the goals, partners and product sets they link).
impl Resource for Risks {
    from_kind!(risks: RiskEntryRecord; check, same, stored, validate(without_unwritten_links), apply);
}

/// Goals, partners and product sets this (dry-run) import would create do not exist yet.
fn without_unwritten_links(risk: &mut pb::RiskEntry, ctx: &ValidateCtx<'_, RiskEntryRecord>) -> bool {
    risk.goals.retain(|g| !ctx.earlier.contains(g));
    risk.partners.retain(|p| !ctx.earlier.contains(p));
    risk.product_sets.retain(|p| !ctx.earlier.contains(p));
    true
}

/// The parts of a [`Resource`] that a child kind keyed `parent/id` (trade flows, check-ins)
/// says the same way: its section and noun, its key as the id, its name
/// `{parent's name}/{collection}/{id}`, and its stored records (every one that `$all` lists,
/// none soft-deleted).
macro_rules! keyed {
    ($section:ident $noun:literal: $record:ident, $parent_name:ident, $collection:literal, $all:expr) => {
        const SECTION: &'static str = stringify!($section);
        const NOUN: &'static str = $noun;
        type Record = $record;

        fn take(file: &mut DataFile) -> Vec<$record> {
            std::mem::take(&mut file.$section)
                .into_iter()
                .map($record::keyed)
                .collect()
        }
        fn put(file: &mut DataFile, records: Vec<$record>) {
            file.$section = records;
        }
        fn id(r: &$record) -> &str {
            &r.key
        }
        fn name(key: &str) -> String {
            match key.split_once('/') {
                Some((parent, id)) => format!("{}/{}/{id}", $parent_name(parent), $collection),
                None => key.to_owned(),
            }
        }
        async fn stored(
            client: &RegistryClient,
            _wanted: Option<&[String]>,
        ) -> Result<HashMap<String, Stored<$record>>, ApiError> {
            client
                .pages($all)
                .map_ok(|p| {
                    let (record, etag) = $record::stored(&p);
                    let stored = Stored {
                        record: record.clone(),
                        etag,
                        deleted: false,
                    };
                    (record.key, stored)
                })
                .try_collect()
                .await
        }
    };
}

fn flows_of_every_partner() -> pb::ListTradeFlowsRequest {
    pb::ListTradeFlowsRequest {
        parent: format!("{PARTNERS}-"),
        page_size: 1000,
        ..Default::default()
    }
}

fn check_ins_of_every_goal() -> pb::ListCheckInsRequest {
    pb::ListCheckInsRequest {
        parent: format!("{}-", crate::records::GOALS),
        page_size: 1000,
        ..Default::default()
    }
}

/// Trade flows (after the partners they belong to). A flow is keyed `partner/year`.
pub struct Flows;

fn flow_request(r: &FlowRecord, etag: &str, validate_only: bool) -> pb::UpdateTradeFlowRequest {
    let mut flow = r.to_pb();
    flow.etag = etag.to_owned();
    pb::UpdateTradeFlowRequest {
        trade_flow: Some(flow),
        allow_missing: true,
        validate_only,
    }
}

impl Resource for Flows {
    keyed!(trade_flows "trade flow": FlowRecord, partner_name, "tradeFlows", flows_of_every_partner());

    fn check(r: &FlowRecord) -> Result<(), Vec<String>> {
        r.check()
    }

    fn same(file: &FlowRecord, stored: &FlowRecord) -> bool {
        file == stored
    }

    async fn validate(
        client: &RegistryClient,
        r: &FlowRecord,
        ctx: &ValidateCtx<'_, FlowRecord>,
    ) -> Result<(), ApiError> {
        // The partner is created by this (dry-run) import: the local checks are all there is.
        if ctx.earlier.contains(&partner_name(&r.partner)) {
            return Ok(());
        }
        let etag = ctx.stored_of(Self::id(r)).map(|s| s.etag.as_str()).unwrap_or_default();
        client.update_trade_flow(flow_request(r, etag, true)).await?;
        Ok(())
    }

    async fn apply(
        client: &RegistryClient,
        r: &FlowRecord,
        stored: Option<&Stored<FlowRecord>>,
    ) -> Result<(), ApiError> {
        let etag = stored.map(|s| s.etag.as_str()).unwrap_or_default();
        client.update_trade_flow(flow_request(r, etag, false)).await?;
        Ok(())
    }

    fn export_order(mut records: Vec<FlowRecord>) -> Vec<FlowRecord> {
        records.sort_by(|a, b| (a.partner.as_str(), a.year).cmp(&(b.partner.as_str(), b.year)));
        records
    }
}

/// Check-ins on goals (after the goals). A check-in is keyed `goal/id`; it is never updated.
pub struct CheckIns;

impl Resource for CheckIns {
    keyed!(check_ins "check-in": CheckInRecord, goal_name, "checkIns", check_ins_of_every_goal());

    fn check(r: &CheckInRecord) -> Result<(), Vec<String>> {
        r.to_pb().map(drop)
    }

    fn same(file: &CheckInRecord, stored: &CheckInRecord) -> bool {
        file.same(stored)
    }

    async fn validate(
        client: &RegistryClient,
        r: &CheckInRecord,
        ctx: &ValidateCtx<'_, CheckInRecord>,
    ) -> Result<(), ApiError> {
        if ctx.stored_of(Self::id(r)).is_some() {
            return Err(ApiError::FailedPrecondition {
                message: format!(
                    "{} is recorded with other content; check-ins are append-only: record a new one \
                     (with another id) to correct it",
                    r.name()
                ),
                reason: "CHECK_IN_APPEND_ONLY".into(),
            });
        }
        // The goal is created by this (dry-run) import: the local checks are all there is.
        if ctx.earlier.contains(&goal_name(&r.goal)) {
            return Ok(());
        }
        create_check_in(client, r, true).await
    }

    async fn apply(
        client: &RegistryClient,
        r: &CheckInRecord,
        _stored: Option<&Stored<CheckInRecord>>,
    ) -> Result<(), ApiError> {
        create_check_in(client, r, false).await
    }

    fn export_order(mut records: Vec<CheckInRecord>) -> Vec<CheckInRecord> {
        records.sort_by(|a, b| (&a.goal, &a.check_in_time, &a.id).cmp(&(&b.goal, &b.check_in_time, &b.id)));
        records
    }
}

async fn create_check_in(client: &RegistryClient, r: &CheckInRecord, validate_only: bool) -> Result<(), ApiError> {
    client
        .create_check_in(pb::CreateCheckInRequest {
            parent: goal_name(&r.goal),
            check_in: Some(r.to_pb().map_err(invalid)?),
            check_in_id: r.id.clone(),
            validate_only,
            ..Default::default()
        })
        .await?;
    Ok(())
}

/// The pillar a new goal under `parent` gets: the first explicit pillar up the chain (stored
/// records carry the pillar on roots only, see [`GoalRecord::canonical`]).
fn root_pillar(parent: &str, ctx: &ValidateCtx<'_, GoalRecord>) -> i32 {
    let mut current = parent.to_owned();
    for _ in 0..64 {
        let Some(rec) = ctx
            .batch
            .get(&current)
            .or_else(|| ctx.stored.get(&current).map(|s| &s.record))
        else {
            return 0;
        };
        if let Some(p) = rec.pillar.as_deref() {
            return crate::records::parse_enum::<pb::Pillar>("pillar", p).unwrap_or(0);
        }
        match rec.parent.as_deref() {
            Some(p) => current = goal_id(p).to_owned(),
            None => return 0,
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::can_become;

    #[test]
    fn batches_are_cut_by_count_and_by_size() {
        let item = |description: usize| Item {
            record: {
                let mut r = GoalRecord {
                    id: "g".into(),
                    ..Default::default()
                };
                r.fields.set("description", "x".repeat(description));
                r
            },
            origin: Origin {
                file: PathBuf::from("goals.yaml"),
                line: None,
            },
        };
        let small: Vec<Item<GoalRecord>> = (0..2500).map(|_| item(10)).collect();
        let all: Vec<usize> = (0..2500).collect();
        let sizes: Vec<usize> = batches(&all, &small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [1000, 1000, 500]);
        // 1 MiB records: two fit in 2 MiB only when the JSON overhead allows; never more.
        let big: Vec<Item<GoalRecord>> = (0..5).map(|_| item(1 << 20)).collect();
        let cut = batches(&[0, 1, 2, 3, 4], &big);
        assert!(cut.iter().all(|b| b.len() <= 2), "{cut:?}");
        assert_eq!(cut.concat(), [0, 1, 2, 3, 4], "order kept, nothing lost");
        // A single record larger than the limit still gets a batch of its own.
        let huge = vec![item(3 << 20), item(10)];
        assert_eq!(batches(&[0, 1], &huge), [vec![0], vec![1]]);
    }

    #[test]
    fn finds_the_line_of_a_record() {
        let yaml = "goals:\n- id: a\n  title: A\n- id: 'b'\n  parent: a\n";
        assert_eq!(line_of(yaml, "a"), Some(2));
        assert_eq!(line_of(yaml, "b"), Some(4));
        assert_eq!(line_of(yaml, "c"), None);
        let json = "{\"goals\": [\n  {\n    \"id\": \"x\",\n    \"title\": \"X\"\n  }\n]}";
        assert_eq!(line_of(json, "x"), Some(3));
    }

    #[test]
    fn export_order_puts_parents_first() {
        let rec = |id: &str, parent: Option<&str>| GoalRecord {
            id: id.into(),
            parent: parent.map(Into::into),
            ..Default::default()
        };
        let out = Goals::export_order(vec![
            rec("z-child", Some("b")),
            rec("b", None),
            rec("a", None),
            rec("a-child", Some("a")),
            rec("grandchild", Some("z-child")),
        ]);
        let ids: Vec<&str> = out.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "a-child", "b", "z-child", "grandchild"]);
    }

    #[test]
    fn state_transitions_match_the_server() {
        use pb::policy_goal::State as S;
        assert!(can_become(S::Planned as i32, S::Closed as i32));
        assert!(!can_become(S::Closed as i32, S::OnHold as i32));
        assert!(!can_become(S::Active as i32, S::Planned as i32));
    }
}
