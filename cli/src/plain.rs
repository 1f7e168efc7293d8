//! The plain fields of a resource, read from the proto descriptors: every top-level scalar
//! field (text, number, bool, enum) that a client writes, except the few a resource's record
//! spells differently ([`Shape::SPECIAL`], e.g. `parent` as a bare id). A new plain field in
//! the proto appears in files (`import`, `export`, `-f`), in `get`'s table and as a
//! `--field value` flag without a change here.
//!
//! In a file a plain field is written as the proto has it, with enums by their short name
//! (`confidence: HIGH` for `CONFIDENCE_HIGH`) and empty values left out.

use std::{
    collections::HashMap,
    fmt,
    marker::PhantomData,
    sync::{LazyLock, Mutex},
};

use prost::Message;
use prost_reflect::{DynamicMessage, EnumDescriptor, FieldDescriptor, Kind as FieldKind, MessageDescriptor, Value};
use registry_client::annotations::{self, FieldBehavior};

use crate::records::DateValue;
use serde::{
    Deserialize, Deserializer, Serialize, Serializer,
    de::{MapAccess, Visitor},
    ser::SerializeMap,
};
use serde_json::Value as Json;

/// The message of a resource and the fields its record spells on its own.
pub trait Shape: 'static {
    /// e.g. `motie.registry.v1.PolicyGoal`.
    const MESSAGE: &'static str;
    /// Scalar fields the record holds in a form of its own (ids instead of names, …).
    const SPECIAL: &'static [&'static str];
}

fn descriptor(message: &str) -> MessageDescriptor {
    annotations::pool()
        .get_message_by_name(message)
        .unwrap_or_else(|| panic!("{message} is in the descriptor set"))
}

/// The plain fields of `S`'s message, in field-number order (worked out once per message).
pub fn fields<S: Shape>() -> Vec<FieldDescriptor> {
    static FIELDS: LazyLock<Mutex<HashMap<&'static str, Vec<FieldDescriptor>>>> = LazyLock::new(Default::default);
    let mut known = FIELDS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    known.entry(S::MESSAGE).or_insert_with(plain_fields::<S>).clone()
}

fn plain_fields<S: Shape>() -> Vec<FieldDescriptor> {
    let behaviors = annotations::field_behaviors(S::MESSAGE);
    let server_set = |name: &str| {
        behaviors.iter().any(|(f, b)| {
            f == name
                && b.iter()
                    .any(|b| matches!(b, FieldBehavior::OutputOnly | FieldBehavior::Identifier))
        })
    };
    let mut fields: Vec<_> = descriptor(S::MESSAGE)
        .fields()
        .filter(|f| {
            !f.is_list() && !f.is_map() && (is_date(f) || !matches!(f.kind(), FieldKind::Message(_) | FieldKind::Bytes))
        })
        .filter(|f| f.name() != "etag" && !S::SPECIAL.contains(&f.name()) && !server_set(f.name()))
        .collect();
    fields.sort_by_key(FieldDescriptor::number);
    fields
}

/// The registry's partial date message (`year`, `month`, `day`; 0 for unknown parts).
const DATE: &str = "motie.registry.v1.Date";

/// Whether a field is a partial date, written `2030`, `2030-06` or `2030-06-01`.
fn is_date(f: &FieldDescriptor) -> bool {
    matches!(f.kind(), FieldKind::Message(m) if m.full_name() == DATE)
}

fn date_to_json(m: &DynamicMessage) -> Json {
    let part = |name: &str| m.get_field_by_name(name).and_then(|v| v.as_i32()).unwrap_or(0);
    let date = DateValue {
        year: part("year"),
        month: part("month"),
        day: part("day"),
    };
    if date.month == 0 {
        Json::from(date.year)
    } else {
        Json::String(date.to_string())
    }
}

fn date_from_json(m: MessageDescriptor, name: &str, v: &Json) -> Result<Value, String> {
    let date: DateValue = match v {
        Json::Number(n) => n.to_string().parse(),
        Json::String(s) => s.parse(),
        _ => Err(String::from("expected YYYY, YYYY-MM or YYYY-MM-DD")),
    }
    .map_err(|e| format!("{name}: {e}"))?;
    let mut d = DynamicMessage::new(m);
    for (part, v) in [("year", date.year), ("month", date.month), ("day", date.day)] {
        d.set_field_by_name(part, Value::I32(v));
    }
    Ok(Value::Message(d))
}

