//! Small, reusable field checks. Each records a violation instead of failing fast.

use std::collections::{BTreeMap, HashSet};

use super::Violations;

/// Limits on free text, shared by every resource.
pub const MAX_TITLE: usize = 200;
pub const MAX_SHORT_TEXT: usize = 1000;
pub const MAX_LONG_TEXT: usize = 4000;
pub const MAX_LABELS: usize = 64;
pub const MAX_LIST_ITEMS: usize = 100;
pub const MIN_YEAR: i32 = 1900;
pub const MAX_YEAR: i32 = 2200;

/// Checks a text field: no NUL or control characters (tab/newline allowed when `multiline`),
/// at most `max` characters, non-blank when `required`.
pub fn text(v: &mut Violations, field: &str, value: &str, required: bool, max: usize, multiline: bool) {
    if required && value.trim().is_empty() {
        v.add(field, "is required");
        return;
    }
    let len = value.chars().count();
    if len > max {
        v.add(field, format!("must be at most {max} characters (got {len})"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        v.add(field, "must not contain NUL or control characters");
    } else if value != value.trim() {
        v.add(field, "must not start or end with whitespace");
    }
}

/// `s` in Unicode Normalization Form C (borrowed when it already is: the common case costs
/// one quick check).
pub fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    match is_nfc_quick(s.chars()) {
        IsNormalized::Yes => std::borrow::Cow::Borrowed(s),
        _ => std::borrow::Cow::Owned(s.nfc().collect()),
    }
}

/// True for `[a-z][a-z0-9-]{0,62}` without a trailing or doubled hyphen.
pub fn is_slug(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// Checks a list of strings: at most `max` (`things` in the message), each item by `item`
/// (which records its own violations under the path given and says whether to look for the
/// item earlier in the list), none twice (`duplicate` then its value, in the message).
pub fn list(
    v: &mut Violations,
    field: &str,
    items: &[String],
    (max, things): (usize, &str),
    item: impl Fn(&mut Violations, &str, &str) -> bool,
    duplicate: &str,
) {
    if items.len() > max {
        v.add(field, format!("must have at most {max} {things} (got {})", items.len()));
        return;
    }
    let mut seen = HashSet::new();
    for (i, value) in items.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if item(v, &f, value) && !seen.insert(value.as_str()) {
            v.add(f, format!("{duplicate} {value:?}"));
        }
    }
}

/// Checks a list of short strings: count, each item's text, duplicates.
pub fn string_list(v: &mut Violations, field: &str, items: &[String], max_items: usize, max_len: usize) {
    let item = |v: &mut Violations, f: &str, s: &str| {
        text(v, f, s, true, max_len, false);
        true
    };
    list(v, field, items, (max_items, "items"), item, "duplicate value");
}

/// Checks labels: keys `[a-z][a-z0-9_-]{0,62}`, values `[a-z0-9_-]{0,63}`, at most 64.
pub fn labels(v: &mut Violations, field: &str, labels: &BTreeMap<String, String>) {
    if labels.len() > MAX_LABELS {
        v.add(
            field,
            format!("must have at most {MAX_LABELS} labels (got {})", labels.len()),
        );
        return;
    }
    for (k, val) in labels {
        let key_ok = !k.is_empty()
            && k.len() <= 63
            && k.as_bytes()[0].is_ascii_lowercase()
            && k.bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
        if !key_ok {
            v.add(
                format!("{field}[{}]", k.escape_debug()),
                "label keys must match [a-z][a-z0-9_-]{0,62}",
            );
        }
        let val_ok = val.len() <= 63
            && val
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_' || c == b'-');
        if !val_ok {
            v.add(
                format!("{field}[{}]", k.escape_debug()),
                "label values must match [a-z0-9_-]{0,63}",
            );
        }
    }
}

/// Checks a year is within 1900..=2200.
pub fn year(v: &mut Violations, field: &str, year: i32) {
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        v.add(
            field,
            format!("must be a year between {MIN_YEAR} and {MAX_YEAR} (got {year})"),
        );
    }
}

/// Checks a number is finite (not NaN or infinite).
pub fn finite(v: &mut Violations, field: &str, value: f64) {
    if !value.is_finite() {
        v.add(field, "must be a finite number");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        for ok in ["a", "us", "ai-factories", "re100-complexes", "a1"] {
            assert!(is_slug(ok), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "1a", "A", "a_b", "a-", "a--b", "-a", "a/b", "../x", long.as_str()] {
            assert!(!is_slug(bad), "{bad}");
        }
    }

    #[test]
    fn text_rejects_nul_control_and_length() {
        let mut v = Violations::new();
        text(&mut v, "a", "x\0y", true, 10, true);
        text(&mut v, "b", "", true, 10, false);
        text(&mut v, "c", "line\nbreak", false, 100, false);
        text(&mut v, "d", "line\nbreak", false, 100, true);
        text(&mut v, "e", &"é".repeat(11), false, 10, false);
        text(&mut v, "f", " padded", false, 10, false);
        let fields: Vec<_> = v.into_vec().into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["a", "b", "c", "e", "f"]);
    }
}
