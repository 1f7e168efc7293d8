//! List-request machinery shared by every collection: page size, `order_by`, and opaque,
//! tamper-evident keyset page tokens bound to the request they came from.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Error;

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 1000;
pub const MAX_ORDER_BY_LEN: usize = 500;

/// Resolves `page_size`: 0 means the default, more than the maximum is clamped, negative is
/// an error.
pub fn page_size(raw: i32) -> Result<usize, Error> {
    match raw {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n < 0 => Err(Error::invalid("page_size", "must not be negative")),
        n => Ok((n as usize).min(MAX_PAGE_SIZE)),
    }
}

/// The type of a listable field, which decides how it is compared (in `filter`) and stored in
/// a cursor (in `order_by`).
#[derive(Debug, Clone, Copy)]
pub enum FieldKind {
    /// Free text: `= != < <= > >=` (byte order), `=` with `*` wildcards, `:` substring.
    Text,
    /// An RFC 3339 timestamp: `= != < <= > >=`.
    Timestamp,
    /// An integer: `= != < <= > >=`. On a field inside a repeated message (such as
    /// `targets.target_year`) a restriction holds when *any* element satisfies it.
    Integer,
    /// An enum stored by its short name. `parse` accepts the short or the full proto name
    /// and returns the short one; `expected` lists the values for error messages.
    Enum {
        parse: fn(&str) -> Option<&'static str>,
        expected: fn() -> String,
    },
    /// A repeated string field: `:` (and `=`) mean "contains".
    Strings,
    /// Repeated resource names of a collection, stored as bare ids: `:` (and `=`) mean
    /// "contains".
    Names(super::Collection),
    /// A reference to one resource of a collection, empty (`""`) when unset: `=` and `!=`.
    Reference(super::Collection),
    /// The resource's own name (ordering only).
    Name,
    /// `labels.<key>`: `= !=` on the value, `labels.<key>:*` / `labels:<key>` for presence.
    Labels,
    /// Case-insensitive text search over several text fields: `search:"text"`.
    Search,
}

/// How a field of a resource is written (AIP-203 field behaviour, as the proto annotates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Set by clients on create and through Update.
    Input,
    /// Set on create; Update accepts it in a mask only with the current value.
    Immutable,
    /// Computed by the server; never written by clients.
    OutputOnly,
    /// Changed only by the named custom method (e.g. `state` by ChangePolicyGoalState).
    Custom(&'static str),
    /// Not a field of the resource: a filter over derived data (`search`,
    /// `targets.target_year`), never an update-mask path.
    None,
}

