//! Proto <-> domain conversions: the only place (with the services beside it) where generated
//! types meet domain types. Parsing a proto message validates every field and reports every
//! violation at once; encoding never fails.

/// Implements [`Patchable`] for a proto resource message whose module has
/// `fn field(v, path, msg, name) -> Option<Field>`, and the spec's `from_proto` (a create)
/// and the module's `patch` (an update) on it.
macro_rules! patchable {
    ($msg:ty => $field:ident, $patch:ident, $spec:ident, $fields:expr, $rule_inputs:expr) => {
        impl super::Patchable for $msg {
            type Field = $field;
            type Spec = $spec;

            fn spec(&self, prefix: &str) -> Result<$spec, Error> {
                $spec::from_proto(prefix, self)
            }

            fn field(&self, v: &mut Violations, path: &str, name: &str) -> Option<$field> {
                let before = v.len();
                let value = field(v, path, self, name)?;
                (v.len() == before).then_some(value)
            }

            fn labels(&self) -> &std::collections::HashMap<String, String> {
                &self.labels
            }

            fn label(key: String, value: Option<String>) -> $field {
                $field::Label(key, value)
            }
        }

        impl $spec {
            /// Validates every writable field; violation paths are `{prefix}.{field}`.
            pub fn from_proto(prefix: &str, msg: &$msg) -> Result<$spec, Error> {
                super::parse_all(prefix, msg, $fields, $rule_inputs, |fields| {
                    $spec::new($patch(fields))
                })
            }
        }
    };
}

pub mod agreement;
pub mod check_in;
pub mod enums;
pub mod goal;
pub mod measurement;
pub mod partner;
pub mod product_set;
pub mod risk;

use std::collections::{BTreeMap, HashMap};

use crate::domain::{
    Error, Violations, check,
    list::FieldDef,
    mask::{self, MaskPath},
};

/// How a text field is checked (see [`check::text`]): whether it is required, its longest, and
/// whether it may span lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextRule {
    required: bool,
    max: usize,
    multiline: bool,
}

impl TextRule {
    /// Optional text of at most `max` characters, on one line unless `multiline`.
    const fn optional(max: usize, multiline: bool) -> TextRule {
        TextRule {
            required: false,
            max,
            multiline,
        }
    }

    const fn required(self) -> TextRule {
        TextRule { required: true, ..self }
    }
}

/// A required one-line title.
pub(crate) const TITLE: TextRule = OPTIONAL_TITLE.required();
/// An optional one-line title or name.
pub(crate) const OPTIONAL_TITLE: TextRule = TextRule::optional(check::MAX_TITLE, false);
/// An optional description or note.
pub(crate) const LONG_TEXT: TextRule = TextRule::optional(check::MAX_LONG_TEXT, true);
/// An optional source or reference.
pub(crate) const SHORT_TEXT: TextRule = TextRule::optional(check::MAX_SHORT_TEXT, false);

/// A text field's value, checked by `rule`.
pub(crate) fn text(v: &mut Violations, f: &str, value: &str, rule: TextRule) -> String {
    check::text(v, f, value, rule.required, rule.max, rule.multiline);
    value.to_owned()
}

/// A resource's labels, checked.
pub(crate) fn labels(v: &mut Violations, f: &str, raw: &HashMap<String, String>) -> BTreeMap<String, String> {
    let labels = raw.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    check::labels(v, f, &labels);
    labels
}

/// The output-only fields every stored resource's message has (name aside), set from its
/// stamps.
pub(crate) trait Stamped: Sized {
    fn stamped(self, etag: String, stamps: &crate::domain::Stamps) -> Self;
}

macro_rules! stamped {
    ($($msg:ty),+ $(,)?) => {$(
        impl Stamped for $msg {
            fn stamped(self, etag: String, s: &crate::domain::Stamps) -> Self {
                Self {
                    create_time: Some(timestamp(s.create_time)),
                    update_time: Some(timestamp(s.update_time)),
                    delete_time: s.delete_time.map(timestamp),
                    expire_time: s.expire_time.map(timestamp),
                    etag,
                    revision: s.revision,
                    ..self
                }
            }
        }
    )+};
}

stamped!(
    registry_proto::v1::PolicyGoal,
    registry_proto::v1::TradePartner,
    registry_proto::v1::TradeAgreement,
    registry_proto::v1::RiskEntry,
    registry_proto::v1::ProductSet,
);

