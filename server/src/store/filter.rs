//! Compiles a [`filter::Expr`](crate::domain::filter::Expr) into parameterised SQL over
//! `policy_goals` and `trade_partners`. Only fixed column names, operators and functions chosen by a whitelist
//! `match` are pushed as SQL text; every value from the request is a bind parameter.
//!
//! The semantics are exactly those of `domain::filter::matches` (the property test in
//! `tests/api/filter.rs` checks this):
//!
//! - Every leaf is NULL only where `matches` is false, and `NOT` is compiled as
//!   `NOT coalesce((e), false)`, so SQL's three-valued logic never differs from the two-valued
//!   evaluator (NULL under AND/OR behaves like false; NOT never sees a NULL).
//! - Text ordering uses `COLLATE "C"` (byte order, as Rust's `str` ordering).
//! - Case-insensitive matching uses `ILIKE` with `\`, `%` and `_` escaped; `*` wildcards of a
//!   pattern become `%`.
//!
//! The indexes that serve these predicates are in `migrations/20261125000002_goal_search.sql`
//! and `migrations/20261125000006_measurements.sql` (`progress_states`); `docs/querying.md`
//! shows the plans.

use sqlx::{Postgres, QueryBuilder, types::Json};

use crate::domain::{
    filter::{Expr, Op, Value},
    list::{Col, FieldDef},
};

/// The fields of the resource being filtered: each filter field's storage is its `column`.
pub(super) type Columns<'a> = &'a [FieldDef];

fn column(cols: Columns<'_>, field: &str) -> Option<Col> {
    cols.iter().find(|d| d.name == field).map(|d| d.column)
}

/// Appends `expr` as one parenthesised boolean SQL expression.
pub(super) fn push_expr(qb: &mut QueryBuilder<Postgres>, expr: &Expr, cols: Columns<'_>) {
    match expr {
        Expr::And(v) => push_join(qb, v, " AND ", "TRUE", cols),
        Expr::Or(v) => push_join(qb, v, " OR ", "FALSE", cols),
        Expr::Not(e) => {
            qb.push("(NOT coalesce(");
            push_expr(qb, e, cols);
            qb.push(", false))");
        }
        Expr::Cmp {
            field,
            label_key,
            op,
            value,
        } => {
            qb.push("(");
            push_cmp(qb, column(cols, field), label_key.as_deref(), *op, value);
            qb.push(")");
        }
    }
}

fn push_join(qb: &mut QueryBuilder<Postgres>, v: &[Expr], sep: &'static str, empty: &'static str, cols: Columns<'_>) {
    if v.is_empty() {
        qb.push(empty);
        return;
    }
    qb.push("(");
    for (i, e) in v.iter().enumerate() {
        if i > 0 {
            qb.push(sep);
        }
        push_expr(qb, e, cols);
    }
    qb.push(")");
}

/// SQL spelling of an ordering operator.
fn sql_op(op: Op) -> Option<&'static str> {
    Some(match op {
        Op::Eq => " = ",
        Op::Ne => " <> ",
        Op::Lt => " < ",
        Op::Le => " <= ",
        Op::Gt => " > ",
        Op::Ge => " >= ",
        Op::Has => return None,
    })
}

/// Escapes the `LIKE` metacharacters (`\`, `%`, `_`) of a literal.
fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `%literal%`: a substring.
fn like_substring(s: &str) -> String {
    format!("%{}%", like_escape(s))
}

/// A pattern with `*` wildcards as a `LIKE` pattern.
fn like_pattern(p: &str) -> String {
    p.split('*').map(like_escape).collect::<Vec<_>>().join("%")
}

