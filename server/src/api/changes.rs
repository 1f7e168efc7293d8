//! `motie.registry.v1.ChangeFeedService`.

use std::{collections::HashSet, pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use registry_proto::v1::{self as pb, change_feed_service_server::ChangeFeedService, watch_changes_response::Event};
use tokio::sync::{Semaphore, broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{from_timestamp, timestamp};
use crate::{
    auth::Principal,
    domain::{
        Collection, Error, Reason, Violations,
        enums::Role,
        goal::PolicyGoal,
        list::{self, PageTokens},
        token,
    },
    feed::Feed,
    limits::StreamSlots,
    store::{ChangeQuery, ChangeRecord, Store, TOKEN_TYPE},
};

const KINDS: &[(pb::change::Kind, &str)] = &[
    (pb::change::Kind::Created, "CREATED"),
    (pb::change::Kind::Updated, "UPDATED"),
    (pb::change::Kind::Deleted, "DELETED"),
    (pb::change::Kind::Undeleted, "UNDELETED"),
    (pb::change::Kind::Purged, "PURGED"),
];

/// The ChangeFeedService implementation.
#[derive(Debug, Clone)]
pub struct ChangesApi {
    store: Store,
    feed: Feed,
    shutdown: CancellationToken,
    slots: StreamSlots,
    /// Database reads of stream catch-ups in flight (each holds a pooled connection only
    /// for one page), so that a burst of opens leaves the pool to other calls.
    catch_up: Arc<Semaphore>,
    /// The latest changes as stream events, converted once for every watcher.
    events: Arc<Events>,
}

/// The stream events of the latest live changes (from the broadcast), by sequence: a change is
/// converted (its snapshot decoded and turned into its proto message) by the first watcher
/// that sends it, and the others clone that message. With thousands of watchers the conversion was most of the
/// server's work per delivery.
#[derive(Debug, Default)]
struct Events(std::sync::Mutex<std::collections::VecDeque<(i64, Arc<pb::WatchChangesResponse>)>>);

/// Converted events kept (watchers more than this many changes apart convert again).
const EVENTS_KEPT: usize = 256;

impl Events {
    fn get(&self, row: &ChangeRecord) -> pb::WatchChangesResponse {
        let find = |q: &std::collections::VecDeque<(i64, Arc<pb::WatchChangesResponse>)>| {
            q.iter().rev().find(|(s, _)| *s == row.sequence).map(|(_, e)| e.clone())
        };
        if let Some(e) = self.0.lock().ok().and_then(|q| find(&q)) {
            return (*e).clone();
        }
        let event = Arc::new(change_event(row));
        if let Ok(mut q) = self.0.lock()
            && find(&q).is_none()
        {
            if q.len() >= EVENTS_KEPT {
                q.pop_front();
            }
            q.push_back((row.sequence, event.clone()));
        }
        Arc::unwrap_or_clone(event)
    }
}

/// A watch's message as its channel holds it: boxed, so that the channel's buffer (allocated
/// with the channel, 32 slots at a time) holds pointers, not change events with their snapshot
/// inline, which are over a kilobyte each: that buffer was most of a watcher's memory.
type Boxed = Result<Box<pb::WatchChangesResponse>, Box<Status>>;

/// The watch's end of its response channel.
struct WatchTx(mpsc::Sender<Boxed>);

impl WatchTx {
    async fn send(&self, m: Result<pb::WatchChangesResponse, Status>) -> Result<(), ()> {
        self.0.send(m.map(Box::new).map_err(Box::new)).await.map_err(|_| ())
    }

    async fn closed(&self) {
        self.0.closed().await;
    }
}

/// Catch-up reads of opening streams that may run at once.
const CATCH_UP_READS: usize = 2;

impl ChangesApi {
    pub fn new(store: Store, feed: Feed, shutdown: CancellationToken, slots: StreamSlots) -> Self {
        ChangesApi {
            store,
            feed,
            shutdown,
            slots,
            catch_up: Arc::new(Semaphore::new(CATCH_UP_READS)),
            events: Arc::default(),
        }
    }
}

/// Who is asking, and whether they may see token records (ADMIN only).
fn caller<T>(request: &Request<T>) -> (String, bool, Option<time::OffsetDateTime>) {
    match request.extensions().get::<Principal>() {
        Some(p) => (p.token_id.clone(), token::allows(p.role, Role::Admin), p.expire_time),
        None => (String::new(), false, None),
    }
}

fn tokens_are_admin_business() -> Status {
    Error::PermissionDenied {
        reason: Reason::RoleTooLow,
        message: format!("changes of {TOKEN_TYPE} are visible to ADMIN tokens only"),
    }
    .into()
}

/// What a change means for the streams of token `token_id`.
enum TokenNews {
    /// Not a change of that token.
    None,
    /// The token was revoked or has expired.
    Ended(&'static str),
    /// The token now expires then (a rotation shortens its life).
    ExpiresAt(Option<time::OffsetDateTime>),
}

fn token_news(row: &ChangeRecord, token_id: &str) -> TokenNews {
    if row.resource_type != TOKEN_TYPE || row.resource_name.strip_prefix("tokens/") != Some(token_id) {
        return TokenNews::None;
    }
    let Some(snapshot) = &row.snapshot else {
        return TokenNews::Ended("was removed");
    };
    if snapshot.get("revoke_time").is_some_and(|t| !t.is_null()) {
        return TokenNews::Ended("was revoked");
    }
    let expires = snapshot
        .get("expire_time")
        .and_then(|t| t.as_str())
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
    if expires.is_some_and(|t| t <= time::OffsetDateTime::now_utc()) {
        return TokenNews::Ended("has expired");
    }
    TokenNews::ExpiresAt(expires)
}

/// The instant a token expiring at `t` stops (far in the future for never).
fn expiry_instant(t: Option<time::OffsetDateTime>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    match t {
        Some(t) => {
            now + (t - time::OffsetDateTime::now_utc())
                .try_into()
                .unwrap_or(Duration::ZERO)
        }
        None => now + Duration::from_secs(30 * 365 * 24 * 3600),
    }
}

fn token_ended(token_id: &str, what: &str, pos: i64) -> Status {
    Error::Unauthenticated {
        reason: Reason::TokenInvalid,
        message: format!("token {token_id} {what}; the stream ends (it had reached sequence {pos})"),
    }
    .into()
}

/// Resource types that appear in the change log.
const RESOURCE_TYPES: [&str; 9] = [
    Collection::PolicyGoals.resource_type(),
    Collection::TradePartners.resource_type(),
    Collection::ProductSets.resource_type(),
    Collection::Agreements.resource_type(),
    Collection::Risks.resource_type(),
    Collection::CheckIns.resource_type(),
    crate::store::FLOW_TYPE,
    crate::store::MEASUREMENT_TYPE,
    crate::store::TOKEN_TYPE,
];

fn check_resource_type(v: &mut Violations, field: &str, t: &str) {
    if !RESOURCE_TYPES.contains(&t) {
        v.add(
            field,
            format!("unknown resource type; one of {}", RESOURCE_TYPES.join(", ")),
        );
    }
}

/// Converts a change-log row to its proto form, decoding the snapshot by resource type.
pub fn change_to_proto(r: &ChangeRecord) -> pb::Change {
    let kind = KINDS
        .iter()
        .find(|(_, s)| *s == r.change_kind)
        .map_or(0, |(k, _)| *k as i32);
    let snapshot = r.snapshot.as_ref().and_then(|s| {
        /// Decodes the snapshot as a `T` and wraps its proto form.
        fn decode<T: serde::de::DeserializeOwned, P>(
            s: &serde_json::Value,
            to_proto: fn(&T) -> P,
            wrap: fn(P) -> pb::change::Snapshot,
        ) -> Option<pb::change::Snapshot> {
            serde_json::from_value::<T>(s.clone()).ok().map(|t| wrap(to_proto(&t)))
        }
        use crate::domain::{
            agreement::TradeAgreement, check_in::CheckIn, measurement::Measurement, partner, product_set::ProductSet,
            risk::RiskEntry,
        };
        use pb::change::Snapshot;
        match r.resource_type.as_str() {
            t if t == Collection::PolicyGoals.resource_type() => decode(s, PolicyGoal::to_proto, Snapshot::PolicyGoal),
            t if t == Collection::TradePartners.resource_type() => {
                decode(s, partner::TradePartner::to_proto, Snapshot::TradePartner)
            }
            t if t == Collection::Agreements.resource_type() => {
                decode(s, TradeAgreement::to_proto, Snapshot::TradeAgreement)
            }
            t if t == Collection::Risks.resource_type() => decode(s, RiskEntry::to_proto, Snapshot::Risk),
            t if t == Collection::CheckIns.resource_type() => decode(s, CheckIn::to_proto, Snapshot::CheckIn),
            t if t == crate::store::FLOW_TYPE => decode(s, partner::TradeFlow::to_proto, Snapshot::TradeFlow),
            t if t == crate::store::MEASUREMENT_TYPE => decode(s, Measurement::to_proto, Snapshot::Measurement),
            t if t == Collection::ProductSets.resource_type() => decode(s, ProductSet::to_proto, Snapshot::ProductSet),
            _ => None,
        }
    });
    pb::Change {
        sequence: r.sequence,
        resource_type: r.resource_type.clone(),
        resource_name: r.resource_name.clone(),
        kind,
        actor: r.actor.clone(),
        request_id: r.request_id.clone().unwrap_or_default(),
        change_time: Some(timestamp(r.change_time)),
        update_mask: (!r.update_mask.is_empty()).then(|| prost_types::FieldMask {
            paths: r.update_mask.clone(),
        }),
        snapshot,
    }
}

/// What a watch selects.
struct Selector {
    types: HashSet<String>,
    prefix: String,
    /// Token records are sent to ADMIN tokens only.
    tokens: bool,
}

impl Selector {
    fn matches(&self, r: &ChangeRecord) -> bool {
        (self.types.is_empty() || self.types.contains(&r.resource_type))
            && r.resource_name.starts_with(&self.prefix)
            && (self.tokens || r.resource_type != TOKEN_TYPE)
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchChangesResponse, Status>> + Send>>;

fn heartbeat(sequence: i64) -> pb::WatchChangesResponse {
    pb::WatchChangesResponse {
        event: Some(Event::Heartbeat(pb::Heartbeat {
            sequence,
            time: Some(timestamp(time::OffsetDateTime::now_utc())),
        })),
    }
}

#[tonic::async_trait]
impl ChangeFeedService for ChangesApi {
    type WatchChangesStream = WatchStream;

    async fn watch_changes(
        &self,
        request: Request<pb::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let (token_id, admin, mut expire_time) = caller(&request);
        let r = request.into_inner();
        let mut v = Violations::new();
        for (i, t) in r.resource_types.iter().enumerate() {
            check_resource_type(&mut v, &format!("resource_types[{i}]"), t);
        }
        if r.name_prefix.len() > 200 {
            v.add("name_prefix", "must be at most 200 characters");
        }
        let interval = match &r.heartbeat_interval {
            None => Duration::from_secs(15),
            Some(d) => {
                let ms = d
                    .seconds
                    .saturating_mul(1000)
                    .saturating_add(i64::from(d.nanos / 1_000_000));
                if !(100..=300_000).contains(&ms) {
                    v.add("heartbeat_interval", "must be between 0.1 s and 300 s");
                }
                Duration::from_millis(ms.clamp(100, 300_000) as u64)
            }
        };
        if r.after_sequence.is_some_and(|s| s < 0) {
            v.add("after_sequence", "must not be negative");
        }
        v.finish(|| ())?;
        if !admin && (r.resource_types.iter().any(|t| t == TOKEN_TYPE) || r.name_prefix.starts_with("tokens/")) {
            return Err(tokens_are_admin_business());
        }
        let slot = self.slots.acquire(&token_id)?;
        // Subscribe first, at a known position: the broadcast carries everything after it,
        // the log holds everything up to it.
        let (mut rx, guard, live_from) = self.feed.subscribe_at().await.map_err(|_| {
            Status::from(Error::Stopping {
                message: "the change feed has stopped; retry on another replica".into(),
            })
        })?;
        let start = match r.after_sequence {
            Some(after) => {
                let compacted = {
                    let _read = self.catch_up.acquire().await.map_err(|_| internal_closed())?;
                    self.store.compacted_through().await?
                };
                if after < compacted {
                    return Err(Error::OutOfRange {
                        reason: Reason::SequenceCompacted,
                        message: format!(
                            "changes up to sequence {compacted} have been compacted; resume after {compacted} (or re-read the resources)"
                        ),
                        metadata: vec![("oldest_sequence", (compacted + 1).to_string())],
                    }
                    .into());
                }
                after
            }
            None => live_from,
        };
        let selector = Selector {
            types: r.resource_types.into_iter().collect(),
            prefix: r.name_prefix,
            tokens: admin,
        };
        let (tx, out) = mpsc::channel(64);
        let tx = WatchTx(tx);
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        let catch_up = self.catch_up.clone();
        let events = self.events.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let _slot = slot;
            let mut pos = start;
            if tx.send(Ok(heartbeat(pos))).await.is_err() {
                return;
            }
            // Catch up from the log up to where the broadcast starts; each page waits for its
            // turn holding no connection.
            while pos < live_from {
                let rows = {
                    let Ok(_read) = catch_up.acquire().await else { return };
                    match store.changes_after(pos, live_from, 500).await {
                        Ok(rows) => rows,
                        Err(e) => {
                            let _ = tx.send(Err(e.into())).await;
                            return;
                        }
                    }
                };
                let full = rows.len() == 500;
                for row in rows {
                    pos = row.sequence;
                    match token_news(&row, &token_id) {
                        TokenNews::Ended(what) => {
                            let _ = tx.send(Err(token_ended(&token_id, what, pos))).await;
                            return;
                        }
                        TokenNews::ExpiresAt(t) => expire_time = t,
                        TokenNews::None => {}
                    }
                    // Converted here, not kept: a catch-up's older changes would push the
                    // live ones out of `events`.
                    if selector.matches(&row) && tx.send(Ok(change_event(&row))).await.is_err() {
                        return;
                    }
                }
                if !full {
                    pos = live_from;
                }
            }
            // The stream ends when its token expires.
            let expiry = tokio::time::sleep_until(expiry_instant(expire_time));
            tokio::pin!(expiry);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(row) => {
                            if row.sequence <= pos {
                                continue;
                            }
                            pos = row.sequence;
                            match token_news(&row, &token_id) {
                                TokenNews::Ended(what) => {
                                    let _ = tx.send(Err(token_ended(&token_id, what, pos))).await;
                                    return;
                                }
                                TokenNews::ExpiresAt(t) => expiry.as_mut().reset(expiry_instant(t)),
                                TokenNews::None => {}
                            }
                            if selector.matches(&row) {
                                if tx.send(Ok(events.get(&row))).await.is_err() {
                                    return;
                                }
                                tick.reset();
                            }
                        }
                        Err(RecvError::Lagged(_)) => {
                            let _ = tx.send(Err(Error::ResourceExhausted {
                                reason: Reason::WatcherLagging,
                                message: format!("watcher fell too far behind; resume after sequence {pos}"),
                            }.into())).await;
                            return;
                        }
                        Err(RecvError::Closed) => {
                            let _ = tx.send(Err(Error::Stopping {
                                message: format!("change feed stopped; resume after sequence {pos}"),
                            }.into())).await;
                            return;
                        }
                    },
                    _ = tick.tick() => {
                        if tx.send(Ok(heartbeat(pos))).await.is_err() {
                            return;
                        }
                    }
                    _ = shutdown.cancelled() => {
                        let _ = tx.send(Err(Error::Stopping {
                            message: format!("server shutting down; resume after sequence {pos}"),
                        }.into())).await;
                        return;
                    }
                    () = &mut expiry => {
                        let _ = tx.send(Err(token_ended(&token_id, "has expired", pos))).await;
                        return;
                    }
                    _ = tx.closed() => return,
                }
            }
        });
        use futures::StreamExt;
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(out).map(|m: Boxed| m.map(|m| *m).map_err(|s| *s)),
        )))
    }

    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let (_, admin, _) = caller(&request);
        let r = request.get_ref();
        if !admin && (r.resource_type == TOKEN_TYPE || r.resource_name.starts_with("tokens/")) {
            return Err(tokens_are_admin_business());
        }
        let mut v = Violations::new();
        let page_size = v.take(list::page_size(r.page_size));
        let mut kinds = Vec::new();
        for (i, k) in r.kinds.iter().enumerate() {
            match KINDS.iter().find(|(p, _)| *p as i32 == *k) {
                Some((_, s)) => kinds.push(*s),
                None => v.add(format!("kinds[{i}]"), "unknown change kind"),
            }
        }
        let start_time = r
            .start_time
            .as_ref()
            .and_then(|t| v.take(from_timestamp("start_time", t)));
        let end_time = r.end_time.as_ref().and_then(|t| v.take(from_timestamp("end_time", t)));
        if !r.resource_type.is_empty() {
            check_resource_type(&mut v, "resource_type", &r.resource_type);
        }
        for (field, value) in [("resource_name", &r.resource_name), ("actor", &r.actor)] {
            if value.len() > 300 || value.contains('\0') {
                v.add(field, "must be at most 300 characters without NUL");
            }
        }
        let page_size = v.values(page_size)?;
        let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let fingerprint = PageTokens::fingerprint(&[
            "changes",
            &r.resource_name,
            &r.resource_type,
            &r.actor,
            &format!("{kinds:?}{:?}{:?}{}{admin}", r.start_time, r.end_time, r.newest_first),
        ]);
        let (rows, next) = self
            .store
            .list_changes(&ChangeQuery {
                resource_name: none_if_empty(&r.resource_name),
                resource_type: none_if_empty(&r.resource_type),
                actor: none_if_empty(&r.actor),
                kinds,
                start_time,
                end_time,
                newest_first: r.newest_first,
                hide_tokens: !admin,
                page_size,
                page_token: r.page_token.clone(),
                fingerprint,
            })
            .await?;
        Ok(Response::new(pb::ListChangesResponse {
            changes: rows.iter().map(change_to_proto).collect(),
            next_page_token: next,
        }))
    }
}

fn internal_closed() -> Status {
    Error::Stopping {
        message: "the server is shutting down; retry on another replica".into(),
    }
    .into()
}

fn change_event(r: &ChangeRecord) -> pb::WatchChangesResponse {
    pb::WatchChangesResponse {
        event: Some(Event::Change(change_to_proto(r))),
    }
}
