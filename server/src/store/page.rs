//! The one keyset pager of every List (goals, partners, flows, measurements, changes): the
//! `ORDER BY` of a list of sort keys, the "after this cursor" predicate, and the signed page
//! token that carries the cursor from one page to the next.

use sqlx::{FromRow, Postgres, QueryBuilder, postgres::PgRow};
use time::OffsetDateTime;

use super::{Store, db_error};
use crate::domain::{
    Error,
    list::{Cursor, FieldDef, FieldKind, KeyType, OrderKey, SortValue},
};

/// One sort key: a fixed SQL expression (never request text), its type and direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Key {
    pub expr: &'static str,
    pub ty: KeyType,
    pub desc: bool,
}

impl Key {
    pub const fn asc(expr: &'static str, ty: KeyType) -> Key {
        Key { expr, ty, desc: false }
    }
}

/// The keys of an `order_by` over a resource's fields, then the `id` tie-breaker, so the
/// order is total. The tie-breaker follows the keys' direction when they all agree (so one
/// index scan in either direction serves the query), otherwise ascending.
pub(crate) fn order_keys(fields: &[FieldDef], order: &[OrderKey], id: &'static str) -> Vec<Key> {
    let id_desc = !order.is_empty() && order.iter().all(|k| k.desc);
    let mut keys: Vec<Key> = order
        .iter()
        .filter_map(|k| {
            let def = fields.iter().find(|f| f.name == k.field)?;
            let (expr, ty) = match def.kind {
                FieldKind::Name => (id, KeyType::Text),
                _ => def.sort_key()?,
            };
            Some(Key { expr, ty, desc: k.desc })
        })
        .collect();
    keys.push(Key {
        expr: id,
        ty: KeyType::Text,
        desc: id_desc,
    });
    keys
}

fn bad_token() -> Error {
    Error::invalid("page_token", "is not a page token issued for this request")
}

/// One List call's paging: where the previous page ended (from its token) and how to end
/// this one.
#[derive(Debug)]
pub(crate) struct Pager<'a> {
    store: &'a Store,
    fingerprint: &'a str,
    keys: Vec<Key>,
    page_size: usize,
    after: Option<Vec<SortValue>>,
}

impl Store {
    /// A pager over `keys` for a request whose other fields hash to `fingerprint`; a token
    /// issued for another request, or altered, is INVALID_ARGUMENT.
    pub(crate) fn pager<'a>(
        &'a self,
        fingerprint: &'a str,
        page_token: &str,
        keys: Vec<Key>,
        page_size: usize,
    ) -> Result<Pager<'a>, Error> {
        let after = self.tokens.decode(fingerprint, page_token)?.map(|c| c.keys);
        if after.as_ref().is_some_and(|a| a.len() != keys.len()) {
            return Err(bad_token());
        }
        Ok(Pager {
            store: self,
            fingerprint,
            keys,
            page_size,
            after,
        })
    }
}