/// A proto timestamp from a time.
pub fn timestamp(t: time::OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// A time from a proto timestamp, rejecting out-of-range values.
pub fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<time::OffsetDateTime, Error> {
    if !(0..1_000_000_000).contains(&t.nanos) {
        return Err(Error::invalid(field, "nanos must be 0..=999999999"));
    }
    // PostgreSQL timestamps cover 4713 BC..294276 AD; accept years 1..=9999.
    if !(-62_135_596_800..=253_402_300_799).contains(&t.seconds) {
        return Err(Error::invalid(field, "must be between years 1 and 9999"));
    }
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.seconds) * 1_000_000_000 + i128::from(t.nanos))
        .map_err(|_| Error::invalid(field, "is not a valid timestamp"))
}

/// A proto resource message whose writable fields convert one by one into a domain patch:
/// a create converts every writable field, an update the masked ones.
pub(crate) trait Patchable {
    /// The domain's typed form of one field and its new value.
    type Field;
    /// The domain's spec of the resource.
    type Spec;
    /// Every writable field, validated (a create); violation paths are `{prefix}.{field}`.
    fn spec(&self, prefix: &str) -> Result<Self::Spec, Error>;
    /// Converts and validates the writable top-level field `name` (`path` names it in the
    /// request, for violations).
    fn field(&self, v: &mut Violations, path: &str, name: &str) -> Option<Self::Field>;
    fn labels(&self) -> &HashMap<String, String>;
    /// `labels.<key>`: set to `value`, or removed.
    fn label(key: String, value: Option<String>) -> Self::Field;
}

/// The valid fields of `msg` that `paths` name; the others' violations go to `v`, their names
/// to `failed`.
fn fields<M: Patchable>(
    v: &mut Violations,
    failed: &mut Vec<&'static str>,
    prefix: &str,
    msg: &M,
    paths: &[MaskPath],
) -> Vec<M::Field> {
    let mut fields = Vec::with_capacity(paths.len());
    for p in paths {
        let before = v.len();
        match p {
            MaskPath::Field(name) => {
                fields.extend(msg.field(v, &format!("{prefix}.{name}"), name));
                if v.len() > before {
                    failed.push(name);
                }
            }
            MaskPath::Label(key) => {
                let value = msg.labels().get(key).cloned();
                let one = value.iter().map(|val| (key.clone(), val.clone())).collect();
                check::labels(v, &format!("{prefix}.labels"), &one);
                if v.len() > before {
                    failed.push("labels");
                }
                fields.push(M::label(key.clone(), value));
            }
        }
    }
    fields
}

/// The typed patch of an update: the fields of `msg` that `paths` name, each validated;
/// violation paths are `{prefix}.{field}`.
pub(crate) fn patch<M: Patchable>(prefix: &str, msg: &M, paths: &[MaskPath]) -> Result<Vec<M::Field>, Error> {
    let mut v = Violations::new();
    let fields = fields(&mut v, &mut Vec::new(), prefix, msg, paths);
    v.finish(|| fields)
}

/// A create: every writable field of `msg` (those `described` says a client writes), then
/// `build` checks the rules across fields on the valid ones too, so the request learns of
/// every problem at once. A rule whose inputs (`rule_inputs`: the violation's field and the
/// fields it reads) include a field that is itself invalid is not reported: it would judge
/// the default that stands in for the invalid value.
pub(crate) fn parse_all<M: Patchable, S>(
    prefix: &str,
    msg: &M,
    described: &[FieldDef],
    rule_inputs: &[(&str, &[&str])],
    build: impl FnOnce(Vec<M::Field>) -> Result<S, Error>,
) -> Result<S, Error> {
    let every: Vec<MaskPath> = mask::writable(described).map(MaskPath::Field).collect();
    let mut v = Violations::new();
    let mut failed = Vec::new();
    let fields = fields(&mut v, &mut failed, prefix, msg, &every);
    let built = match build(fields) {
        Ok(built) => Some(built),
        Err(Error::InvalidArgument(rules)) => {
            for r in rules {
                let judged_a_default = rule_inputs.iter().any(|(field, inputs)| {
                    let names_it = r.field == *field
                        || r.field
                            .strip_prefix(field)
                            .is_some_and(|rest| rest.starts_with(['[', '.']));
                    names_it && inputs.iter().any(|i| failed.contains(i))
                });
                if !judged_a_default {
                    v.add(format!("{prefix}.{}", r.field), r.description);
                }
            }
            None
        }
        Err(other) => return Err(other),
    };
    match built {
        Some(built) if v.is_empty() => Ok(built),
        _ => Err(Error::InvalidArgument(v.into_vec())),
    }
}
