//! The coherent in-process read cache: resources by name, as the database last answered for
//! them, kept current by invalidation.
//!
//! **Coherence.** Every change invalidates what it may alter: the changed resource, every
//! resource its name lies under (a measurement `policyGoals/g/measurements/m` invalidates
//! `policyGoals/g`, whose progress it moves), and every cached kind that depends on the
//! changed kind ([`Depends`]: a partner shows the goals and risks that link it). Changes are
//! applied by the writing replica when its call ends (after the commit, before the answer
//! leaves), and by every replica when its change-feed tailer reads them, before the tailer
//! advances [`ReadCache::applied`].
//!
//! Invalidation does not remove values only: it bumps an epoch (one per kind, and one per
//! stripe of names), and a value is served only while the epochs it was read under are
//! unchanged. A reader takes its [`Stamp`] *before* it reads the database; a change whose
//! invalidation comes after the stamp makes the value unservable, whether the read saw the
//! change or not. So a value filled by a read that raced a write can never outlive the
//! write's invalidation, and once the tailer has applied sequence N, every servable value
//! includes every change ≤ N.
//!
//! **Staleness without a token.** A read without `registry-min-sequence` is answered from
//! the cache only while the tailer has confirmed the log's position within
//! [`CacheOptions::max_staleness`]; if it cannot read the log, the cache stops answering.
//!
//! **Bounds.** Entries and bytes (estimated, [`memory_size`]), both: each entry weighs `max(its size, max_bytes /
//! max_entries)` against a capacity of `max_bytes`, so neither bound can be passed.

use std::{
    any::Any,
    future::Future,
    hash::{Hash, Hasher},
    sync::{
        Arc, Mutex, OnceLock, PoisonError,
        atomic::{AtomicI64, AtomicU64, Ordering::SeqCst},
    },
    time::{Duration, Instant},
};

use tokio::sync::watch;

/// Sizes and timings of the read cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheOptions {
    /// Most resources held (0: no cache; every read goes to the database).
    pub max_entries: u64,
    /// Most bytes held (each value's estimated size, [`memory_size`]).
    pub max_bytes: u64,
    /// How long a read that sends `registry-min-sequence: N` waits for this replica to
    /// apply N before it reads the database instead.
    pub consistency_wait: Duration,
    /// A read without a token is answered from the cache only if the change-feed tailer
    /// has read the log's position within this time.
    pub max_staleness: Duration,
}

impl Default for CacheOptions {
    fn default() -> Self {
        CacheOptions {
            max_entries: 50_000,
            max_bytes: 64 * 1024 * 1024,
            consistency_wait: Duration::from_millis(100),
            max_staleness: Duration::from_secs(5),
        }
    }
}

/// What a cached kind of resource shows besides its own rows and the resources named
/// under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Depends {
    /// Also what changes of these resource types alter (its own type included only if
    /// named: a partner shows other partners' memberships).
    On(&'static [&'static str]),
    /// Anything: every change of any type invalidates the whole kind (the safe default).
    Anything,
}

impl Depends {
    fn on(self, resource_type: &str) -> bool {
        match self {
            Depends::On(types) => types.contains(&resource_type),
            Depends::Anything => true,
        }
    }
}

/// How a read may be answered, decided once per call from its `registry-min-sequence`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReadMode {
    /// From the cache when it holds the resource (the token, if any, has been applied).
    #[default]
    Cached,
    /// From the database: the replica has not applied the caller's token in time.
    Database,
}

const STRIPES: usize = 4096;

/// The epoch of one cached kind.
#[derive(Debug)]
struct KindSlot {
    resource_type: &'static str,
    depends: Depends,
    epoch: Arc<AtomicU64>,
}

/// The epochs a value is read under, taken before the read.
#[derive(Debug, Clone)]
pub struct Stamp {
    kind: Arc<AtomicU64>,
    kind_epoch: u64,
    stripe: usize,
    stripe_epoch: u64,
}

#[derive(Clone)]
struct Entry {
    value: Arc<dyn Any + Send + Sync>,
    /// The value's encoded answer, derived from it once by the API layer (see [`Encoding`]).
    encoded: Encoding,
    stamp: Stamp,
    weight: u32,
}

/// The slot of a cached value's encoded answer (the bytes of its API message): filled once,
/// by the first read that needs it, from the value alone, and kept in the value's entry, so it
/// is invalidated with the value and never outlives it. The store does not know what the
/// bytes are; the API layer does.
pub type Encoding = Arc<OnceLock<bytes::Bytes>>;