/// Top-level field names of `S`'s message, in field-number order (for `get`'s rows).
pub fn all_field_names<S: Shape>() -> Vec<String> {
    let mut fields: Vec<_> = descriptor(S::MESSAGE).fields().collect();
    fields.sort_by_key(FieldDescriptor::number);
    fields.iter().map(|f| f.name().to_owned()).collect()
}

/// `PILLAR_` for `Pillar` (the name of value 0 without `UNSPECIFIED`).
fn enum_prefix(e: &EnumDescriptor) -> String {
    e.get_value(0)
        .and_then(|v| v.name().strip_suffix("UNSPECIFIED").map(str::to_owned))
        .unwrap_or_default()
}

/// The short names of an enum's values (`LOW, MEDIUM or HIGH`), for help text.
pub fn enum_choices(e: &EnumDescriptor) -> String {
    let prefix = enum_prefix(e);
    let names: Vec<String> = e
        .values()
        .filter(|v| v.number() != 0)
        .map(|v| v.name().strip_prefix(prefix.as_str()).unwrap_or(v.name()).to_owned())
        .collect();
    match names.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn parse_enum(e: &EnumDescriptor, field: &str, value: &str) -> Result<i32, String> {
    let prefix = enum_prefix(e);
    let upper = value.trim().to_ascii_uppercase().replace(['-', ' '], "_");
    let full = if upper.starts_with(&prefix) {
        upper
    } else {
        format!("{prefix}{upper}")
    };
    match e.get_value_by_name(&full).map(|v| v.number()) {
        Some(v) if v != 0 => Ok(v),
        _ => Err(format!("{field}: unknown value {value:?}")),
    }
}

/// The file form of a field's value; None for the default (left out).
fn to_json(f: &FieldDescriptor, v: &Value) -> Option<Json> {
    let json = match (v, f.kind()) {
        (Value::String(s), _) => Json::String(s.clone()),
        (Value::Bool(b), _) => Json::Bool(*b),
        (Value::I32(n), _) => Json::from(*n),
        (Value::I64(n), _) => Json::from(*n),
        (Value::U32(n), _) => Json::from(*n),
        (Value::U64(n), _) => Json::from(*n),
        (Value::F32(n), _) => number(f64::from(*n)),
        (Value::F64(n), _) => number(*n),
        (Value::Message(m), _) if is_date(f) => date_to_json(m),
        (Value::EnumNumber(n), FieldKind::Enum(e)) => {
            let value = e.get_value(*n)?;
            let prefix = enum_prefix(&e);
            Json::String(
                value
                    .name()
                    .strip_prefix(prefix.as_str())
                    .unwrap_or(value.name())
                    .to_owned(),
            )
        }
        _ => return None,
    };
    (f.supports_presence() || !v.is_default_for_field(f) && *v != Value::EnumNumber(0)).then_some(json)
}

/// Whole numbers without a fraction (`500`, not `500.0`).
fn number(v: f64) -> Json {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        #[allow(clippy::cast_possible_truncation)]
        Json::from(v as i64)
    } else {
        Json::from(v)
    }
}

