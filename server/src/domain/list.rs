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

/// A field that can appear in `filter` (if `filterable`) and in `order_by` (if `orderable`).
#[derive(Debug, Clone, Copy)]
pub struct FieldDef {
    pub name: &'static str,
    pub kind: FieldKind,
    pub orderable: bool,
    pub filterable: bool,
}

/// Fields every listable resource has: labels, text search, create/update times, the name.
pub mod common {
    use super::{FieldDef, FieldKind};

    pub const LABELS: FieldDef = FieldDef {
        name: "labels",
        kind: FieldKind::Labels,
        orderable: false,
        filterable: true,
    };
    pub const SEARCH: FieldDef = FieldDef {
        name: "search",
        kind: FieldKind::Search,
        orderable: false,
        filterable: true,
    };
    pub const CREATE_TIME: FieldDef = FieldDef {
        name: "create_time",
        kind: FieldKind::Timestamp,
        orderable: true,
        filterable: true,
    };
    pub const UPDATE_TIME: FieldDef = FieldDef {
        name: "update_time",
        kind: FieldKind::Timestamp,
        orderable: true,
        filterable: true,
    };
    pub const NAME: FieldDef = FieldDef {
        name: "name",
        kind: FieldKind::Name,
        orderable: true,
        filterable: false,
    };
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

/// Where the previous page ended: the sort-key values and the id of its last row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    #[serde(rename = "k")]
    pub keys: Vec<SortValue>,
    #[serde(rename = "i")]
    pub id: String,
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
        FieldDef {
            name: "title",
            kind: FieldKind::Text,
            orderable: true,
            filterable: true,
        },
        FieldDef {
            name: "create_time",
            kind: FieldKind::Timestamp,
            orderable: true,
            filterable: true,
        },
        FieldDef {
            name: "sectors",
            kind: FieldKind::Strings,
            orderable: false,
            filterable: true,
        },
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
            keys: vec![SortValue::Text("Manufacturing".into()), SortValue::Int(42)],
            id: "ax".into(),
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
