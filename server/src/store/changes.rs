//! The change log: history queries, the tail read by the change feed, time travel and
//! compaction.

use std::time::Duration;

use sqlx::{Postgres, QueryBuilder, postgres::PgListener};
use time::OffsetDateTime;

use super::{Store, db_error, page::Key};
use crate::domain::{
    Error, Reason,
    list::{KeyType, SortValue},
};

/// The NOTIFY channel writers signal after appending changes (delivered at commit).
pub const NOTIFY_CHANNEL: &str = "registry_changes";

/// One row of the change log.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct ChangeRecord {
    pub sequence: i64,
    pub resource_type: String,
    pub resource_name: String,
    pub change_kind: String,
    pub actor: String,
    pub request_id: Option<String>,
    pub update_mask: Vec<String>,
    pub change_time: OffsetDateTime,
    pub snapshot: Option<serde_json::Value>,
}

/// Filters of a history listing.
#[derive(Debug, Clone, Default)]
pub struct ChangeQuery {
    pub resource_name: Option<String>,
    pub resource_type: Option<String>,
    pub actor: Option<String>,
    pub kinds: Vec<&'static str>,
    pub start_time: Option<OffsetDateTime>,
    pub end_time: Option<OffsetDateTime>,
    pub newest_first: bool,
    /// Leave token records out (callers below ADMIN).
    pub hide_tokens: bool,
    pub page_size: usize,
    pub page_token: String,
    pub fingerprint: String,
}