/// The read cache of one replica (see the module documentation).
pub struct ReadCache {
    opts: CacheOptions,
    entries: moka::sync::Cache<String, Entry>,
    stripes: Box<[AtomicU64]>,
    kinds: Mutex<Vec<KindSlot>>,
    /// Every change at or below this has been invalidated (-1: the tailer has not started).
    applied: watch::Sender<i64>,
    /// When the tailer last confirmed the log's position (ms since `born`).
    synced: AtomicI64,
    born: Instant,
}

impl std::fmt::Debug for ReadCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("opts", &self.opts)
            .field("entries", &self.entries.entry_count())
            .field("applied", &*self.applied.borrow())
            .finish_non_exhaustive()
    }
}

fn stripe_of(name: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    name.hash(&mut h);
    (h.finish() as usize) % STRIPES
}

/// The names a change to `name` may alter on their own rows: itself and every resource
/// it is named under (`a/b/c/d` → `a/b/c/d`, `a/b`).
fn affected(name: &str) -> impl Iterator<Item = &str> {
    let cuts = name
        .match_indices('/')
        .map(|(i, _)| i)
        .skip(1)
        .step_by(2)
        .map(|i| &name[..i]);
    std::iter::once(name).chain(cuts)
}

impl ReadCache {
    pub fn new(opts: CacheOptions) -> ReadCache {
        let unit = (opts.max_bytes / opts.max_entries.max(1)).clamp(1, u64::from(u32::MAX));
        let entries = moka::sync::Cache::builder()
            .max_capacity(if opts.max_entries == 0 { 0 } else { opts.max_bytes })
            .weigher(move |_: &String, e: &Entry| u64::from(e.weight).max(unit).try_into().unwrap_or(u32::MAX))
            .build();
        ReadCache {
            opts,
            entries,
            stripes: (0..STRIPES).map(|_| AtomicU64::new(0)).collect(),
            kinds: Mutex::new(Vec::new()),
            applied: watch::channel(-1).0,
            synced: AtomicI64::new(i64::MIN),
            born: Instant::now(),
        }
    }

    pub fn options(&self) -> &CacheOptions {
        &self.opts
    }