/// Where a field is stored, for filtering and ordering (store/ compiles these to SQL; only
/// these fixed names are ever pushed as SQL text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    /// Not stored on its own column: neither filterable nor orderable.
    None,
    /// An enum stored by its short name in a text column.
    Enum(&'static str),
    /// An enum column whose ordering follows a rank expression, not the name.
    RankedEnum { col: &'static str, rank: &'static str },
    /// A text column.
    Text(&'static str),
    /// An integer column.
    Int(&'static str),
    /// A `text[]` column of enum short names (`progress_states`): `=` means "contains the
    /// value", `!=` "does not contain it".
    EnumArray(&'static str),
    /// A `text[]` column: `:` means "contains" (values or resource ids).
    Array(&'static str),
    /// A nullable reference column (`parent_id`).
    Reference(&'static str),
    /// A timestamp column.
    Time(&'static str),
    /// A jsonb labels column.
    Labels(&'static str),
    /// Case-insensitive substring search over these text columns.
    Search(&'static [&'static str]),
    /// `policy_goals.targets[*].target_year`.
    TargetYear,
    /// A key of the objects in a jsonb array column, compared as text: some element matches.
    JsonArrayKey { col: &'static str, key: &'static str },
    /// Live rows of another table whose `text[]` column `links` holds this row's id (`id`, the
    /// qualified id column): `:` means "a live one with this name links the row" (`risks` of
    /// goals and partners: the risk register's `goals` and `partners`).
    LinkedFrom {
        table: &'static str,
        links: &'static str,
        id: &'static str,
    },
    /// `partner_members` of the row (a bloc's members): contains.
    Members,
    /// `partner_members` the row belongs to (the groups it is a member of): `=` / `!=`.
    MemberOf,
}

/// One field of a resource: how it is written (update masks), and whether and how it can
/// appear in `filter` (if `filterable`) and `order_by` (if `orderable`). A resource's list
/// of these is its one description; filters, ordering, update masks and the CLI's field
/// lists all come from it.
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    pub column: Col,
    pub orderable: bool,
    pub filterable: bool,
    pub write: Write,
}

impl FieldDef {
    /// A writable field that can be filtered on.
    pub const fn filter(name: &'static str, kind: FieldKind, column: Col) -> FieldDef {
        FieldDef {
            name,
            kind,
            column,
            orderable: false,
            filterable: true,
            write: Write::Input,
        }
    }

    /// A list of resource names stored in its own `text[]` column of ids.
    pub const fn names(name: &'static str, of: crate::domain::Collection) -> FieldDef {
        Self::filter(name, FieldKind::Names(of), Col::Array(name))
    }

    /// A list of strings stored in its own `text[]` column.
    pub const fn strings(name: &'static str) -> FieldDef {
        Self::filter(name, FieldKind::Strings, Col::Array(name))
    }

    /// Text stored in its own column.
    pub const fn text(name: &'static str) -> FieldDef {
        Self::filter(name, FieldKind::Text, Col::Text(name))
    }

    /// An enum (`kind` its `FIELD_KIND`) stored by its short name in its own column.
    pub const fn enumeration(name: &'static str, kind: FieldKind) -> FieldDef {
        Self::filter(name, kind, Col::Enum(name))
    }

    /// A writable field that is neither filtered on nor ordered by.
    pub const fn plain(name: &'static str) -> FieldDef {
        FieldDef {
            name,
            kind: FieldKind::Text,
            column: Col::None,
            orderable: false,
            filterable: false,
            write: Write::Input,
        }
    }

    /// An output-only field that is neither filtered on nor ordered by.
    pub const fn output(name: &'static str) -> FieldDef {
        Self::plain(name).written(Write::OutputOnly)
    }

    /// Also usable in `order_by`.
    pub const fn orderable(mut self) -> FieldDef {
        self.orderable = true;
        self
    }

    pub const fn written(mut self, write: Write) -> FieldDef {
        self.write = write;
        self
    }

    /// The SQL expression `order_by` sorts on, and how its values are kept in a cursor
    /// (`name` sorts on the resource's id column, which only the store knows).
    pub fn sort_key(&self) -> Option<(&'static str, KeyType)> {
        match self.column {
            Col::Text(c) | Col::Enum(c) => Some((c, KeyType::Text)),
            Col::RankedEnum { rank, .. } => Some((rank, KeyType::Text)),
            Col::Time(c) => Some((c, KeyType::Time)),
            Col::Int(c) => Some((c, KeyType::Int)),
            _ => None,
        }
    }
}

/// How a sort key's values are compared and kept in a page-token cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Text,
    /// Microseconds since the epoch in the cursor.
    Time,
    Int,
}

/// Fields every listable resource has: labels, text search, create/update times, the name.
pub mod common {
    use super::{Col, FieldDef, FieldKind, Write};

    pub const LABELS: FieldDef = FieldDef::filter("labels", FieldKind::Labels, Col::Labels("labels"));
    pub const CREATE_TIME: FieldDef = FieldDef::filter("create_time", FieldKind::Timestamp, Col::Time("create_time"))
        .orderable()
        .written(Write::OutputOnly);
    pub const UPDATE_TIME: FieldDef = FieldDef::filter("update_time", FieldKind::Timestamp, Col::Time("update_time"))
        .orderable()
        .written(Write::OutputOnly);
    pub const NAME: FieldDef = FieldDef {
        name: "name",
        kind: FieldKind::Name,
        column: Col::None,
        orderable: true,
        filterable: false,
        write: Write::OutputOnly,
    };
    /// `search:"text"` over the given text columns (not a field of the resource).
    pub const fn search(columns: &'static [&'static str]) -> FieldDef {
        FieldDef {
            name: "search",
            kind: FieldKind::Search,
            column: Col::Search(columns),
            orderable: false,
            filterable: true,
            write: Write::None,
        }
    }
    /// The deprecated inline list `risks`, written as before; as a filter,
    /// `risks:"risks/{risk}"` finds the resources (their id column `id`) that a live entry of
    /// the risk register links in its column `links`.
    pub const fn risks(links: &'static str, id: &'static str) -> FieldDef {
        FieldDef::filter(
            "risks",
            FieldKind::Names(crate::domain::Collection::Risks),
            Col::LinkedFrom {
                table: "risks",
                links,
                id,
            },
        )
    }
    /// The output-only fields of every soft-deletable resource with etags and revisions.
    pub const DELETE_TIME: FieldDef = FieldDef::output("delete_time");
    pub const EXPIRE_TIME: FieldDef = FieldDef::output("expire_time");
    pub const ETAG: FieldDef = FieldDef::output("etag");
    pub const REVISION: FieldDef = FieldDef::output("revision");
}

/// One `order_by` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderKey {
    pub field: &'static str,
    pub desc: bool,
}

/// Parses `order_by` (`field [asc|desc], ...`) against a whitelist. Ties are always broken by
/// the resource name, ascending, so the ordering is total.
pub fn parse_order_by(defs: &[FieldDef], raw: &str) -> Result<Vec<OrderKey>, Error> {
    if raw.len() > MAX_ORDER_BY_LEN {
        return Err(Error::invalid(
            "order_by",
            format!("must be at most {MAX_ORDER_BY_LEN} bytes"),
        ));
    }
    let allowed = || {
        defs.iter()
            .filter(|d| d.orderable)
            .map(|d| d.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut keys: Vec<OrderKey> = Vec::new();
    if raw.trim().is_empty() {
        return Ok(keys);
    }
    for part in raw.split(',') {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (name, desc) = match words.as_slice() {
            [name] => (*name, false),
            [name, dir] if dir.eq_ignore_ascii_case("asc") => (*name, false),
            [name, dir] if dir.eq_ignore_ascii_case("desc") => (*name, true),
            _ => {
                return Err(Error::invalid(
                    "order_by",
                    format!("{:?} is not `field` or `field desc`", part.trim()),
                ));
            }
        };
        let def = defs
            .iter()
            .find(|d| d.orderable && d.name == name)
            .ok_or_else(|| Error::invalid("order_by", format!("cannot order by {name:?}; allowed: {}", allowed())))?;
        if keys.iter().any(|k| k.field == def.name) {
            return Err(Error::invalid("order_by", format!("{name:?} appears twice")));
        }
        keys.push(OrderKey { field: def.name, desc });
    }
    Ok(keys)
}

/// A value of one sort key, kept in a page token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SortValue {
    Int(i64),
    Text(String),
}

impl SortValue {
    /// A time as a cursor value: microseconds since the epoch (PostgreSQL's precision).
    pub fn time(t: time::OffsetDateTime) -> SortValue {
        SortValue::Int((t.unix_timestamp_nanos() / 1000) as i64)
    }
}

/// Where the previous page ended: the values of every sort key (tie-breakers included) of
/// its last row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "k")]
    pub keys: Vec<SortValue>,
}

#[derive(Serialize, Deserialize)]
struct TokenBody {
    /// Fingerprint of the request fields other than page_size/page_token.
    f: String,
    #[serde(flatten)]
    c: Cursor,
}

/// Signs and checks page tokens with a server secret (shared by every replica through the
/// database), so a token cannot be forged, altered, or replayed against another query.
#[derive(Clone)]
pub struct PageTokens {
    secret: Vec<u8>,
}

impl std::fmt::Debug for PageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PageTokens(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl PageTokens {
    pub fn new(secret: Vec<u8>) -> Self {
        PageTokens { secret }
    }

    /// A fingerprint of the request fields that must not change between pages.
    pub fn fingerprint(parts: &[&str]) -> String {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(&h.finalize()[..12])
    }

    fn mac(&self, body: &[u8]) -> Vec<u8> {
        #[allow(clippy::expect_used)]
        let mut mac = HmacSha256::new_from_slice(&self.secret).expect("HMAC accepts any key length");
        mac.update(body);
        mac.finalize().into_bytes()[..16].to_vec()
    }

    pub fn encode(&self, fingerprint: &str, cursor: Cursor) -> String {
        let body = serde_json::to_vec(&TokenBody {
            f: fingerprint.to_owned(),
            c: cursor,
        })
        .unwrap_or_default();
        let mac = self.mac(&body);
        format!("{}.{}", URL_SAFE_NO_PAD.encode(&body), URL_SAFE_NO_PAD.encode(mac))
    }

    /// Decodes a token; `None` for an empty one. Any tampering or a token from a request with
    /// different fields is INVALID_ARGUMENT.
    pub fn decode(&self, fingerprint: &str, token: &str) -> Result<Option<Cursor>, Error> {
        if token.is_empty() {
            return Ok(None);
        }
        let bad = || Error::invalid("page_token", "is not a page token issued for this request");
        if token.len() > 4096 {
            return Err(bad());
        }
        let (body, mac) = token.split_once('.').ok_or_else(bad)?;
        let body = URL_SAFE_NO_PAD.decode(body).map_err(|_| bad())?;
        let mac = URL_SAFE_NO_PAD.decode(mac).map_err(|_| bad())?;
        let expected = self.mac(&body);
        if !constant_time_eq(&mac, &expected) {
            return Err(bad());
        }
        let body: TokenBody = serde_json::from_slice(&body).map_err(|_| bad())?;
        if body.f != fingerprint {
            return Err(Error::invalid(
                "page_token",
                "was issued for a request with a different filter, order_by or show_deleted",
            ));
        }
        Ok(Some(body.c))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFS: &[FieldDef] = &[
        FieldDef::filter("title", FieldKind::Text, Col::Text("title")).orderable(),
        common::CREATE_TIME,
        FieldDef::filter("sectors", FieldKind::Strings, Col::Array("sectors")),
    ];

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(0), Ok(50));
        assert_eq!(page_size(7), Ok(7));
        assert_eq!(page_size(5000), Ok(1000));
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn order_by_parsing() {
        let keys = parse_order_by(DEFS, " create_time desc ,title").expect("valid");
        assert_eq!(
            keys,
            vec![
                OrderKey {
                    field: "create_time",
                    desc: true
                },
                OrderKey {
                    field: "title",
                    desc: false
                }
            ]
        );
        assert!(parse_order_by(DEFS, "").expect("empty").is_empty());
        for bad in [
            "sectors",
            "nope",
            "title sideways",
            "title, title",
            "title desc desc",
            ",",
        ] {
            assert!(parse_order_by(DEFS, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_round_trip_and_resist_tampering() {
        let t = PageTokens::new(b"secret".to_vec());
        let fp = PageTokens::fingerprint(&["filter", "order"]);
        let cursor = Cursor {
            keys: vec![
                SortValue::Text("Manufacturing".into()),
                SortValue::Int(42),
                SortValue::Text("ax".into()),
            ],
        };
        let token = t.encode(&fp, cursor.clone());
        assert_eq!(t.decode(&fp, &token), Ok(Some(cursor)));
        assert_eq!(t.decode(&fp, ""), Ok(None));
        // another request's fields
        let other = PageTokens::fingerprint(&["filter2", "order"]);
        assert!(t.decode(&other, &token).is_err());
        // another server secret
        assert!(PageTokens::new(b"other".to_vec()).decode(&fp, &token).is_err());
        // a flipped character anywhere
        let mut bytes = token.clone().into_bytes();
        bytes[3] = if bytes[3] == b'A' { b'B' } else { b'A' };
        assert!(t.decode(&fp, &String::from_utf8(bytes).expect("ascii")).is_err());
        assert!(t.decode(&fp, "garbage").is_err());
        assert!(t.decode(&fp, "a.b").is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(s in ".{0,200}") {
            let t = PageTokens::new(b"k".to_vec());
            let _ = t.decode("fp", &s);
        }
    }
}