/// The proto value of a field's file form.
fn from_json(f: &FieldDescriptor, v: &Json) -> Result<Value, String> {
    let name = f.name();
    let text = match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    };
    let bad = |what: &str| format!("{name}: expected {what}, got {v}");
    let parsed = |what: &str| -> Result<String, String> { text.clone().ok_or_else(|| bad(what)) };
    Ok(match f.kind() {
        FieldKind::String => match v {
            Json::String(s) => Value::String(s.clone()),
            Json::Number(_) | Json::Bool(_) => Value::String(parsed("text")?),
            _ => return Err(bad("text")),
        },
        FieldKind::Bool => Value::Bool(parsed("true or false")?.parse().map_err(|_| bad("true or false"))?),
        FieldKind::Int32 | FieldKind::Sint32 | FieldKind::Sfixed32 => {
            Value::I32(parsed("a whole number")?.parse().map_err(|_| bad("a whole number"))?)
        }
        FieldKind::Int64 | FieldKind::Sint64 | FieldKind::Sfixed64 => {
            Value::I64(parsed("a whole number")?.parse().map_err(|_| bad("a whole number"))?)
        }
        FieldKind::Uint32 | FieldKind::Fixed32 => {
            Value::U32(parsed("a whole number")?.parse().map_err(|_| bad("a whole number"))?)
        }
        FieldKind::Uint64 | FieldKind::Fixed64 => {
            Value::U64(parsed("a whole number")?.parse().map_err(|_| bad("a whole number"))?)
        }
        FieldKind::Double => Value::F64(parsed("a number")?.parse().map_err(|_| bad("a number"))?),
        FieldKind::Float => Value::F32(parsed("a number")?.parse().map_err(|_| bad("a number"))?),
        FieldKind::Enum(e) => Value::EnumNumber(parse_enum(&e, name, &parsed("a name")?)?),
        FieldKind::Message(m) if is_date(f) => date_from_json(m, name, v)?,
        FieldKind::Bytes | FieldKind::Message(_) => return Err(format!("{name}: not a plain field")),
    })
}

/// The plain fields of one record, in the order they were read or in field-number order.
pub struct Plain<S>(Vec<(String, Json)>, PhantomData<S>);

impl<S: Shape> Plain<S> {
    /// The plain fields of a stored message.
    pub fn from_message<M: Message>(m: &M) -> Self {
        let Ok(d) = DynamicMessage::decode(descriptor(S::MESSAGE), m.encode_to_vec().as_slice()) else {
            return Self::default();
        };
        let values = fields::<S>()
            .iter()
            .filter(|f| !f.supports_presence() || d.has_field(f))
            .filter_map(|f| Some((f.name().to_owned(), to_json(f, &d.get_field(f))?)))
            .collect();
        Plain(values, PhantomData)
    }

    /// Writes the fields into `m`; every problem, not only the first.
    pub fn apply<M: Message + Default>(&self, m: &mut M) -> Result<(), Vec<String>> {
        let mut d = DynamicMessage::decode(descriptor(S::MESSAGE), m.encode_to_vec().as_slice())
            .map_err(|e| vec![format!("cannot convert a {}: {e}", S::MESSAGE)])?;
        let fields = fields::<S>();
        let mut problems = Vec::new();
        for (key, value) in &self.0 {
            let Some(f) = fields.iter().find(|f| f.name() == key) else {
                problems.push(format!("unknown field `{key}`"));
                continue;
            };
            if value.is_null() {
                continue;
            }
            match from_json(f, value) {
                Ok(v) => d.set_field(f, v),
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        *m = d
            .transcode_to()
            .map_err(|e| vec![format!("cannot convert a {}: {e}", S::MESSAGE)])?;
        Ok(())
    }

    /// The same fields in canonical form: field-number order, short upper-case enum names,
    /// empty values left out; a value that does not convert is kept as written.
    pub fn canonical(&self) -> Self {
        let values = fields::<S>()
            .iter()
            .filter_map(|f| {
                let (_, v) = self.0.iter().find(|(k, _)| k == f.name())?;
                match from_json(f, v) {
                    Ok(p) => Some((f.name().to_owned(), to_json(f, &p)?)),
                    Err(_) => Some((f.name().to_owned(), v.clone())),
                }
            })
            .chain(
                self.0
                    .iter()
                    .filter(|(k, _)| !fields::<S>().iter().any(|f| f.name() == k))
                    .cloned(),
            )
            .collect();
        Plain(values, PhantomData)
    }

    /// A list element (a risk, an interim target) from its plain fields, the REQUIRED ones
    /// checked present; problems are named `{path}.{field}`.
    pub fn to_element<M: Message + Default>(&self, path: &str) -> Result<M, Vec<String>> {
        let mut problems: Vec<String> = annotations::field_behaviors(S::MESSAGE)
            .iter()
            .filter(|(f, b)| b.contains(&FieldBehavior::Required) && !self.has(f))
            .map(|(f, _)| format!("{path}.{f}: required"))
            .collect();
        let mut m = M::default();
        if let Err(e) = self.apply(&mut m) {
            problems.extend(e.into_iter().map(|e| format!("{path}.{e}")));
        }
        if problems.is_empty() { Ok(m) } else { Err(problems) }
    }

    /// A field's value as text (empty when absent).
    pub fn text(&self, name: &str) -> String {
        match self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v) {
            Some(Json::String(s)) => s.clone(),
            Some(Json::Null) | None => String::new(),
            Some(v) => v.to_string(),
        }
    }

    /// Sets a field (replacing its value).
    pub fn set(&mut self, name: &str, value: impl Into<Json>) {
        let value = value.into();
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some((_, v)) => *v = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }

    /// Whether the record has the field (with a value).
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_null())
    }
}

