//! Check-ins in PostgreSQL: one row each in `check_ins`, never updated or deleted. Reads go
//! through the resource layer (a check-in id is unique in the registry); recording one locks
//! its goal's row and keeps the goal's `latest_check_in` in the same transaction.

use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

use super::{
    ListQuery, Store, WriteCtx, db_error,
    resource::{Begun, Kind, Meta, Page, Resource, not_found},
};
use crate::domain::{
    Collection, Error, Id,
    check_in::{self, CheckIn, CheckInSpec},
    enums::CheckInConfidence,
    filter::{Expr, Op, Value},
    goal::PolicyGoal,
    list::SortValue,
};

const GOALS: Collection = Collection::PolicyGoals;

#[derive(sqlx::FromRow)]
pub struct CheckInRow {
    id: String,
    goal_id: String,
    check_in_time: OffsetDateTime,
    confidence: String,
    note: String,
    author: String,
    source: String,
    quote: String,
    create_time: OffsetDateTime,
    creator: String,
}

impl TryFrom<CheckInRow> for CheckIn {
    type Error = Error;
    fn try_from(r: CheckInRow) -> Result<Self, Error> {
        let corrupt = |what: &str| Error::Internal(format!("stored check-in {} has an invalid {what}", r.id));
        Ok(CheckIn {
            goal: Id::try_from(r.goal_id.clone()).map_err(|_| corrupt("goal"))?,
            confidence: CheckInConfidence::parse(&r.confidence).ok_or_else(|| corrupt("confidence"))?,
            id: Id::try_from(r.id.clone()).map_err(|_| corrupt("id"))?,
            check_in_time: r.check_in_time,
            note: r.note,
            author: r.author,
            source: r.source,
            quote: r.quote,
            create_time: r.create_time,
            creator: r.creator,
        })
    }
}

impl Resource for CheckIn {
    const KIND: Kind = Kind {
        collection: Collection::CheckIns,
        fields: check_in::FIELDS,
        select: "SELECT * FROM check_ins",
        table: "check_ins",
        id: "check_ins.id",
        lock_then_read: false,
    };
    type Row = CheckInRow;

    /// Never changed after it is recorded: always revision 1, never deleted.
    fn meta(&self) -> Meta<'_> {
        Meta {
            id: &self.id,
            revision: 1,
            create_time: self.create_time,
            delete_time: None,
        }
    }

    fn sort_value(&self, field: &str) -> SortValue {
        CheckIn::sort_value(self, field)
    }

    fn name(&self) -> String {
        CheckIn::name(self)
    }
}

fn check_in_not_found(goal: &Id, id: &Id) -> Error {
    Error::NotFound {
        resource_type: Collection::CheckIns.resource_type(),
        name: check_in::check_in_name(goal, id),
    }
}

/// `SELECT … FROM check_ins` of the newest check-in of each goal: newest `check_in_time`,
/// then the one recorded last, then by id, the first of a List in its default order.
const LATEST: &str = "SELECT DISTINCT ON (goal_id) * FROM check_ins
     WHERE goal_id = ANY($1) AND ($2::timestamptz IS NULL OR create_time <= $2)
     ORDER BY goal_id, check_in_time DESC, create_time DESC, id";

/// The newest check-in of each of `goals` (recorded by `as_of`, if given).
async fn latest<'e>(
    ex: impl sqlx::PgExecutor<'e>,
    goals: &[&str],
    as_of: Option<OffsetDateTime>,
) -> Result<Vec<CheckIn>, Error> {
    let rows: Vec<CheckInRow> = sqlx::query_as(LATEST)
        .bind(goals)
        .bind(as_of)
        .fetch_all(ex)
        .await
        .map_err(db_error)?;
    rows.into_iter().map(CheckIn::try_from).collect()
}

impl Store {
    /// Records a check-in on a live goal (`id`: the client's, or `None` for a new one) and
    /// stores it as the goal's latest if it is the newest. With a request id, a retry returns
    /// the original check-in.
    pub async fn create_check_in(
        &self,
        goal: &Id,
        id: Option<Id>,
        spec: CheckInSpec,
        ctx: &WriteCtx,
    ) -> Result<CheckIn, Error> {
        const METHOD: &str = "CreateCheckIn";
        let asked = (id.as_ref().map(Id::as_str), &spec);
        let mut tx = match self.begin_create(METHOD, goal, &asked, ctx).await? {
            Begun::Write(tx) => tx,
            Begun::Replayed(original) => return Ok(original),
        };
        // The goal's row lock orders the check-ins of one goal and their `latest_check_in`.
        let deleted: Option<Option<OffsetDateTime>> =
            sqlx::query_scalar("SELECT delete_time FROM policy_goals WHERE id = $1 FOR UPDATE")
                .bind(goal.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
        match deleted {
            None => return Err(not_found::<PolicyGoal>(goal)),
            Some(Some(_)) => {
                return Err(super::resource_deleted(
                    GOALS.name(goal),
                    "is deleted; undelete it before checking in",
                ));
            }
            Some(None) => {}
        }
        let id = id.unwrap_or_else(check_in::new_id);
        let author = if spec.author.is_empty() {
            &ctx.actor.id
        } else {
            &spec.author
        };
        let row: Option<CheckInRow> = sqlx::query_as(
            "INSERT INTO check_ins (id, goal_id, check_in_time, confidence, note, author, source, quote,
                 create_time, creator)
             VALUES ($1, $2, COALESCE($3, now()), $4, $5, $6, $7, $8, now(), $9)
             ON CONFLICT (id) DO NOTHING
             RETURNING *",
        )
        .bind(id.as_str())
        .bind(goal.as_str())
        .bind(spec.check_in_time)
        .bind(spec.confidence.as_str())
        .bind(&spec.note)
        .bind(author)
        .bind(&spec.source)
        .bind(&spec.quote)
        .bind(&ctx.actor.id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Err(Error::AlreadyExists {
                resource_type: Collection::CheckIns.resource_type(),
                name: check_in::check_in_name(goal, &id),
            });
        };
        let created = CheckIn::try_from(row)?;
        Self::keep_latest(&mut tx, goal).await?;
        Self::commit_created(tx, &created, METHOD, ctx).await?;
        Ok(created)
    }