    /// The epoch of kind `resource_type`, registered with what it depends on.
    pub fn kind(&self, resource_type: &'static str, depends: Depends) -> Arc<AtomicU64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = kinds.iter().find(|k| k.resource_type == resource_type) {
            return k.epoch.clone();
        }
        let epoch = Arc::new(AtomicU64::new(0));
        kinds.push(KindSlot {
            resource_type,
            depends,
            epoch: epoch.clone(),
        });
        epoch
    }

    /// The epochs to read `name` of `kind` under: take it before reading the database.
    pub fn stamp(&self, kind: &Arc<AtomicU64>, name: &str) -> Stamp {
        let stripe = stripe_of(name);
        Stamp {
            kind: kind.clone(),
            kind_epoch: kind.load(SeqCst),
            stripe,
            stripe_epoch: self.stripes[stripe].load(SeqCst),
        }
    }

    /// Whether a value read under `stamp` may still be served: nothing that may alter it
    /// has changed since, and the tailer is current.
    pub fn is_current(&self, stamp: &Stamp) -> bool {
        self.fresh() && self.unchanged(stamp)
    }

    fn unchanged(&self, stamp: &Stamp) -> bool {
        stamp.kind.load(SeqCst) == stamp.kind_epoch && self.stripes[stamp.stripe].load(SeqCst) == stamp.stripe_epoch
    }

    /// The tailer has confirmed the log's position within `max_staleness`.
    fn fresh(&self) -> bool {
        let now = self.born.elapsed().as_millis() as i64;
        now.saturating_sub(self.synced.load(SeqCst)) <= self.opts.max_staleness.as_millis() as i64
    }

    /// The cached value of `name`, if it is current.
    pub fn get<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.get_encoded(name).map(|(v, _)| v)
    }

    /// The cached value of `name` and the slot of its encoded answer, if it is current.
    pub fn get_encoded<T: Any + Send + Sync>(&self, name: &str) -> Option<(Arc<T>, Encoding)> {
        if self.opts.max_entries == 0 || !self.fresh() {
            return None;
        }
        let e = self.entries.get(name)?;
        if !self.unchanged(&e.stamp) {
            return None;
        }
        Some((e.value.downcast::<T>().ok()?, e.encoded))
    }

    /// Caches `value` (about `size` bytes), read under `stamp`; nothing if something
    /// changed since the stamp. The slot of its encoded answer, when it was cached.
    pub fn insert<T: Any + Send + Sync>(
        &self,
        name: String,
        value: Arc<T>,
        size: usize,
        stamp: Stamp,
    ) -> Option<Encoding> {
        if self.opts.max_entries == 0 || !self.unchanged(&stamp) {
            return None;
        }
        let weight = u32::try_from(size).unwrap_or(u32::MAX);
        if u64::from(weight) > self.opts.max_bytes {
            return None;
        }
        let encoded = Encoding::default();
        self.entries.insert(
            name,
            Entry {
                value,
                encoded: encoded.clone(),
                stamp,
                weight,
            },
        );
        Some(encoded)
    }

    /// Applies one change: `name` of `resource_type` changed.
    pub fn invalidate(&self, resource_type: &str, name: &str) {
        for n in affected(name) {
            self.stripes[stripe_of(n)].fetch_add(1, SeqCst);
            self.entries.invalidate(n);
        }
        let kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        for k in kinds.iter().filter(|k| k.depends.on(resource_type)) {
            k.epoch.fetch_add(1, SeqCst);
        }
    }

    /// The tailer has applied every change at or below `sequence`; with `read_at`, every
    /// change committed before then (it read the log's position then).
    pub fn advance(&self, sequence: i64, read_at: Option<Instant>) {
        if let Some(t) = read_at {
            let at = t.saturating_duration_since(self.born).as_millis() as i64;
            self.synced.fetch_max(at, SeqCst);
        }
        self.applied.send_if_modified(|a| {
            let moved = sequence > *a;
            *a = (*a).max(sequence);
            moved
        });
    }

    /// Every change at or below this has been applied here (-1 before the tailer starts).
    pub fn applied(&self) -> i64 {
        *self.applied.borrow()
    }

    /// How a read whose caller has seen sequence `min` may be answered: from the cache once
    /// this replica has applied `min` (waiting up to `consistency_wait`), else from the
    /// database.
    pub async fn mode_for(&self, min: i64) -> ReadMode {
        if self.applied() >= min {
            return ReadMode::Cached;
        }
        let mut rx = self.applied.subscribe();
        match tokio::time::timeout(self.opts.consistency_wait, rx.wait_for(|a| *a >= min)).await {
            Ok(Ok(_)) => ReadMode::Cached,
            _ => ReadMode::Database,
        }
    }

    /// Entries held and their weight in bytes (after pending evictions).
    pub fn usage(&self) -> (u64, u64) {
        self.entries.run_pending_tasks();
        (self.entries.entry_count(), self.entries.weighted_size())
    }
}

/// What the writes of one call did: the highest change-log sequence they drew and the
/// names they changed (applied to the cache when the call ends, after its commit).
#[derive(Debug, Default)]
pub struct CallWrites {
    sequence: AtomicI64,
    changed: Mutex<Vec<(&'static str, String)>>,
}

impl CallWrites {
    /// The highest sequence the call's writes were logged at (0: none).
    pub fn sequence(&self) -> i64 {
        self.sequence.load(SeqCst)
    }

    /// Invalidates what the call changed.
    pub fn apply(&self, cache: &ReadCache) {
        let changed = std::mem::take(&mut *self.changed.lock().unwrap_or_else(PoisonError::into_inner));
        for (t, n) in &changed {
            cache.invalidate(t, n);
        }
    }
}

tokio::task_local! {
    static CALL_WRITES: Arc<CallWrites>;
}

/// Runs `fut` (a call being served) recording its writes in `writes`.
pub async fn tracking_writes<F: Future>(writes: Arc<CallWrites>, fut: F) -> F::Output {
    CALL_WRITES.scope(writes, fut).await
}

/// Records logged changes of the call being served (nothing outside a call).
pub(crate) fn record_writes<'a>(sequence: i64, changed: impl Iterator<Item = (&'static str, &'a str)>) {
    let _ = CALL_WRITES.try_with(|w| {
        w.sequence.fetch_max(sequence, SeqCst);
        w.changed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(changed.map(|(t, n)| (t, n.to_owned())));
    });
}

/// The memory a cached value takes, estimated as four times its JSON form (counted
/// without building it): three for the value (allocated strings, vectors and maps, the entry
/// and the allocator's overhead; under the bench's `get` the server's RSS grew by about 4 KB
/// per cached goal) and one for its encoded answer ([`Encoding`]; protobuf is smaller than
/// JSON).
pub(crate) fn memory_size<T: serde::Serialize>(value: &T) -> usize {
    4 * json_size(value)
}

