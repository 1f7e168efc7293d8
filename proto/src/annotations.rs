//! The AIP annotations of the registry protos, read from the embedded descriptor set
//! ([`crate::FILE_DESCRIPTOR_SET`]): resource patterns (`google.api.resource`), field
//! behaviours (`google.api.field_behavior`), HTTP rules (`google.api.http`) and the minimum
//! role of every method (`motie.registry.v1.min_role`, `options.proto`).
//!
//! The proto files are the single source of truth for these facts; code that needs them
//! (update-mask rules, the authorisation table, resource descriptions) reads them here or is
//! checked against them by a test. The descriptor pool is parsed once, on first use.

#![warn(clippy::all)]

use std::{collections::HashMap, sync::LazyLock};

use prost_reflect::{DescriptorPool, DynamicMessage, ExtensionDescriptor, MessageDescriptor, MethodDescriptor, Value};

use crate::v1::Role;

/// The proto package of the registry's own services and messages.
pub const PACKAGE: &str = "motie.registry.v1";

static POOL: LazyLock<DescriptorPool> = LazyLock::new(|| {
    DescriptorPool::decode(crate::FILE_DESCRIPTOR_SET).expect("the descriptor set embedded at build time decodes")
});

/// The descriptor pool of the embedded descriptor set (every registry message, with its
/// options), for code that reads or builds messages by their descriptors (`prost-reflect`).
pub fn pool() -> &'static DescriptorPool {
    &POOL
}

fn extension(name: &str) -> ExtensionDescriptor {
    POOL.get_extension_by_name(name)
        .unwrap_or_else(|| panic!("extension {name} is in the descriptor set"))
}

static RESOURCE: LazyLock<ExtensionDescriptor> = LazyLock::new(|| extension("google.api.resource"));
static FIELD_BEHAVIOR: LazyLock<ExtensionDescriptor> = LazyLock::new(|| extension("google.api.field_behavior"));
static HTTP: LazyLock<ExtensionDescriptor> = LazyLock::new(|| extension("google.api.http"));
static MIN_ROLE: LazyLock<ExtensionDescriptor> = LazyLock::new(|| extension("motie.registry.v1.min_role"));

/// A resource message (`option (google.api.resource)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDescriptor {
    /// Full name of the message, e.g. `motie.registry.v1.PolicyGoal`.
    pub message: String,
    /// Resource type, e.g. `registry.motie.go.kr/PolicyGoal`.
    pub type_: String,
    /// Name patterns, e.g. `policyGoals/{policy_goal}`.
    pub patterns: Vec<String>,
    /// e.g. `policyGoals`.
    pub plural: String,
    /// e.g. `policyGoal`.
    pub singular: String,
}

/// A field behaviour (`google.api.FieldBehavior`, AIP-203).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldBehavior {
    Optional,
    Required,
    OutputOnly,
    InputOnly,
    Immutable,
    Identifier,
    /// Another `google.api.FieldBehavior` value (e.g. UNORDERED_LIST), by number.
    Other(i32),
}

impl FieldBehavior {
    fn from_number(n: i32) -> Self {
        match n {
            1 => FieldBehavior::Optional,
            2 => FieldBehavior::Required,
            3 => FieldBehavior::OutputOnly,
            4 => FieldBehavior::InputOnly,
            5 => FieldBehavior::Immutable,
            8 => FieldBehavior::Identifier,
            n => FieldBehavior::Other(n),
        }
    }
}

