//! Measurements in PostgreSQL, and the progress of goal targets computed from them.

use std::collections::{BTreeSet, HashMap};

use sqlx::{PgExecutor, Postgres, QueryBuilder, Transaction, types::Json};
use time::OffsetDateTime;

use super::{
    Change, ChangeKind, Claim, Store, WriteCtx, append_changes_answering, claim_request, db_error, page::Key,
    request_hash,
};
use crate::domain::{
    Collection, Error, Id, Reason,
    enums::ProgressState,
    goal::{PolicyGoal, Target},
    list::{KeyType, SortValue},
    measurement::{self, Measurement, MeasurementSpec},
    progress::{self, Observation, Progress},
};

/// The change-feed resource type of measurements.
pub const MEASUREMENT_TYPE: &str = "motie.registry.v1.Measurement";

const GOALS: Collection = Collection::PolicyGoals;

#[derive(sqlx::FromRow)]
struct MeasurementRow {
    goal_id: String,
    id: String,
    metric: String,
    value: f64,
    observe_time: OffsetDateTime,
    source: String,
    note: String,
    create_time: OffsetDateTime,
    recorder: String,
}

impl TryFrom<MeasurementRow> for Measurement {
    type Error = Error;
    fn try_from(r: MeasurementRow) -> Result<Self, Error> {
        Ok(Measurement {
            goal: Id::try_from(r.goal_id)
                .map_err(|_| Error::Internal("stored measurement has an invalid goal".into()))?,
            id: r.id,
            metric: r.metric,
            value: r.value,
            observe_time: r.observe_time,
            source: r.source,
            note: r.note,
            create_time: r.create_time,
            recorder: r.recorder,
        })
    }
}

/// A ListMeasurements request, validated.
#[derive(Debug, Clone)]
pub struct MeasurementQuery {
    pub goal: Id,
    pub metric: Option<String>,
    /// Observed at or after.
    pub start_time: Option<OffsetDateTime>,
    /// Observed before.
    pub end_time: Option<OffsetDateTime>,
    pub page_size: usize,
    pub page_token: String,
    pub fingerprint: String,
}

/// One page of measurements.
#[derive(Debug, Clone)]
pub struct MeasurementPage {
    pub measurements: Vec<Measurement>,
    pub next_page_token: String,
}

/// The earliest and latest measurement of each (goal, metric).
type Extremes = HashMap<(String, String), (Observation, Observation)>;

/// One query for the earliest and the latest measurement of every metric of `goals`
/// (DISTINCT ON over `measurements_progress_idx`, once forward, once backward). With `as_of`,
/// only measurements recorded by then count.
async fn extremes<'e>(
    ex: impl PgExecutor<'e>,
    goals: &[&str],
    as_of: Option<OffsetDateTime>,
) -> Result<Extremes, Error> {
    if goals.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(bool, String, String, f64, OffsetDateTime)> = sqlx::query_as(
        "(SELECT DISTINCT ON (goal_id, metric) true, goal_id, metric, value, observe_time
            FROM measurements WHERE goal_id = ANY($1) AND ($2::timestamptz IS NULL OR create_time <= $2)
            ORDER BY goal_id DESC, metric DESC, observe_time DESC, seq DESC)
         UNION ALL
         (SELECT DISTINCT ON (goal_id, metric) false, goal_id, metric, value, observe_time
            FROM measurements WHERE goal_id = ANY($1) AND ($2::timestamptz IS NULL OR create_time <= $2)
            ORDER BY goal_id, metric, observe_time, seq)",
    )
    .bind(goals)
    .bind(as_of)
    .fetch_all(ex)
    .await
    .map_err(db_error)?;
    let mut out: Extremes = HashMap::new();
    for (latest, goal, metric, value, time) in rows {
        let o = Observation { value, time };
        let e = out.entry((goal, metric)).or_insert((o, o));
        if latest {
            e.1 = o;
        } else {
            e.0 = o;
        }
    }
    Ok(out)
}

/// The progress of each target of a goal.
fn progress_of(goal: &str, targets: &[Target], x: &Extremes) -> Vec<Progress> {
    targets
        .iter()
        .map(|t| {
            let found = x.get(&(goal.to_owned(), t.metric.clone()));
            progress::compute(t, found.map(|(e, _)| e), found.map(|(_, l)| l))
        })
        .collect()
}