impl Store {
    /// The highest sequence that can no longer appear later: every number at or below it
    /// was drawn by a transaction that has since ended (committed and visible, or rolled
    /// back), so no change can appear at or below it later. (Numbers drawn by a rolled back
    /// transaction are never used: sequences may have holes, never late arrivals.)
    ///
    /// Writers hold a lock of their own from before they draw their numbers until they end
    /// ([`super::append_changes`]). This reads the sequence's last value, then waits for the
    /// writers whose locks are held at that point, each on its own lock: it pauses no writer
    /// (a writer that starts meanwhile takes a lock of its own, which nobody waits for), and
    /// a writer that drew a number at or below the value had its lock before. A writer of an
    /// earlier version of the registry (holding only the change-log lock, shared) is waited
    /// for the old way: by taking the change-log lock exclusively.
    pub async fn settled_sequence(&self) -> Result<i64, Error> {
        let mut conn = self.pool.acquire().await.map_err(db_error)?;
        let last: i64 =
            sqlx::query_scalar("SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM change_log_sequence")
                .fetch_one(&mut *conn)
                .await
                .map_err(db_error)?;
        let (writers, legacy): (Vec<i64>, bool) = sqlx::query_as(
            "SELECT
               coalesce((SELECT array_agg(w.objid::bigint) FROM pg_locks w
                         WHERE w.locktype = 'advisory' AND w.objsubid = 2 AND w.classid = $1::bigint::oid
                           AND w.granted AND w.pid IS DISTINCT FROM pg_backend_pid()), '{}'),
               EXISTS (SELECT 1 FROM pg_locks g
                       WHERE g.locktype = 'advisory' AND g.objsubid = 1 AND g.granted
                         AND g.classid = ($2 >> 32)::oid AND g.objid = ($2 & 4294967295)::oid
                         AND NOT EXISTS (SELECT 1 FROM pg_locks w
                                         WHERE w.pid = g.pid AND w.locktype = 'advisory' AND w.objsubid = 2
                                           AND w.classid = $1::bigint::oid AND w.granted))",
        )
        .bind(i64::from(super::CHANGE_LOG_WRITER_CLASS))
        .bind(super::CHANGE_LOG_LOCK)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error)?;
        if legacy {
            return sqlx::query_scalar(
                "WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock($1))
                 SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END FROM l, change_log_sequence s",
            )
            .bind(super::CHANGE_LOG_LOCK)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error);
        }
        if !writers.is_empty() {
            // Shared, each in turn, released when the statement ends: only the writer that
            // holds the lock waits for nobody; no later writer uses its key.
            let keys: Vec<i32> = writers.into_iter().filter_map(|k| i32::try_from(k).ok()).collect();
            sqlx::query("SELECT count(pg_advisory_xact_lock_shared($1, k)) FROM unnest($2::int[]) AS k")
                .bind(super::CHANGE_LOG_WRITER_CLASS)
                .bind(keys)
                .execute(&mut *conn)
                .await
                .map_err(db_error)?;
        }
        Ok(last)
    }

    /// The highest sequence in the log (0 when empty); committed changes may still appear
    /// below it. For metrics; readers use [`Store::settled_sequence`].
    pub async fn current_sequence(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT coalesce(max(sequence), 0) FROM change_log")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    /// Sequences at or below this may have been compacted away.
    pub async fn compacted_through(&self) -> Result<i64, Error> {
        sqlx::query_scalar("SELECT compacted_through FROM change_log_state")
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)
    }

    /// Up to `limit` changes after `after` and at or below `upto` (a [`Store::settled_sequence`]),
    /// in sequence order: nothing can later appear in that range.
    pub async fn changes_after(&self, after: i64, upto: i64, limit: i64) -> Result<Vec<ChangeRecord>, Error> {
        sqlx::query_as("SELECT * FROM change_log WHERE sequence > $1 AND sequence <= $2 ORDER BY sequence LIMIT $3")
            .bind(after)
            .bind(upto)
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(db_error)
    }

    /// A listener for change notifications (one per process; used only as a wake-up).
    pub async fn change_listener(&self) -> Result<PgListener, Error> {
        let mut l = PgListener::connect_with(&self.pool).await.map_err(db_error)?;
        l.listen(NOTIFY_CHANNEL).await.map_err(db_error)?;
        Ok(l)
    }

    /// Pages through the history.
    pub async fn list_changes(&self, q: &ChangeQuery) -> Result<(Vec<ChangeRecord>, String), Error> {
        // Only settled history: a page never shows a change while an earlier one could still
        // commit, so paging forward with the token misses nothing.
        let key = Key {
            expr: "sequence",
            ty: KeyType::Int,
            desc: q.newest_first,
        };
        let pager = self.pager(&q.fingerprint, &q.page_token, vec![key], q.page_size)?;
        let settled = self.settled_sequence().await?;
        let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM change_log WHERE sequence <= ");
        qb.push_bind(settled);
        if let Some(n) = &q.resource_name {
            qb.push(" AND resource_name = ").push_bind(n.clone());
        }
        if let Some(t) = &q.resource_type {
            qb.push(" AND resource_type = ").push_bind(t.clone());
        }
        if let Some(a) = &q.actor {
            qb.push(" AND actor = ").push_bind(a.clone());
        }
        if q.hide_tokens {
            qb.push(" AND resource_type <> ").push_bind(super::TOKEN_TYPE);
        }
        if !q.kinds.is_empty() {
            qb.push(" AND change_kind = ANY(")
                .push_bind(q.kinds.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
                .push(")");
        }
        if let Some(t) = q.start_time {
            qb.push(" AND change_time >= ").push_bind(t);
        }
        if let Some(t) = q.end_time {
            qb.push(" AND change_time < ").push_bind(t);
        }
        let rows: Vec<ChangeRecord> = pager.fetch(qb).await?;
        Ok(pager.finish(rows, |r| vec![SortValue::Int(r.sequence)]))
    }

    /// A resource as it was at `at`, from the snapshot of its newest change at or before then.
    pub(crate) async fn resource_at<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
        at: OffsetDateTime,
    ) -> Result<Option<T>, Error> {
        let oldest: Option<OffsetDateTime> = sqlx::query_scalar(
            "SELECT min(change_time) FROM change_log WHERE sequence > (SELECT compacted_through FROM change_log_state)",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_error)?;
        let compacted = self.compacted_through().await? > 0;
        if compacted && oldest.is_none_or(|o| at < o) {
            return Err(Error::OutOfRange {
                reason: Reason::ReadTimeBeforeHistory,
                message: "read_time is before the retained change history".into(),
                metadata: vec![],
            });
        }
        let row: Option<(String, Option<serde_json::Value>)> = sqlx::query_as(
            "SELECT change_kind, snapshot FROM change_log WHERE resource_name = $1 AND change_time <= $2
             ORDER BY sequence DESC LIMIT 1",
        )
        .bind(name)
        .bind(at)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_error)?;
        match row {
            Some((kind, Some(snapshot))) if kind != "PURGED" => serde_json::from_value(snapshot)
                .map(Some)
                .map_err(|e| Error::Internal(format!("stored snapshot of {name}: {e}"))),
            _ => Ok(None),
        }
    }

    /// Removes history older than `retention`, except the newest change of each resource
    /// that still exists, and advances the compaction watermark. Returns rows removed.
    pub async fn compact_changes(&self, retention: Duration) -> Result<u64, Error> {
        let cutoff = OffsetDateTime::now_utc() - retention;
        let mut tx = self.begin().await?;
        let through: Option<i64> = sqlx::query_scalar("SELECT max(sequence) FROM change_log WHERE change_time < $1")
            .bind(cutoff)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        let Some(through) = through else {
            return Ok(0);
        };
        let removed = sqlx::query(
            "DELETE FROM change_log c WHERE c.sequence <= $1
               AND (c.change_kind = 'PURGED'
                    OR EXISTS (SELECT 1 FROM change_log n WHERE n.resource_name = c.resource_name AND n.sequence > c.sequence)
                    OR EXISTS (SELECT 1 FROM change_log p WHERE p.resource_name = c.resource_name AND p.change_kind = 'PURGED'))",
        )
        .bind(through)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?
        .rows_affected();
        sqlx::query("UPDATE change_log_state SET compacted_through = greatest(compacted_through, $1)")
            .bind(through)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        Ok(removed)
    }
}