fn string_field(m: &DynamicMessage, name: &str) -> String {
    match m.get_field_by_name(name).as_deref() {
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

/// Every resource message of the registry, in descriptor order.
pub fn resources() -> Vec<ResourceDescriptor> {
    POOL.all_messages()
        .filter(|m| m.package_name() == PACKAGE)
        .filter_map(|m| {
            let options = m.options();
            if !options.has_extension(&RESOURCE) {
                return None;
            }
            let Value::Message(r) = options.get_extension(&RESOURCE).into_owned() else {
                return None;
            };
            let patterns = match r.get_field_by_name("pattern").as_deref() {
                Some(Value::List(l)) => l.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
                _ => Vec::new(),
            };
            Some(ResourceDescriptor {
                message: m.full_name().to_owned(),
                type_: string_field(&r, "type"),
                patterns,
                plural: string_field(&r, "plural"),
                singular: string_field(&r, "singular"),
            })
        })
        .collect()
}

/// The behaviours of every field of a message (by full name, e.g.
/// `motie.registry.v1.PolicyGoal`), in field-number order; a field without annotations has an
/// empty list. Empty for an unknown message. Read from the descriptors once, for every message.
pub fn field_behaviors(message_full_name: &str) -> &'static [(String, Vec<FieldBehavior>)] {
    static BEHAVIORS: LazyLock<HashMap<String, FieldBehaviors>> = LazyLock::new(|| {
        POOL.all_messages()
            .map(|m| (m.full_name().to_owned(), read_field_behaviors(&m)))
            .collect()
    });
    BEHAVIORS.get(message_full_name).map(Vec::as_slice).unwrap_or_default()
}

/// Each field's name and behaviours.
type FieldBehaviors = Vec<(String, Vec<FieldBehavior>)>;

fn read_field_behaviors(message: &MessageDescriptor) -> FieldBehaviors {
    let mut fields: Vec<_> = message.fields().collect();
    fields.sort_by_key(|f| f.number());
    fields
        .iter()
        .map(|f| {
            let options = f.options();
            let behaviors = if options.has_extension(&FIELD_BEHAVIOR) {
                match options.get_extension(&FIELD_BEHAVIOR).as_ref() {
                    Value::List(l) => l
                        .iter()
                        .filter_map(Value::as_enum_number)
                        .map(FieldBehavior::from_number)
                        .collect(),
                    _ => Vec::new(),
                }
            } else {
                Vec::new()
            };
            (f.name().to_owned(), behaviors)
        })
        .collect()
}

/// The top-level fields an update may write, i.e. may be named in an `update_mask`: every
/// field that is not OUTPUT_ONLY, IDENTIFIER or IMMUTABLE. `etag` is left out too: it is a
/// precondition the client sends back (AIP-154), not data an update writes.
pub fn writable_fields(message_full_name: &str) -> Vec<String> {
    field_behaviors(message_full_name)
        .iter()
        .filter(|(name, b)| {
            name != "etag"
                && !b.iter().any(|b| {
                    matches!(
                        b,
                        FieldBehavior::OutputOnly | FieldBehavior::Identifier | FieldBehavior::Immutable
                    )
                })
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The top-level fields of `message` (a `motie.registry.v1` message, e.g. `PolicyGoal`)
/// that hold a value: a scalar or enum that is not its default, a non-empty list or map, a
/// set message or `optional` field. What an update with an omitted mask writes (AIP-134).
pub fn populated_fields<M: prost::Message>(message: &str, msg: &M) -> Vec<String> {
    let full = format!("{PACKAGE}.{message}");
    let Some(desc) = POOL.get_message_by_name(&full) else {
        return Vec::new();
    };
    let Ok(dynamic) = DynamicMessage::decode(desc.clone(), msg.encode_to_vec().as_slice()) else {
        return Vec::new();
    };
    desc.fields()
        .filter(|f| dynamic.has_field(f))
        .map(|f| f.name().to_owned())
        .collect()
}

/// Puts every string of `msg` (a `motie.registry.v1` message named `message`, nested messages
/// and lists included) in Unicode Normalization Form C, so that stored text compares and
/// searches the same however a client composed it (decomposed Hangul jamo, combining
/// accents). Map keys are left as they are. Returns whether anything changed.
pub fn normalize_text<M: prost::Message + Default>(message: &str, msg: &mut M) -> bool {
    let Some(desc) = POOL.get_message_by_name(&format!("{PACKAGE}.{message}")) else {
        return false;
    };
    let Ok(mut dynamic) = DynamicMessage::decode(desc, msg.encode_to_vec().as_slice()) else {
        return false;
    };
    if !nfc_message(&mut dynamic) {
        return false;
    }
    match M::decode(prost::Message::encode_to_vec(&dynamic).as_slice()) {
        Ok(normalized) => {
            *msg = normalized;
            true
        }
        Err(_) => false,
    }
}

fn nfc_message(m: &mut DynamicMessage) -> bool {
    m.fields_mut().fold(false, |changed, (_, v)| nfc_value(v) | changed)
}

fn nfc_value(v: &mut Value) -> bool {
    use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};
    match v {
        Value::String(s) => {
            if is_nfc_quick(s.chars()) == IsNormalized::Yes {
                return false;
            }
            let n: String = s.nfc().collect();
            let changed = n != *s;
            *s = n;
            changed
        }
        Value::Message(m) => nfc_message(m),
        Value::List(items) => items.iter_mut().fold(false, |changed, v| nfc_value(v) | changed),
        Value::Map(map) => map.values_mut().fold(false, |changed, v| nfc_value(v) | changed),
        _ => false,
    }
}

/// gRPC paths (`/motie.registry.v1.PolicyGoalService/GetPolicyGoal`) of every method of the
/// registry's services.
pub fn methods() -> Vec<String> {
    POOL.services()
        .filter(|s| s.package_name() == PACKAGE)
        .flat_map(|s| {
            s.methods()
                .map(|m| format!("/{}/{}", s.full_name(), m.name()))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn method(path: &str) -> Option<MethodDescriptor> {
    let (service, name) = path.strip_prefix('/')?.split_once('/')?;
    POOL.get_service_by_name(service)?.methods().find(|m| m.name() == name)
}

/// The minimum role of a method, by gRPC path (`/motie.registry.v1.PolicyGoalService/GetPolicyGoal`);
/// `None` for an unknown method or one without `min_role`.
pub fn method_min_role(path: &str) -> Option<Role> {
    let options = method(path)?.options();
    if !options.has_extension(&MIN_ROLE) {
        return None;
    }
    let n = options.get_extension(&MIN_ROLE).as_enum_number()?;
    Role::try_from(n).ok()
}

/// The HTTP rule of a method (`google.api.http`), by gRPC path: the verb (`get`, `post`,
/// `patch`, `put`, `delete`, or a custom kind) and the path template, e.g.
/// `("get", "/v1/{name=policyGoals/*}")`. Additional bindings are not returned.
pub fn http_rule(path: &str) -> Option<(String, String)> {
    let options = method(path)?.options();
    if !options.has_extension(&HTTP) {
        return None;
    }
    let Value::Message(rule) = options.get_extension(&HTTP).into_owned() else {
        return None;
    };
    for verb in ["get", "put", "post", "delete", "patch"] {
        if rule.has_field_by_name(verb) {
            return Some((verb.to_owned(), string_field(&rule, verb)));
        }
    }
    match rule.get_field_by_name("custom").as_deref() {
        Some(Value::Message(custom)) if rule.has_field_by_name("custom") => {
            Some((string_field(custom, "kind"), string_field(custom, "path")))
        }
        _ => None,
    }
}

/// The `body` of a method's HTTP rule (`*`, a field name, or empty for none).
pub fn http_body(path: &str) -> Option<String> {
    let options = method(path)?.options();
    if !options.has_extension(&HTTP) {
        return None;
    }
    match options.get_extension(&HTTP).as_ref() {
        Value::Message(rule) => Some(string_field(rule, "body")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    const GOALS: &str = "/motie.registry.v1.PolicyGoalService/";

    /// Every string of a request, nested messages, lists and map values included, comes out
    /// composed; map keys and composed text are left alone.
    #[test]
    fn normalize_text_composes_every_string() {
        use unicode_normalization::UnicodeNormalization;
        let nfd = |s: &str| s.nfd().collect::<String>();
        let mut req = crate::v1::CreatePolicyGoalRequest {
            policy_goal_id: "chips".into(),
            policy_goal: Some(crate::v1::PolicyGoal {
                title: nfd("반도체"),
                sectors: vec![nfd("제조"), "ai".into()],
                targets: vec![crate::v1::Target {
                    description: nfd("공장 500개"),
                    ..Default::default()
                }],
                labels: [("k".to_owned(), nfd("값"))].into_iter().collect(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(normalize_text("CreatePolicyGoalRequest", &mut req));
        let g = req.policy_goal.clone().expect("goal");
        assert_eq!(g.title, "반도체");
        assert_eq!(g.sectors, ["제조", "ai"]);
        assert_eq!(g.targets[0].description, "공장 500개");
        assert_eq!(g.labels["k"], "값");
        assert_eq!(req.policy_goal_id, "chips");
        assert!(!normalize_text("CreatePolicyGoalRequest", &mut req), "already composed");
    }

    #[test]
    fn every_method_has_an_http_rule_and_a_min_role() {
        let methods = methods();
        assert_eq!(methods.len(), 58, "{methods:?}");
        for m in &methods {
            assert!(http_rule(m).is_some(), "{m} has no google.api.http rule");
            assert!(method_min_role(m).is_some(), "{m} has no min_role");
            assert_ne!(method_min_role(m), Some(Role::Unspecified), "{m}");
        }
    }

    /// Each `{field=…}` of an HTTP path and the body name a field of the request, so that
    /// transcoding (Envoy, grpc-gateway) can bind them; no two rules share verb and path.
    #[test]
    fn http_rules_bind_request_fields() {
        let mut seen = BTreeSet::new();
        for m in methods() {
            let (verb, path) = http_rule(&m).expect("rule");
            assert!(path.starts_with("/v1/"), "{m}: {path}");
            assert!(
                seen.insert((verb.clone(), path.clone())),
                "{m}: {verb} {path} used twice"
            );
            let input = method(&m).expect("method").input();
            let mut rest = path.as_str();
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}').expect("closing brace") + start;
                let var = &rest[start + 1..end];
                let field_path = var.split('=').next().expect("field path");
                let mut message = input.clone();
                for (i, part) in field_path.split('.').enumerate() {
                    let field = message
                        .get_field_by_name(part)
                        .unwrap_or_else(|| panic!("{m}: {field_path} is not a field of {}", input.full_name()));
                    if i + 1 < field_path.split('.').count() {
                        message = field.kind().as_message().expect("message field").clone();
                    }
                }
                rest = &rest[end + 1..];
            }
            let body = http_body(&m).expect("body");
            assert!(
                body.is_empty() || body == "*" || input.get_field_by_name(&body).is_some(),
                "{m}: body {body}"
            );
            if verb == "get" || verb == "delete" {
                assert!(body.is_empty(), "{m}: {verb} with a body");
            }
        }
    }

    #[test]
    fn every_resource_has_a_pattern() {
        let resources = resources();
        let names: BTreeSet<&str> = resources.iter().map(|r| r.message.as_str()).collect();
        assert_eq!(
            names,
            BTreeSet::from([
                "motie.registry.v1.PolicyGoal",
                "motie.registry.v1.Measurement",
                "motie.registry.v1.TradePartner",
                "motie.registry.v1.TradeFlow",
                "motie.registry.v1.ProductSet",
                "motie.registry.v1.Token",
                "motie.registry.v1.TradeAgreement",
                "motie.registry.v1.RiskEntry",
                "motie.registry.v1.CheckIn",
            ])
        );
        for r in &resources {
            let short = r.message.rsplit('.').next().expect("name");
            assert_eq!(r.type_, format!("registry.motie.go.kr/{short}"));
            assert!(!r.patterns.is_empty(), "{} has no pattern", r.message);
            assert!(!r.plural.is_empty() && !r.singular.is_empty(), "{}", r.message);
            for p in &r.patterns {
                assert!(
                    p.split('/').nth(p.split('/').count() - 2) == Some(r.plural.as_str()),
                    "{p} does not end in the plural {}",
                    r.plural
                );
            }
            // The resource's `name` is its identifier.
            assert!(
                field_behaviors(&r.message)
                    .iter()
                    .any(|(f, b)| f == "name" && b == &[FieldBehavior::Identifier]),
                "{}",
                r.message
            );
        }
        let goal = resources
            .iter()
            .find(|r| r.message == "motie.registry.v1.Measurement")
            .expect("measurement");
        assert_eq!(goal.patterns, ["policyGoals/{policy_goal}/measurements/{measurement}"]);
    }

    /// Every `google.api.resource_reference` names a declared resource type (or `*`).
    #[test]
    fn resource_references_name_known_types() {
        let types: BTreeSet<String> = resources().into_iter().map(|r| r.type_).collect();
        let ext = extension("google.api.resource_reference");
        let mut count = 0;
        for m in POOL.all_messages().filter(|m| m.package_name() == PACKAGE) {
            for f in m.fields() {
                let options = f.options();
                if !options.has_extension(&ext) {
                    continue;
                }
                let Value::Message(r) = options.get_extension(&ext).into_owned() else {
                    panic!("resource_reference is a message")
                };
                let t = [string_field(&r, "type"), string_field(&r, "child_type")].concat();
                assert!(t == "*" || types.contains(&t), "{}.{}: {t}", m.full_name(), f.name());
                count += 1;
            }
        }
        assert!(count > 20, "{count}");
    }

    #[test]
    fn spot_checks() {
        assert_eq!(
            http_rule(&format!("{GOALS}GetPolicyGoal")),
            Some(("get".into(), "/v1/{name=policyGoals/*}".into()))
        );
        assert_eq!(
            http_rule(&format!("{GOALS}UpdatePolicyGoal")),
            Some(("patch".into(), "/v1/{policy_goal.name=policyGoals/*}".into()))
        );
        assert_eq!(
            http_body(&format!("{GOALS}UpdatePolicyGoal")).as_deref(),
            Some("policy_goal")
        );
        assert_eq!(
            http_rule("/motie.registry.v1.TradePartnerService/ListTradeFlows"),
            Some(("get".into(), "/v1/{parent=tradePartners/*}/tradeFlows".into()))
        );
        assert_eq!(method_min_role(&format!("{GOALS}GetPolicyGoal")), Some(Role::Viewer));
        assert_eq!(method_min_role(&format!("{GOALS}CreatePolicyGoal")), Some(Role::Editor));
        assert_eq!(
            method_min_role("/motie.registry.v1.AdminService/CreateToken"),
            Some(Role::Admin)
        );
        assert_eq!(method_min_role(&format!("{GOALS}Nope")), None);
        assert_eq!(method_min_role("/grpc.health.v1.Health/Check"), None);
        assert_eq!(http_rule("nonsense"), None);

        let partner = field_behaviors("motie.registry.v1.TradePartner");
        let behaviors = |f: &str| partner.iter().find(|(n, _)| n == f).map(|(_, b)| b.clone());
        assert_eq!(
            behaviors("kind"),
            Some(vec![FieldBehavior::Required, FieldBehavior::Immutable])
        );
        assert_eq!(behaviors("memberships"), Some(vec![FieldBehavior::OutputOnly]));
        assert_eq!(behaviors("etag"), Some(vec![FieldBehavior::Optional]));
        assert!(field_behaviors("motie.registry.v1.Nope").is_empty());
        assert_eq!(
            writable_fields("motie.registry.v1.TradeFlow"),
            ["exports_usd", "imports_usd", "source", "estimated"]
        );
        assert!(writable_fields("motie.registry.v1.Token").is_empty());
    }
}