/// Appends one restriction. An impossible combination (never produced by the parser) is
/// `FALSE`, as `matches` treats it.
fn push_cmp(qb: &mut QueryBuilder<Postgres>, col: Option<Col>, key: Option<&str>, op: Op, value: &Value) {
    let Some(col) = col else {
        return false_(qb);
    };
    match col {
        Col::None => false_(qb),
        Col::Int(c) => match (sql_op(op), value) {
            (Some(sql), Value::Int(n)) => {
                qb.push(c).push(sql).push_bind(*n);
            }
            _ => false_(qb),
        },
        Col::Enum(c) | Col::RankedEnum { col: c, .. } => match (op, value) {
            (Op::Eq, Value::Enum(v)) => {
                qb.push(c).push(" = ").push_bind((*v).to_owned());
            }
            (Op::Ne, Value::Enum(v)) => {
                // An unset (NULL) value differs too.
                qb.push(c).push(" IS DISTINCT FROM ").push_bind((*v).to_owned());
            }
            _ => false_(qb),
        },
        Col::Text(c) => push_text(qb, c, op, value),
        Col::EnumArray(c) => match (op, value) {
            // Containment: served by the GIN index on the column.
            (Op::Eq, Value::Enum(v)) => {
                qb.push(c).push(" @> ").push_bind(vec![(*v).to_owned()]);
            }
            (Op::Ne, Value::Enum(v)) => {
                qb.push("NOT (")
                    .push(c)
                    .push(" @> ")
                    .push_bind(vec![(*v).to_owned()])
                    .push(")");
            }
            _ => false_(qb),
        },
        Col::Array(c) => match (op, value) {
            // Array containment: served by the GIN index on the column.
            (Op::Has, Value::Text(t)) => {
                qb.push(c).push(" @> ").push_bind(vec![t.clone()]);
            }
            (Op::Has, Value::Name(_, Some(id))) => {
                qb.push(c).push(" @> ").push_bind(vec![id.as_str().to_owned()]);
            }
            (Op::Has, Value::Any) => {
                qb.push("cardinality(").push(c).push(") > 0");
            }
            _ => false_(qb),
        },
        Col::LinkedFrom { table, links, id } => {
            // `:*` (Any) or `:"name"`: a live row of `table` links this one (with that id).
            let target = match (op, value) {
                (Op::Has, Value::Name(_, target)) => target.as_ref(),
                (Op::Has, Value::Any) => None,
                _ => return false_(qb),
            };
            qb.push("EXISTS (SELECT 1 FROM ")
                .push(table)
                .push(" l WHERE l.delete_time IS NULL AND ")
                .push(id)
                .push(" = ANY(l.")
                .push(links)
                .push(")");
            if let Some(t) = target {
                qb.push(" AND l.id = ").push_bind(t.as_str().to_owned());
            }
            qb.push(")");
        }
        Col::Reference(c) => match (op, value) {
            (Op::Eq, Value::Name(_, Some(id))) => {
                qb.push(c).push(" = ").push_bind(id.as_str().to_owned());
            }
            (Op::Ne, Value::Name(_, Some(id))) => {
                // Unset (NULL) references are "not equal" too.
                qb.push(c).push(" IS DISTINCT FROM ").push_bind(id.as_str().to_owned());
            }
            (Op::Eq, Value::Name(_, None)) => {
                qb.push(c).push(" IS NULL");
            }
            (Op::Ne, Value::Name(_, None)) => {
                qb.push(c).push(" IS NOT NULL");
            }
            _ => false_(qb),
        },
        Col::Time(c) => match (sql_op(op), value) {
            (Some(sql), Value::Time(t)) => {
                qb.push(c).push(sql).push_bind(*t);
            }
            _ => false_(qb),
        },
        Col::TargetYear => match (op, value) {
            // Some target has exactly this year: jsonb containment (GIN jsonb_path_ops).
            (Op::Eq, Value::Int(n)) => {
                qb.push("targets @> ")
                    .push_bind(Json(serde_json::json!([{ "target_year": n }])));
            }
            // Some target differs: not all years are equal to n. NULL (no targets) = false.
            (Op::Ne, Value::Int(n)) => {
                qb.push("(policy_goal_min_target_year(targets) <> ")
                    .push_bind(*n)
                    .push(" OR policy_goal_max_target_year(targets) <> ")
                    .push_bind(*n)
                    .push(")");
            }
            // Some target is before/after n: the earliest/latest one is (expression indexes).
            (Op::Lt | Op::Le, Value::Int(n)) => {
                qb.push("policy_goal_min_target_year(targets)")
                    .push(sql_op(op).unwrap_or(" < "))
                    .push_bind(*n);
            }
            (Op::Gt | Op::Ge, Value::Int(n)) => {
                qb.push("policy_goal_max_target_year(targets)")
                    .push(sql_op(op).unwrap_or(" > "))
                    .push_bind(*n);
            }
            _ => false_(qb),
        },
        Col::JsonArrayKey { col, key: k } => match (op, value) {
            // Some element has the value: jsonb containment (GIN jsonb_path_ops).
            (Op::Eq, Value::Enum(v)) => {
                qb.push(col).push(" @> ").push_bind(Json(serde_json::json!([{ k: v }])));
            }
            // Some element has another value.
            (Op::Ne, Value::Enum(v)) => {
                qb.push("EXISTS (SELECT 1 FROM jsonb_array_elements(")
                    .push(col)
                    .push(") e WHERE e->>'")
                    .push(k)
                    .push("' <> ")
                    .push_bind((*v).to_owned())
                    .push(")");
            }
            _ => false_(qb),
        },
        Col::Members => {
            match (op, value) {
                (Op::Has, Value::Name(_, Some(id))) => {
                    qb.push("EXISTS (SELECT 1 FROM partner_members m WHERE m.group_id = trade_partners.id AND m.member_id = ")
                    .push_bind(id.as_str().to_owned())
                    .push(")");
                }
                (Op::Has, Value::Any) => {
                    qb.push("EXISTS (SELECT 1 FROM partner_members m WHERE m.group_id = trade_partners.id)");
                }
                _ => false_(qb),
            }
        }
        Col::MemberOf => {
            let any = "EXISTS (SELECT 1 FROM partner_members m JOIN trade_partners g ON g.id = m.group_id
                 WHERE m.member_id = trade_partners.id AND g.delete_time IS NULL";
            match (op, value) {
                (Op::Eq | Op::Ne, Value::Name(_, Some(id))) => {
                    if op == Op::Ne {
                        qb.push("NOT ");
                    }
                    qb.push(any)
                        .push(" AND m.group_id = ")
                        .push_bind(id.as_str().to_owned())
                        .push(")");
                }
                (Op::Eq, Value::Name(_, None)) => {
                    qb.push("NOT ").push(any).push(")");
                }
                (Op::Ne, Value::Name(_, None)) => {
                    qb.push(any).push(")");
                }
                _ => false_(qb),
            }
        }
        Col::Labels(c) => match (key, op, value) {
            (Some(k), Op::Eq, Value::Text(v)) => {
                qb.push(c).push(" @> ").push_bind(Json(serde_json::json!({ k: v })));
            }
            (Some(k), Op::Ne, Value::Text(v)) => {
                // A missing key is "not equal" too.
                qb.push("NOT (")
                    .push(c)
                    .push(" @> ")
                    .push_bind(Json(serde_json::json!({ k: v })))
                    .push(")");
            }
            (Some(k), Op::Has, Value::Any) => {
                qb.push(c).push(" ? ").push_bind(k.to_owned());
            }
            (None, Op::Has, Value::Any) => {
                qb.push(c).push(" <> '{}'::jsonb");
            }
            _ => false_(qb),
        },
        Col::Search(cols) => match (op, value) {
            (Op::Has, Value::Text(t)) => {
                let pattern = like_substring(t);
                for (i, c) in cols.iter().enumerate() {
                    if i > 0 {
                        qb.push(" OR ");
                    }
                    qb.push(*c).push(" ILIKE ").push_bind(pattern.clone());
                }
            }
            _ => false_(qb),
        },
    }
}