    /// Stores the newest check-in of `goal` on its row (`latest_check_in`, `latest_confidence`).
    async fn keep_latest(tx: &mut Transaction<'static, Postgres>, goal: &Id) -> Result<(), Error> {
        let newest = latest(&mut **tx, &[goal.as_str()], None).await?.pop();
        let json = newest.as_ref().map(super::resource::snapshot).transpose()?;
        sqlx::query("UPDATE policy_goals SET latest_check_in = $2, latest_confidence = $3 WHERE id = $1")
            .bind(goal.as_str())
            .bind(json)
            .bind(newest.map(|c| c.confidence.as_str()).unwrap_or_default())
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Attaches each goal's newest check-in as recorded by `as_of` (a read at a past time;
    /// current reads take the stored `latest_check_in` of the goal's row).
    pub(super) async fn attach_latest_check_ins(
        &self,
        goals: &mut [PolicyGoal],
        as_of: OffsetDateTime,
    ) -> Result<(), Error> {
        let ids: Vec<&str> = goals.iter().map(|g| g.id.as_str()).collect();
        let found = latest(&self.pool, &ids, Some(as_of)).await?;
        for g in goals.iter_mut() {
            g.latest_check_in = found.iter().find(|c| c.goal == g.id).cloned();
        }
        Ok(())
    }

    /// The check-in `id` of `goal`; with `at`, NOT_FOUND unless it had been recorded by then.
    pub async fn get_check_in(&self, goal: &Id, id: &Id, at: Option<OffsetDateTime>) -> Result<CheckIn, Error> {
        match self.get::<CheckIn>(id).await {
            Ok(c) if c.goal == *goal && at.is_none_or(|t| c.create_time <= t) => Ok(c),
            Ok(_) | Err(Error::NotFound { .. }) => Err(check_in_not_found(goal, id)),
            Err(e) => Err(e),
        }
    }

    /// The check-ins `wanted` (goal, id), in the order asked; NOT_FOUND names the first
    /// missing one, or with `allow_missing` missing ones are left out.
    pub async fn batch_get_check_ins(&self, wanted: &[(Id, Id)], allow_missing: bool) -> Result<Vec<CheckIn>, Error> {
        let ids: Vec<Id> = wanted.iter().map(|(_, id)| id.clone()).collect();
        let found = self.batch_get::<CheckIn>(&ids, true).await?;
        let mut out = Vec::with_capacity(wanted.len());
        for (goal, id) in wanted {
            match found.iter().find(|c| c.id == *id && c.goal == *goal) {
                Some(c) => out.push(c.clone()),
                None if allow_missing => {}
                None => return Err(check_in_not_found(goal, id)),
            }
        }
        Ok(out)
    }

    /// Lists the check-ins of `goal` (every goal's for `None`) recorded by `read_time`: the
    /// resource layer's List with the goal and the time added to the request's filter. The
    /// goal must exist (it may be soft-deleted).
    pub async fn list_check_ins(
        &self,
        goal: Option<&Id>,
        read_time: Option<OffsetDateTime>,
        mut q: ListQuery,
    ) -> Result<Page<CheckIn>, Error> {
        let cmp = |field, op, value| Expr::Cmp {
            field,
            label_key: None,
            op,
            value,
        };
        let mut parts = Vec::new();
        if let Some(goal) = goal {
            let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM policy_goals WHERE id = $1)")
                .bind(goal.as_str())
                .fetch_one(&self.pool)
                .await
                .map_err(db_error)?;
            if !exists {
                return Err(not_found::<PolicyGoal>(goal));
            }
            parts.push(cmp("goal", Op::Eq, Value::Name(GOALS, Some(goal.clone()))));
        }
        if let Some(t) = read_time {
            parts.push(cmp("create_time", Op::Le, Value::Time(t)));
        }
        parts.extend(q.filter.take());
        q.filter = (!parts.is_empty()).then(|| Expr::and(parts));
        // Check-ins are never deleted: there is nothing for `show_deleted` to hide.
        q.show_deleted = true;
        self.list::<CheckIn>(&q).await
    }
}