impl<S> Default for Plain<S> {
    fn default() -> Self {
        Plain(Vec::new(), PhantomData)
    }
}

impl<S> Clone for Plain<S> {
    fn clone(&self) -> Self {
        Plain(self.0.clone(), PhantomData)
    }
}

impl<S> fmt::Debug for Plain<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, v))).finish()
    }
}

/// Equal when they hold the same fields with the same values, in any order.
impl<S> PartialEq for Plain<S> {
    fn eq(&self, other: &Self) -> bool {
        fn sorted(p: &[(String, Json)]) -> Vec<&(String, Json)> {
            let mut v: Vec<_> = p.iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        sorted(&self.0) == sorted(&other.0)
    }
}

impl<S> Serialize for Plain<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de, S: Shape> Deserialize<'de> for Plain<S> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<S>(PhantomData<S>);
        impl<'de, S: Shape> Visitor<'de> for V<S> {
            type Value = Plain<S>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the fields of a {}", S::MESSAGE)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plain<S>, A::Error> {
                let fields = fields::<S>();
                let mut values = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    if !fields.iter().any(|f| f.name() == key) {
                        return Err(serde::de::Error::custom(format_args!("unknown field `{key}`")));
                    }
                    values.push((key, map.next_value::<Json>()?));
                }
                Ok(Plain(values, PhantomData))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// The leading comment of a field in its proto file, without the AIP-style `Required.`,
/// `Optional.` prefix, on one line.
fn comment(f: &FieldDescriptor) -> String {
    let file = f.parent_file();
    let Some(info) = &file.file_descriptor_proto().source_code_info else {
        return String::new();
    };
    let Some(text) = info
        .location
        .iter()
        .find(|l| l.path == f.path())
        .and_then(|l| l.leading_comments.as_deref())
    else {
        return String::new();
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = ["Required.", "Optional.", "Required,", "Optional,"]
        .iter()
        .fold(text.as_str(), |t, p| t.strip_prefix(p).unwrap_or(t))
        .trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// One `--field value` flag per plain field of `S`, with the field's proto comment as help
/// (and an enum's values). Serialized as a map of the flags given, by field name.
pub struct PlainFlags<S>(Plain<S>);

impl<S> PlainFlags<S> {
    /// The fields given, with their values.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Json)> {
        self.0.0.iter().map(|(k, v)| (k.as_str(), v))
    }
}

impl<S> Default for PlainFlags<S> {
    fn default() -> Self {
        PlainFlags(Plain::default())
    }
}

impl<S> fmt::Debug for PlainFlags<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<S> Serialize for PlainFlags<S> {
    fn serialize<Se: Serializer>(&self, s: Se) -> Result<Se::Ok, Se::Error> {
        self.0.serialize(s)
    }
}

impl<S: Shape> clap::FromArgMatches for PlainFlags<S> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let values = fields::<S>()
            .iter()
            .filter_map(|f| {
                let v = m.try_get_one::<String>(f.name()).ok().flatten()?;
                Some((f.name().to_owned(), Json::String(v.clone())))
            })
            .collect();
        Ok(PlainFlags(Plain(values, PhantomData)))
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl<S: Shape> clap::Args for PlainFlags<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        fields::<S>().iter().fold(cmd, |cmd, f| {
            // clap keeps &'static names; the flags are built once per process.
            let id: &'static str = Box::leak(f.name().to_owned().into_boxed_str());
            let long: &'static str = Box::leak(f.name().replace('_', "-").into_boxed_str());
            let value_name: &'static str = Box::leak(f.name().to_ascii_uppercase().into_boxed_str());
            let mut help = comment(f);
            if let FieldKind::Enum(e) = f.kind() {
                help = match help.as_str() {
                    "" => enum_choices(&e),
                    h => format!("{h}: {}", enum_choices(&e)),
                };
            }
            cmd.arg(
                clap::Arg::new(id)
                    .long(long)
                    .value_name(value_name)
                    .help(help)
                    .action(clap::ArgAction::Set),
            )
        })
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use clap::{Args, FromArgMatches};
    use registry_client::pb;

    use super::*;
    use crate::records::{GoalRecord, GoalShape, PartnerShape};

    fn names<S: Shape>() -> Vec<String> {
        fields::<S>().iter().map(|f| f.name().to_owned()).collect()
    }

    #[test]
    fn plain_fields_are_the_writable_scalars_the_record_does_not_spell_itself() {
        assert_eq!(
            names::<GoalShape>(),
            [
                "title",
                "title_ko",
                "description",
                "lead_organization",
                "confidence",
                "confidence_note",
                "source",
                "description_ko"
            ]
        );
        assert_eq!(
            names::<PartnerShape>(),
            [
                "display_name",
                "display_name_ko",
                "region",
                "priority",
                "source",
                "description_ko"
            ]
        );
    }

    #[test]
    fn a_plain_field_goes_to_the_proto_and_back_in_file_form() {
        let rec: GoalRecord =
            serde_norway::from_str("id: a\ntitle: A\nconfidence: high\ndescription_ko: 설명\n").unwrap();
        let pb = rec.to_pb().unwrap();
        assert_eq!(pb.title, "A");
        assert_eq!(pb.confidence, pb::policy_goal::Confidence::High as i32);
        assert_eq!(pb.description_ko, "설명");
        let back = GoalRecord::from_pb(&pb);
        assert_eq!(back, rec.canonical());
        assert_eq!(
            serde_norway::to_string(&back).unwrap(),
            "id: a\ntitle: A\nconfidence: HIGH\ndescription_ko: 설명\n"
        );
        let bad: GoalRecord = serde_norway::from_str("id: a\nconfidence: sure\n").unwrap();
        assert_eq!(bad.to_pb().unwrap_err(), ["confidence: unknown value \"sure\""]);
        let err = serde_norway::from_str::<GoalRecord>("id: a\ncolour: red\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn partial_dates_keep_their_precision() {
        use crate::records::AgreementEventRecord;
        let text = "kind: signed\ndate: 2007-06\nnote: KORUS\n";
        let a: AgreementEventRecord = serde_norway::from_str(text).unwrap();
        let pb: pb::AgreementEvent = a.to_element("events[0]").unwrap();
        assert_eq!(
            pb.date,
            Some(pb::Date {
                year: 2007,
                month: 6,
                day: 0
            })
        );
        assert_eq!(
            serde_norway::to_string(&AgreementEventRecord::from_message(&pb)).unwrap(),
            "kind: SIGNED\ndate: 2007-06\nnote: KORUS\n"
        );
        let year: AgreementEventRecord = serde_norway::from_str("kind: concluded\ndate: 2012\n").unwrap();
        let pb: pb::AgreementEvent = year.to_element("events[0]").unwrap();
        assert_eq!(
            serde_norway::to_string(&AgreementEventRecord::from_message(&pb)).unwrap(),
            "kind: CONCLUDED\ndate: 2012\n"
        );
        let bad: AgreementEventRecord = serde_norway::from_str("note: x\ndate: 2007-x\n").unwrap();
        let errs = bad.to_element::<pb::AgreementEvent>("events[0]").unwrap_err();
        assert!(
            errs.iter().any(|e| e.starts_with("events[0].date: invalid date")),
            "{errs:?}"
        );
        assert!(errs.iter().any(|e| e == "events[0].kind: required"), "{errs:?}");
    }

    #[test]
    fn every_plain_field_is_a_flag() {
        let cmd = PlainFlags::<PartnerShape>::augment_args(clap::Command::new("t"));
        let m = cmd
            .try_get_matches_from(["t", "--display-name-ko", "미국", "--priority", "high"])
            .unwrap();
        let flags = PlainFlags::<PartnerShape>::from_arg_matches(&m).unwrap();
        assert_eq!(
            serde_json::to_value(&flags).unwrap(),
            serde_json::json!({"display_name_ko": "미국", "priority": "high"})
        );
    }
}