/// The stored form of a goal's progress: the distinct states of its targets, sorted.
fn states(progress: &[Progress]) -> Vec<String> {
    progress
        .iter()
        .map(|p| p.state.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Computes the progress of a goal with `targets` inside a write transaction; returns it and
/// its stored form (for the `progress_states` column).
pub(super) async fn compute_progress(
    tx: &mut Transaction<'static, Postgres>,
    goal: &Id,
    targets: &[Target],
) -> Result<(Vec<Progress>, Vec<String>), Error> {
    if targets.is_empty() {
        return Ok((vec![], vec![]));
    }
    let x = extremes(&mut **tx, &[goal.as_str()], None).await?;
    Ok(progress_and_states(goal, targets, &x))
}

/// The progress of a goal without measurements (a new one), with its stored form.
pub(super) fn unmeasured_progress(goal: &Id, targets: &[Target]) -> (Vec<Progress>, Vec<String>) {
    progress_and_states(goal, targets, &HashMap::new())
}

fn progress_and_states(goal: &Id, targets: &[Target], x: &Extremes) -> (Vec<Progress>, Vec<String>) {
    let p = progress_of(goal.as_str(), targets, x);
    let s = states(&p);
    (p, s)
}

fn not_found(id: &Id) -> Error {
    Error::NotFound {
        resource_type: GOALS.resource_type(),
        name: GOALS.name(id),
    }
}

/// The stored form of one target's progress (an element of `policy_goals.progress`).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredProgress {
    state: String,
    latest_value: Option<f64>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    latest_time: Option<OffsetDateTime>,
    percent_complete: Option<f64>,
    explanation: String,
}

/// `policy_goals.progress` for these progresses.
pub(super) fn progress_json(progress: &[Progress]) -> serde_json::Value {
    let stored: Vec<StoredProgress> = progress
        .iter()
        .map(|p| StoredProgress {
            state: p.state.as_str().to_owned(),
            latest_value: p.latest.map(|o| o.value),
            latest_time: p.latest.map(|o| o.time),
            percent_complete: p.percent_complete,
            explanation: p.explanation.clone(),
        })
        .collect();
    serde_json::to_value(stored).unwrap_or(serde_json::Value::Null)
}

/// The progresses stored in `policy_goals.progress`, one per target; empty (to be computed)
/// when absent or not of that shape.
pub(super) fn progress_from_json(v: Option<&str>, targets: usize) -> Vec<Progress> {
    let Some(Ok(stored)) = v.map(serde_json::from_str::<Vec<StoredProgress>>) else {
        return Vec::new();
    };
    let progress: Option<Vec<Progress>> = stored
        .into_iter()
        .map(|s| {
            Some(Progress {
                state: ProgressState::parse(&s.state)?,
                latest: match (s.latest_value, s.latest_time) {
                    (Some(value), Some(time)) => Some(Observation { value, time }),
                    _ => None,
                },
                percent_complete: s.percent_complete,
                explanation: s.explanation,
            })
        })
        .collect();
    progress.filter(|p| p.len() == targets).unwrap_or_default()
}

impl Store {
    /// Attaches the progress of every target to `goals` (one query for all of them). With
    /// `as_of`, from the measurements recorded by then; without, only to goals whose stored
    /// progress was not read with them.
    pub(crate) async fn attach_progress(
        &self,
        goals: &mut [PolicyGoal],
        as_of: Option<OffsetDateTime>,
    ) -> Result<(), Error> {
        let missing = |g: &PolicyGoal| as_of.is_some() || g.progress.len() != g.spec.targets.len();
        let ids: Vec<&str> = goals
            .iter()
            .filter(|g| !g.spec.targets.is_empty() && missing(g))
            .map(|g| g.id.as_str())
            .collect();
        if ids.is_empty() {
            return Ok(());
        }
        let x = extremes(&self.pool, &ids, as_of).await?;
        for g in goals.iter_mut().filter(|g| missing(g)) {
            g.progress = progress_of(g.id.as_str(), &g.spec.targets, &x);
        }
        Ok(())
    }

    /// Records a measurement of a live goal's target and recomputes the goal's stored progress
    /// states. With a request id, a retry returns the original measurement.
    pub async fn record_measurement(
        &self,
        goal: &Id,
        spec: MeasurementSpec,
        ctx: &WriteCtx,
    ) -> Result<Measurement, Error> {
        let spec_json = serde_json::to_vec(&spec).unwrap_or_default();
        let hash = request_hash(&[goal.as_str().as_bytes(), &spec_json]);
        let mut tx = self.begin().await?;
        if let Claim::Replay(resp) = claim_request(&mut tx, "RecordMeasurement", ctx, &hash).await? {
            return serde_json::from_value(resp).map_err(|e| Error::Internal(format!("stored response: {e}")));
        }
        // The row lock orders measurements of one goal with each other and with target changes.
        let row: Option<(Json<Vec<Target>>, Option<OffsetDateTime>)> =
            sqlx::query_as("SELECT targets, delete_time FROM policy_goals WHERE id = $1 FOR UPDATE")
                .bind(goal.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        let Some((Json(targets), deleted)) = row else {
            return Err(not_found(goal));
        };
        if deleted.is_some() {
            return Err(super::resource_deleted(
                GOALS.name(goal),
                "is deleted; undelete it before recording measurements",
            ));
        }
        if !targets.iter().any(|t| t.metric == spec.metric) {
            let metrics: Vec<&str> = targets.iter().map(|t| t.metric.as_str()).collect();
            return Err(Error::failed_precondition(
                Reason::MetricNotATarget,
                format!(
                    "measurement.metric {:?} is not a target metric of {}; its metrics are: {}",
                    spec.metric,
                    GOALS.name(goal),
                    if metrics.is_empty() {
                        "(none)".to_owned()
                    } else {
                        metrics.join(", ")
                    }
                ),
                Some(GOALS.name(goal)),
            ));
        }
        let row: MeasurementRow = sqlx::query_as(
            "INSERT INTO measurements (goal_id, id, metric, value, observe_time, source, note, create_time, recorder)
             VALUES ($1, $2, $3, $4, $5, $6, $7, now(), $8)
             RETURNING *",
        )
        .bind(goal.as_str())
        .bind(measurement::new_id())
        .bind(&spec.metric)
        .bind(spec.value)
        .bind(spec.observe_time)
        .bind(&spec.source)
        .bind(&spec.note)
        .bind(&ctx.actor.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        let m = Measurement::try_from(row)?;
        let (progress, states) = compute_progress(&mut tx, goal, &targets).await?;
        sqlx::query("UPDATE policy_goals SET progress_states = $2, progress = $3 WHERE id = $1")
            .bind(goal.as_str())
            .bind(&states)
            .bind(progress_json(&progress))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let snap = serde_json::to_value(&m).map_err(|e| Error::Internal(format!("cannot encode measurement: {e}")))?;
        let change = Change {
            resource_type: MEASUREMENT_TYPE,
            name: m.name(),
            kind: ChangeKind::Created,
            mask: vec![],
            snapshot: Some(snap.clone()),
            ctx,
        };
        append_changes_answering(&mut tx, &[change], "RecordMeasurement", ctx, &snap).await?;
        Self::finish(tx, ctx).await?;
        Ok(m)
    }

    /// Lists a goal's measurements by (observe_time, id), one keyset page.
    pub async fn list_measurements(&self, q: &MeasurementQuery) -> Result<MeasurementPage, Error> {
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM policy_goals WHERE id = $1)")
            .bind(q.goal.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(db_error)?;
        if !exists {
            return Err(not_found(&q.goal));
        }
        const KEYS: [Key; 2] = [Key::asc("observe_time", KeyType::Time), Key::asc("id", KeyType::Text)];
        let pager = self.pager(&q.fingerprint, &q.page_token, KEYS.to_vec(), q.page_size)?;
        let mut qb = QueryBuilder::<Postgres>::new("SELECT * FROM measurements WHERE goal_id = ");
        qb.push_bind(q.goal.as_str().to_owned());
        if let Some(m) = &q.metric {
            qb.push(" AND metric = ").push_bind(m.clone());
        }
        if let Some(t) = q.start_time {
            qb.push(" AND observe_time >= ").push_bind(t);
        }
        if let Some(t) = q.end_time {
            qb.push(" AND observe_time < ").push_bind(t);
        }
        let (measurements, next_page_token) = pager
            .page::<MeasurementRow, Measurement>(qb, |m| {
                vec![SortValue::time(m.observe_time), SortValue::Text(m.id.clone())]
            })
            .await?;
        Ok(MeasurementPage {
            measurements,
            next_page_token,
        })
    }
}