fn json_size<T: serde::Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(max_entries: u64, max_bytes: u64) -> ReadCache {
        let c = ReadCache::new(CacheOptions {
            max_entries,
            max_bytes,
            ..CacheOptions::default()
        });
        c.advance(0, Some(Instant::now()));
        c
    }

    const GOAL: &str = "motie.registry.v1.PolicyGoal";
    const RISK: &str = "motie.registry.v1.RiskEntry";

    #[test]
    fn names_under_a_resource_invalidate_it() {
        let got: Vec<&str> = affected("policyGoals/g/measurements/m").collect();
        assert_eq!(got, ["policyGoals/g/measurements/m", "policyGoals/g"]);
        assert_eq!(affected("policyGoals/g").collect::<Vec<_>>(), ["policyGoals/g"]);
    }

    #[test]
    fn a_value_read_before_a_change_is_never_served_after_it() {
        let c = cache(100, 1 << 20);
        let kind = c.kind(GOAL, Depends::On(&[RISK]));
        // The read raced a write: stamped before, the write's invalidation before the fill.
        let stamp = c.stamp(&kind, "policyGoals/a");
        c.invalidate(GOAL, "policyGoals/a");
        c.insert("policyGoals/a".into(), Arc::new(1u32), 10, stamp);
        assert_eq!(c.get::<u32>("policyGoals/a"), None);
        // The fill came first, then the invalidation.
        let stamp = c.stamp(&kind, "policyGoals/a");
        c.insert("policyGoals/a".into(), Arc::new(2u32), 10, stamp.clone());
        assert_eq!(c.get::<u32>("policyGoals/a").as_deref(), Some(&2));
        c.invalidate(GOAL, "policyGoals/a/measurements/m");
        assert_eq!(c.get::<u32>("policyGoals/a"), None);
        assert!(!c.is_current(&stamp));
        // A kind it depends on changes: the whole kind goes.
        let stamp = c.stamp(&kind, "policyGoals/b");
        c.insert("policyGoals/b".into(), Arc::new(3u32), 10, stamp);
        c.invalidate(RISK, "risks/r");
        assert_eq!(c.get::<u32>("policyGoals/b"), None);
    }

    /// Entries and bytes held after 100 values of `size` bytes went into a cache bounded
    /// to 10 entries and 1000 bytes.
    fn usage_after_filling(size: usize) -> (u64, u64) {
        let c = cache(10, 1000);
        let kind = c.kind(GOAL, Depends::On(&[]));
        for i in 0..100 {
            let name = format!("policyGoals/g{i}");
            let stamp = c.stamp(&kind, &name);
            c.insert(name, Arc::new(i), size, stamp);
        }
        c.usage()
    }

    #[test]
    fn both_bounds_hold() {
        let (entries, bytes) = usage_after_filling(10);
        assert!(entries <= 10 && bytes <= 1000, "{entries} entries, {bytes} bytes");
        // Large values: the bytes bound comes first.
        let (entries, bytes) = usage_after_filling(400);
        assert!(entries <= 2 && bytes <= 1000, "{entries} entries, {bytes} bytes");
    }

    #[test]
    fn a_stale_tailer_stops_the_cache() {
        let c = ReadCache::new(CacheOptions {
            max_staleness: Duration::from_millis(0),
            ..CacheOptions::default()
        });
        let kind = c.kind(GOAL, Depends::On(&[]));
        let stamp = c.stamp(&kind, "policyGoals/a");
        c.insert("policyGoals/a".into(), Arc::new(1u32), 10, stamp);
        // Never synced.
        assert_eq!(c.get::<u32>("policyGoals/a"), None);
    }

    #[tokio::test]
    async fn a_token_waits_for_the_tailer_then_falls_back() {
        let c = Arc::new(ReadCache::new(CacheOptions {
            consistency_wait: Duration::from_millis(50),
            ..CacheOptions::default()
        }));
        c.advance(5, Some(Instant::now()));
        assert_eq!(c.mode_for(5).await, ReadMode::Cached);
        assert_eq!(c.mode_for(6).await, ReadMode::Database);
        let c2 = c.clone();
        let waiting = tokio::spawn(async move { c2.mode_for(7).await });
        tokio::task::yield_now().await;
        c.advance(7, Some(Instant::now()));
        assert_eq!(waiting.await.unwrap(), ReadMode::Cached);
    }
}
