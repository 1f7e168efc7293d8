//! Keyset pagination shared by every List: the `ORDER BY` of the requested keys (ties broken
//! by id) and the "after this cursor" predicate, over a table described by [`Sorting`].

use sqlx::{Postgres, QueryBuilder};
use time::OffsetDateTime;

use crate::domain::{
    Error,
    list::{Cursor, OrderKey, SortValue},
};

/// How a table's orderable fields are stored.
#[derive(Clone, Copy)]
pub(super) struct Sorting {
    /// The SQL expression of an orderable field (a fixed column or expression).
    pub column: fn(&str) -> &'static str,
    /// Whether the field is a timestamp (cursor values are microseconds).
    pub is_time: fn(&str) -> bool,
}

fn bad_token() -> Error {
    Error::invalid("page_token", "is not a page token issued for this request")
}

fn push_sort_value(qb: &mut QueryBuilder<Postgres>, s: Sorting, field: &str, value: &SortValue) -> Result<(), Error> {
    match ((s.is_time)(field), value) {
        (true, SortValue::Int(micros)) => {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(*micros) * 1000).map_err(|_| bad_token())?;
            qb.push_bind(t);
        }
        (false, SortValue::Text(v)) => {
            qb.push_bind(v.clone());
        }
        _ => return Err(bad_token()),
    }
    Ok(())
}

/// The id tie-breaker follows the keys' direction when they all agree (so one index scan in
/// either direction serves the query), otherwise ascending.
fn id_descending(order: &[OrderKey]) -> bool {
    !order.is_empty() && order.iter().all(|k| k.desc)
}

/// ` AND (rows after the cursor)`, in the requested order (ties by id).
pub(super) fn push_after(
    qb: &mut QueryBuilder<Postgres>,
    s: Sorting,
    order: &[OrderKey],
    cursor: &Cursor,
) -> Result<(), Error> {
    if cursor.keys.len() != order.len() {
        return Err(bad_token());
    }
    let id_desc = id_descending(order);
    if order.iter().all(|k| k.desc == id_desc) {
        // Every key (and the id) in one direction: a row comparison, which an index on
        // (k1, …, id) serves as a range (every orderable column is NOT NULL, so this equals
        // the expansion below).
        qb.push(" AND (");
        for key in order {
            qb.push((s.column)(key.field)).push(", ");
        }
        qb.push("id) ").push(if id_desc { "< (" } else { "> (" });
        for (j, key) in order.iter().enumerate() {
            push_sort_value(qb, s, key.field, &cursor.keys[j])?;
            qb.push(", ");
        }
        qb.push_bind(cursor.id.clone()).push(")");
        return Ok(());
    }
    // Mixed directions. Every row after the cursor has k1 >= v1 (<= when descending): stated
    // on its own, that bound lets an index on k1 start at the cursor.
    if let Some(first) = order.first() {
        qb.push(" AND ")
            .push((s.column)(first.field))
            .push(if first.desc { " <= " } else { " >= " });
        push_sort_value(qb, s, first.field, &cursor.keys[0])?;
    }
    // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR ... OR (k1 = v1 AND ... AND id > vid)
    qb.push(" AND (");
    let n = order.len();
    for i in 0..=n {
        if i > 0 {
            qb.push(" OR ");
        }
        qb.push("(");
        for (j, key) in order.iter().enumerate().take(i) {
            qb.push((s.column)(key.field)).push(" = ");
            push_sort_value(qb, s, key.field, &cursor.keys[j])?;
            qb.push(" AND ");
        }
        if i < n {
            let key = order[i];
            qb.push((s.column)(key.field))
                .push(if key.desc { " < " } else { " > " });
            push_sort_value(qb, s, key.field, &cursor.keys[i])?;
        } else {
            qb.push("id").push(if id_desc { " < " } else { " > " });
            qb.push_bind(cursor.id.clone());
        }
        qb.push(")");
    }
    qb.push(")");
    Ok(())
}

/// ` ORDER BY keys…, id LIMIT page_size + 1`.
pub(super) fn push_order_limit(qb: &mut QueryBuilder<Postgres>, s: Sorting, order: &[OrderKey], page_size: usize) {
    qb.push(" ORDER BY ");
    for key in order {
        qb.push((s.column)(key.field))
            .push(if key.desc { " DESC, " } else { " ASC, " });
    }
    qb.push(if id_descending(order) { "id DESC" } else { "id ASC" });
    qb.push(" LIMIT ").push_bind(page_size as i64 + 1);
}