impl Pager<'_> {
    /// ` AND (rows after the cursor)` when this is not the first page.
    pub fn push_after(&self, qb: &mut QueryBuilder<Postgres>) -> Result<(), Error> {
        let Some(values) = &self.after else {
            return Ok(());
        };
        let keys = &self.keys;
        if keys.iter().all(|k| k.desc == keys[0].desc) {
            // One direction: a row comparison, which an index on (k1, …) serves as a range
            // (every sort column is NOT NULL, so this equals the expansion below).
            qb.push(" AND (");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                qb.push(k.expr);
            }
            qb.push(if keys[0].desc { ") < (" } else { ") > (" });
            for (i, (k, v)) in keys.iter().zip(values).enumerate() {
                if i > 0 {
                    qb.push(", ");
                }
                push_value(qb, k, v)?;
            }
            qb.push(")");
            return Ok(());
        }
        // Mixed directions. Every row after the cursor has k1 >= v1 (<= when descending):
        // stated on its own, that bound lets an index on k1 start at the cursor.
        let first = &keys[0];
        qb.push(" AND ")
            .push(first.expr)
            .push(if first.desc { " <= " } else { " >= " });
        push_value(qb, first, &values[0])?;
        // (k1 > v1) OR (k1 = v1 AND k2 > v2) OR … OR (k1 = v1 AND … AND kn > vn)
        qb.push(" AND (");
        for i in 0..keys.len() {
            if i > 0 {
                qb.push(" OR ");
            }
            qb.push("(");
            for j in 0..i {
                qb.push(keys[j].expr).push(" = ");
                push_value(qb, &keys[j], &values[j])?;
                qb.push(" AND ");
            }
            qb.push(keys[i].expr).push(if keys[i].desc { " < " } else { " > " });
            push_value(qb, &keys[i], &values[i])?;
            qb.push(")");
        }
        qb.push(")");
        Ok(())
    }

    /// ` ORDER BY keys… LIMIT page_size + 1` (the extra row tells whether a next page exists).
    pub fn push_order_limit(&self, qb: &mut QueryBuilder<Postgres>) {
        qb.push(" ORDER BY ");
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push(k.expr).push(if k.desc { " DESC" } else { " ASC" });
        }
        qb.push(" LIMIT ").push_bind(self.page_size as i64 + 1);
    }

    /// Runs `qb` (a SELECT and its WHERE clause) for this page: the rows after the cursor, in
    /// order, one more than the page size (see [`Pager::finish`]).
    pub async fn fetch<R>(&self, mut qb: QueryBuilder<Postgres>) -> Result<Vec<R>, Error>
    where
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        self.push_after(&mut qb)?;
        self.push_order_limit(&mut qb);
        qb.build_query_as().fetch_all(&self.store.pool).await.map_err(db_error)
    }

    /// [`Pager::fetch`] of rows that convert to `T`, then [`Pager::finish`]: the page and the
    /// next page's token.
    pub async fn page<R, T>(
        &self,
        qb: QueryBuilder<Postgres>,
        values: impl Fn(&T) -> Vec<SortValue>,
    ) -> Result<(Vec<T>, String), Error>
    where
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
        T: TryFrom<R, Error = Error>,
    {
        let rows = self.fetch::<R>(qb).await?;
        let items = rows.into_iter().map(T::try_from).collect::<Result<Vec<_>, _>>()?;
        Ok(self.finish(items, values))
    }

    /// Cuts the rows to the page size and issues the next page's token (empty at the end);
    /// `values` gives a row's value of every key, in order.
    pub fn finish<T>(&self, mut rows: Vec<T>, values: impl Fn(&T) -> Vec<SortValue>) -> (Vec<T>, String) {
        if rows.len() <= self.page_size {
            return (rows, String::new());
        }
        rows.truncate(self.page_size);
        let token = rows
            .last()
            .map(|last| {
                self.store
                    .tokens
                    .encode(self.fingerprint, Cursor { keys: values(last) })
            })
            .unwrap_or_default();
        (rows, token)
    }
}

fn push_value(qb: &mut QueryBuilder<Postgres>, key: &Key, value: &SortValue) -> Result<(), Error> {
    match (key.ty, value) {
        (KeyType::Time, SortValue::Int(micros)) => {
            let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(*micros) * 1000).map_err(|_| bad_token())?;
            qb.push_bind(t);
        }
        (KeyType::Int, SortValue::Int(n)) => {
            qb.push_bind(*n);
        }
        (KeyType::Text, SortValue::Text(v)) => {
            qb.push_bind(v.clone());
        }
        _ => return Err(bad_token()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{goal, list::OrderKey, partner};

    /// `list` writes one cursor value per order key, so every orderable field must become a
    /// key: one that did not would make every second page refuse its own token.
    #[test]
    fn every_orderable_field_is_a_sort_key() {
        for fields in [goal::FIELDS, partner::FIELDS] {
            let order: Vec<OrderKey> = fields
                .iter()
                .filter(|f| f.orderable)
                .map(|f| OrderKey {
                    field: f.name,
                    desc: false,
                })
                .collect();
            assert_eq!(order_keys(fields, &order, "id").len(), order.len() + 1);
        }
    }
}
