//! `motie.registry.v1.ChangeFeedService`.

use std::{collections::HashSet, pin::Pin, time::Duration};

use futures::Stream;
use registry_proto::v1::{self as pb, change_feed_service_server::ChangeFeedService, watch_changes_response::Event};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_util::sync::CancellationToken;
use tonic::{Request, Response, Status};

use super::{from_timestamp, timestamp};
use crate::{
    domain::{
        Collection, Error, Reason, Violations,
        goal::PolicyGoal,
        list::{self, PageTokens},
    },
    feed::Feed,
    store::{ChangeQuery, ChangeRecord, Store},
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
}

impl ChangesApi {
    pub fn new(store: Store, feed: Feed, shutdown: CancellationToken) -> Self {
        ChangesApi { store, feed, shutdown }
    }
}

/// Resource types that appear in the change log.
const RESOURCE_TYPES: [&str; 6] = [
    Collection::PolicyGoals.resource_type(),
    Collection::TradePartners.resource_type(),
    Collection::Risks.resource_type(),
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
        if r.resource_type == Collection::PolicyGoals.resource_type() {
            serde_json::from_value::<PolicyGoal>(s.clone())
                .ok()
                .map(|g| pb::change::Snapshot::PolicyGoal(g.to_proto()))
        } else if r.resource_type == Collection::TradePartners.resource_type() {
            serde_json::from_value::<crate::domain::partner::TradePartner>(s.clone())
                .ok()
                .map(|p| pb::change::Snapshot::TradePartner(p.to_proto()))
        } else if r.resource_type == Collection::Risks.resource_type() {
            serde_json::from_value::<crate::domain::risk::RiskEntry>(s.clone())
                .ok()
                .map(|k| pb::change::Snapshot::Risk(k.to_proto()))
        } else if r.resource_type == crate::store::FLOW_TYPE {
            serde_json::from_value::<crate::domain::partner::TradeFlow>(s.clone())
                .ok()
                .map(|f| pb::change::Snapshot::TradeFlow(f.to_proto()))
        } else if r.resource_type == crate::store::MEASUREMENT_TYPE {
            serde_json::from_value::<crate::domain::measurement::Measurement>(s.clone())
                .ok()
                .map(|m| pb::change::Snapshot::Measurement(m.to_proto()))
        } else {
            None
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
}

impl Selector {
    fn matches(&self, r: &ChangeRecord) -> bool {
        (self.types.is_empty() || self.types.contains(&r.resource_type)) && r.resource_name.starts_with(&self.prefix)
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
        if !v.is_empty() {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        }
        // Subscribe before reading the log, so nothing committed in between is missed.
        let (mut rx, guard) = self.feed.subscribe();
        let start = match r.after_sequence {
            Some(after) => {
                let compacted = self.store.compacted_through().await?;
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
            None => self.store.settled_sequence().await?,
        };
        let selector = Selector {
            types: r.resource_types.into_iter().collect(),
            prefix: r.name_prefix,
        };
        let (tx, out) = mpsc::channel::<Result<pb::WatchChangesResponse, Status>>(64);
        let store = self.store.clone();
        let shutdown = self.shutdown.clone();
        tokio::spawn(async move {
            let _guard = guard;
            let mut pos = start;
            if tx.send(Ok(heartbeat(pos))).await.is_err() {
                return;
            }
            // Catch up from the log, up to its settled point: everything after that is
            // broadcast after we subscribed (the tailer cannot have broadcast past it yet).
            let settled = match store.settled_sequence().await {
                Ok(s) => s.max(pos),
                Err(e) => {
                    let _ = tx.send(Err(e.into())).await;
                    return;
                }
            };
            loop {
                let rows = match store.changes_after(pos, settled, 500).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                let full = rows.len() == 500;
                for row in rows {
                    pos = row.sequence;
                    if selector.matches(&row) && tx.send(Ok(change_event(&row))).await.is_err() {
                        return;
                    }
                }
                if !full {
                    pos = settled;
                    break;
                }
            }
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(row) => {
                            if row.sequence <= pos {
                                continue;
                            }
                            pos = row.sequence;
                            if selector.matches(&row) {
                                if tx.send(Ok(change_event(&row))).await.is_err() {
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
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(
            out,
        ))))
    }

    async fn list_changes(
        &self,
        request: Request<pb::ListChangesRequest>,
    ) -> Result<Response<pb::ListChangesResponse>, Status> {
        let r = request.get_ref();
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
        let (Some(page_size), true) = (page_size, v.is_empty()) else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let none_if_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        let fingerprint = PageTokens::fingerprint(&[
            "changes",
            &r.resource_name,
            &r.resource_type,
            &r.actor,
            &format!("{kinds:?}{:?}{:?}{}", r.start_time, r.end_time, r.newest_first),
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

fn change_event(r: &ChangeRecord) -> pb::WatchChangesResponse {
    pb::WatchChangesResponse {
        event: Some(Event::Change(change_to_proto(r))),
    }
}