fn push_text(qb: &mut QueryBuilder<Postgres>, col: &'static str, op: Op, value: &Value) {
    match (op, value) {
        (Op::Has, Value::Any) => {
            qb.push(col).push(" <> ''");
        }
        (Op::Has, Value::Text(t)) => {
            qb.push(col).push(" ILIKE ").push_bind(like_substring(t));
        }
        (Op::Eq, Value::Pattern(p)) => {
            qb.push(col).push(" ILIKE ").push_bind(like_pattern(p));
        }
        (Op::Ne, Value::Pattern(p)) => {
            qb.push(col).push(" NOT ILIKE ").push_bind(like_pattern(p));
        }
        (Op::Eq | Op::Ne, Value::Text(t)) => {
            qb.push(col)
                .push(if op == Op::Eq { " = " } else { " <> " })
                .push_bind(t.clone());
        }
        (Op::Lt | Op::Le | Op::Gt | Op::Ge, Value::Text(t)) => {
            qb.push(col)
                .push(" COLLATE \"C\"")
                .push(sql_op(op).unwrap_or(" = "))
                .push_bind(t.clone());
        }
        _ => false_(qb),
    }
}

fn false_(qb: &mut QueryBuilder<Postgres>) {
    qb.push("FALSE");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{filter, goal::FIELDS};

    fn sql(f: &str) -> String {
        let e = filter::parse(FIELDS, f).expect("valid").expect("non-empty");
        let mut qb = QueryBuilder::<Postgres>::new("");
        push_expr(&mut qb, &e, FIELDS);
        qb.into_string()
    }

    #[test]
    fn like_escaping() {
        assert_eq!(like_escape(r"50%_a\b"), r"50\%\_a\\b");
        assert_eq!(like_substring("a%"), r"%a\%%");
        assert_eq!(like_pattern("*A_I*"), r"%A\_I%");
        assert_eq!(like_pattern("x"), "x");
    }

    #[test]
    fn user_text_is_never_spliced_into_sql() {
        for f in [
            r#"title = "'; DROP TABLE policy_goals; --""#,
            r#"search:"'; DROP TABLE policy_goals; --""#,
            r#"labels.env = "x'y""#,
            r#"sectors:"a'b" AND lead_organization:"o'r" AND title = "*'*""#,
        ] {
            let s = sql(f);
            assert!(!s.contains("DROP") && !s.contains("'y") && !s.contains("a'b"), "{s}");
            assert!(s.contains("$1"), "{s}");
        }
    }

    #[test]
    fn shapes() {
        assert_eq!(sql("state = ACTIVE"), "(state = $1)");
        assert_eq!(
            sql("NOT pillar = INDUSTRIAL_RESURGENCE OR parent = \"\""),
            "((NOT coalesce((pillar = $1), false)) OR (parent_id IS NULL))"
        );
        assert_eq!(sql("title < \"b\""), "(title COLLATE \"C\" < $1)");
        assert_eq!(sql("labels.env:*"), "(labels ? $1)");
        assert_eq!(sql("progress_state = OFF_TRACK"), "(progress_states @> $1)");
        assert_eq!(sql("progress_state != AT_RISK"), "(NOT (progress_states @> $1))");
        assert_eq!(
            sql("targets.target_year <= 2030"),
            "(policy_goal_min_target_year(targets) <= $1)"
        );
    }
}
