//! The trade-partner model: `PartnerSpec` (what a client may write), `TradePartner` (what the
//! registry stores) and `TradeFlow` (exports/imports of one partner in one year).
//! `PartnerSpec::from_proto` checks every field of the proto message.

use std::collections::{BTreeMap, HashSet};

use registry_proto::v1 as pb;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Collection, Error, Id, Violations, check,
    enums::{AgreementStatus, AgreementType, EngagementKind, EngagementState, PartnerKind, Priority, enum_field},
    goal::{Date, Risk},
    list::{FieldDef, FieldKind, SortValue, common},
    mask::{MaskPath, MaskRules},
};

const PARTNERS: Collection = Collection::TradePartners;

/// At most this many members in a bloc, forum or group.
pub const MAX_MEMBERS: usize = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agreement {
    pub title: String,
    #[serde(rename = "type")]
    pub agreement_type: AgreementType,
    pub status: AgreementStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_date: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_into_force_date: Option<Date>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engagement {
    pub title: String,
    pub kind: EngagementKind,
    pub state: EngagementState,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_step: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub linked_goals: Vec<Id>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<Date>,
}

/// The client-writable part of a partner, fully validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerSpec {
    pub kind: PartnerKind,
    pub display_name: String,
    pub display_name_ko: String,
    pub region: String,
    pub members: Vec<Id>,
    pub priority: Option<Priority>,
    pub agreements: Vec<Agreement>,
    pub engagements: Vec<Engagement>,
    pub risks: Vec<Risk>,
    pub source: String,
    pub labels: BTreeMap<String, String>,
}

/// A stored partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradePartner {
    pub id: Id,
    #[serde(flatten)]
    pub spec: PartnerSpec,
    /// Live blocs, forums and groups listing this partner as a member.
    #[serde(default)]
    pub memberships: Vec<Id>,
    /// Live goals linking this partner.
    #[serde(default)]
    pub linked_goals: Vec<Id>,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delete_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expire_time: Option<OffsetDateTime>,
    pub revision: i64,
}

impl TradePartner {
    pub fn name(&self) -> String {
        PARTNERS.name(&self.id)
    }

    pub fn etag(&self) -> String {
        super::etag(self.id.as_str(), self.revision, self.create_time)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        let micros = |t: OffsetDateTime| (t.unix_timestamp_nanos() / 1000) as i64;
        match field {
            "display_name" => SortValue::Text(self.spec.display_name.clone()),
            "kind" => SortValue::Text(self.spec.kind.as_str().to_owned()),
            "region" => SortValue::Text(self.spec.region.clone()),
            "priority" => SortValue::Text(priority_sort_key(self.spec.priority).to_owned()),
            "create_time" => SortValue::Int(micros(self.create_time)),
            "update_time" => SortValue::Int(micros(self.update_time)),
            _ => SortValue::Text(self.id.as_str().to_owned()),
        }
    }

    pub fn to_proto(&self) -> pb::TradePartner {
        let s = &self.spec;
        let names = |ids: &[Id], c: Collection| ids.iter().map(|i| c.name(i)).collect::<Vec<_>>();
        pb::TradePartner {
            name: self.name(),
            kind: s.kind.to_proto(),
            display_name: s.display_name.clone(),
            display_name_ko: s.display_name_ko.clone(),
            region: s.region.clone(),
            members: names(&s.members, PARTNERS),
            memberships: names(&self.memberships, PARTNERS),
            priority: s.priority.map_or(0, Priority::to_proto),
            agreements: s.agreements.iter().map(Agreement::to_proto).collect(),
            engagements: s.engagements.iter().map(Engagement::to_proto).collect(),
            risks: s.risks.iter().map(Risk::to_proto).collect(),
            linked_goals: names(&self.linked_goals, Collection::PolicyGoals),
            source: s.source.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            create_time: Some(super::timestamp(self.create_time)),
            update_time: Some(super::timestamp(self.update_time)),
            delete_time: self.delete_time.map(super::timestamp),
            expire_time: self.expire_time.map(super::timestamp),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}

/// Priorities sort by weight (LOW < … < STRATEGIC), unset first: the stored sort key.
pub fn priority_sort_key(p: Option<Priority>) -> &'static str {
    match p {
        None => "0",
        Some(Priority::Low) => "1",
        Some(Priority::Medium) => "2",
        Some(Priority::High) => "3",
        Some(Priority::Strategic) => "4",
    }
}

/// Checks a partner id against its kind: a COUNTRY is an ISO 3166-1 alpha-2 code in lower
/// case (`us`, `kr`); other kinds use any slug.
pub fn check_id(v: &mut Violations, field: &str, id: &Id, kind: PartnerKind) {
    if kind == PartnerKind::Country {
        let code = id.as_str().to_ascii_uppercase();
        if code.len() != 2 || rust_iso3166::from_alpha2(&code).is_none() {
            v.add(
                field,
                format!(
                    "{:?} is not an ISO 3166-1 alpha-2 country code; a COUNTRY's id is its code in lower case (e.g. us, cn, jp)",
                    id.as_str()
                ),
            );
        }
    }
}

impl Agreement {
    fn from_proto(v: &mut Violations, f: &str, a: &pb::Agreement) -> Option<Agreement> {
        let before = v.len();
        check::text(v, &format!("{f}.title"), &a.title, true, check::MAX_TITLE, false);
        let agreement_type = enum_field(
            v,
            &format!("{f}.type"),
            a.r#type,
            AgreementType::from_proto,
            true,
            AgreementType::expected,
        );
        let status = enum_field(
            v,
            &format!("{f}.status"),
            a.status,
            AgreementStatus::from_proto,
            true,
            AgreementStatus::expected,
        );
        let signature_date = Date::from_proto(v, &format!("{f}.signature_date"), a.signature_date.as_ref());
        let entry = Date::from_proto(
            v,
            &format!("{f}.entry_into_force_date"),
            a.entry_into_force_date.as_ref(),
        );
        check::text(
            v,
            &format!("{f}.description"),
            &a.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        use AgreementStatus::*;
        if let Some(s) = status {
            if signature_date.is_some() && matches!(s, Proposed | InNegotiation) {
                v.add(
                    format!("{f}.signature_date"),
                    format!("must not be set while the agreement is {s}"),
                );
            }
            if entry.is_some() && !matches!(s, InForce | UnderReview | Suspended) {
                v.add(
                    format!("{f}.entry_into_force_date"),
                    format!("is only set once the agreement is IN_FORCE (or later UNDER_REVIEW or SUSPENDED), not {s}"),
                );
            }
        }
        if let (Some(sd), Some(e)) = (signature_date, entry)
            && e < sd
        {
            v.add(
                format!("{f}.entry_into_force_date"),
                "must not be before the signature date",
            );
        }
        (v.len() == before).then(|| Agreement {
            title: a.title.clone(),
            agreement_type: agreement_type.unwrap_or(AgreementType::Other),
            status: status.unwrap_or(Proposed),
            signature_date,
            entry_into_force_date: entry,
            description: a.description.clone(),
        })
    }

    pub fn to_proto(&self) -> pb::Agreement {
        pb::Agreement {
            title: self.title.clone(),
            r#type: self.agreement_type.to_proto(),
            status: self.status.to_proto(),
            signature_date: self.signature_date.map(Date::to_proto),
            entry_into_force_date: self.entry_into_force_date.map(Date::to_proto),
            description: self.description.clone(),
        }
    }
}

impl Engagement {
    fn from_proto(v: &mut Violations, f: &str, e: &pb::Engagement) -> Option<Engagement> {
        let before = v.len();
        check::text(v, &format!("{f}.title"), &e.title, true, check::MAX_TITLE, false);
        let kind = enum_field(
            v,
            &format!("{f}.kind"),
            e.kind,
            EngagementKind::from_proto,
            true,
            EngagementKind::expected,
        );
        let state = enum_field(
            v,
            &format!("{f}.state"),
            e.state,
            EngagementState::from_proto,
            false,
            EngagementState::expected,
        );
        check::text(
            v,
            &format!("{f}.next_step"),
            &e.next_step,
            false,
            check::MAX_SHORT_TEXT,
            true,
        );
        let linked_goals = names(
            v,
            &format!("{f}.linked_goals"),
            &e.linked_goals,
            Collection::PolicyGoals,
            100,
        );
        check::text(
            v,
            &format!("{f}.description"),
            &e.description,
            false,
            check::MAX_LONG_TEXT,
            true,
        );
        let date = Date::from_proto(v, &format!("{f}.date"), e.date.as_ref());
        (v.len() == before).then(|| Engagement {
            title: e.title.clone(),
            kind: kind.unwrap_or(EngagementKind::Other),
            state: state.unwrap_or(EngagementState::Planned),
            next_step: e.next_step.clone(),
            linked_goals,
            description: e.description.clone(),
            date,
        })
    }

    pub fn to_proto(&self) -> pb::Engagement {
        pb::Engagement {
            title: self.title.clone(),
            kind: self.kind.to_proto(),
            state: self.state.to_proto(),
            next_step: self.next_step.clone(),
            linked_goals: self
                .linked_goals
                .iter()
                .map(|g| Collection::PolicyGoals.name(g))
                .collect(),
            description: self.description.clone(),
            date: self.date.map(Date::to_proto),
        }
    }
}

/// Parses a list of resource names of `c` (unique, at most `max`) into ids.
pub fn names(v: &mut Violations, field: &str, raw: &[String], c: Collection, max: usize) -> Vec<Id> {
    let mut out = Vec::new();
    if raw.len() > max {
        v.add(field, format!("must have at most {max} items (got {})", raw.len()));
        return out;
    }
    let mut seen = HashSet::new();
    for (i, n) in raw.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if let Some(id) = v.take(c.parse_name(&f, n)) {
            if seen.insert(id.clone()) {
                out.push(id);
            } else {
                v.add(f, format!("duplicate {n:?}"));
            }
        }
    }
    out
}

/// Validates a list of sub-records, each with `parse`, at most `max` of them.
fn items<P, T>(
    v: &mut Violations,
    field: &str,
    raw: &[P],
    max: usize,
    parse: impl Fn(&mut Violations, &str, &P) -> Option<T>,
) -> Vec<T> {
    if raw.len() > max {
        v.add(field, format!("must have at most {max} items (got {})", raw.len()));
        return Vec::new();
    }
    raw.iter()
        .enumerate()
        .filter_map(|(i, p)| parse(v, &format!("{field}[{i}]"), p))
        .collect()
}

impl PartnerSpec {
    /// Validates every writable field of `p`; violation paths are `{prefix}.{field}`.
    pub fn from_proto(prefix: &str, p: &pb::TradePartner) -> Result<PartnerSpec, Error> {
        let f = |name: &str| format!("{prefix}.{name}");
        let mut v = Violations::new();
        let kind = enum_field(
            &mut v,
            &f("kind"),
            p.kind,
            PartnerKind::from_proto,
            true,
            PartnerKind::expected,
        );
        check::text(
            &mut v,
            &f("display_name"),
            &p.display_name,
            true,
            check::MAX_TITLE,
            false,
        );
        check::text(
            &mut v,
            &f("display_name_ko"),
            &p.display_name_ko,
            false,
            check::MAX_TITLE,
            false,
        );
        if !p.region.is_empty() && !check::is_slug(&p.region) {
            v.add(f("region"), "is a lowercase slug such as east-asia or southeast-asia");
        }
        let members = names(&mut v, &f("members"), &p.members, PARTNERS, MAX_MEMBERS);
        if kind == Some(PartnerKind::Country) && !p.members.is_empty() {
            v.add(
                f("members"),
                "a COUNTRY has no members; members belong to blocs, forums and groups",
            );
        }
        let priority = enum_field(
            &mut v,
            &f("priority"),
            p.priority,
            Priority::from_proto,
            false,
            Priority::expected,
        );
        let agreements = items(
            &mut v,
            &f("agreements"),
            &p.agreements,
            check::MAX_LIST_ITEMS,
            Agreement::from_proto,
        );
        let engagements = items(
            &mut v,
            &f("engagements"),
            &p.engagements,
            check::MAX_LIST_ITEMS,
            Engagement::from_proto,
        );
        let risks = items(&mut v, &f("risks"), &p.risks, 50, Risk::from_proto);
        check::text(&mut v, &f("source"), &p.source, false, check::MAX_SHORT_TEXT, false);
        let labels: BTreeMap<String, String> = p.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        check::labels(&mut v, &f("labels"), &labels);
        let kind = kind.unwrap_or(PartnerKind::Country);
        v.finish(|| PartnerSpec {
            kind,
            display_name: p.display_name.clone(),
            display_name_ko: p.display_name_ko.clone(),
            region: p.region.clone(),
            members,
            priority,
            agreements,
            engagements,
            risks,
            source: p.source.clone(),
            labels,
        })
    }
}

/// Writable top-level fields of a partner, as update-mask paths. `kind` is immutable: it is
/// accepted in a mask only with the partner's current kind.
pub const WRITABLE_FIELDS: &[&str] = &[
    "kind",
    "display_name",
    "display_name_ko",
    "region",
    "members",
    "priority",
    "agreements",
    "engagements",
    "risks",
    "source",
    "labels",
];

/// Output-only fields.
pub const OUTPUT_ONLY_FIELDS: &[&str] = &[
    "name",
    "memberships",
    "linked_goals",
    "create_time",
    "update_time",
    "delete_time",
    "expire_time",
    "etag",
    "revision",
];

/// Update-mask rules of TradePartner.
pub const MASK_RULES: MaskRules = MaskRules {
    writable: WRITABLE_FIELDS,
    output_only: OUTPUT_ONLY_FIELDS,
    custom: &[],
};

/// Whether a writable field of a request partner holds a non-default value.
pub fn populated(p: &pb::TradePartner, field: &str) -> bool {
    match field {
        "kind" => p.kind != 0,
        "display_name" => !p.display_name.is_empty(),
        "display_name_ko" => !p.display_name_ko.is_empty(),
        "region" => !p.region.is_empty(),
        "members" => !p.members.is_empty(),
        "priority" => p.priority != 0,
        "agreements" => !p.agreements.is_empty(),
        "engagements" => !p.engagements.is_empty(),
        "risks" => !p.risks.is_empty(),
        "source" => !p.source.is_empty(),
        "labels" => !p.labels.is_empty(),
        _ => false,
    }
}

/// Applies the masked fields of `req` onto `current` and validates the result as a whole.
pub fn merge(current: &TradePartner, req: &pb::TradePartner, paths: &[MaskPath]) -> Result<PartnerSpec, Error> {
    let mut p = current.to_proto();
    for path in paths {
        match path {
            MaskPath::Field(f) => match *f {
                "kind" => p.kind = req.kind,
                "display_name" => p.display_name.clone_from(&req.display_name),
                "display_name_ko" => p.display_name_ko.clone_from(&req.display_name_ko),
                "region" => p.region.clone_from(&req.region),
                "members" => p.members.clone_from(&req.members),
                "priority" => p.priority = req.priority,
                "agreements" => p.agreements.clone_from(&req.agreements),
                "engagements" => p.engagements.clone_from(&req.engagements),
                "risks" => p.risks.clone_from(&req.risks),
                "source" => p.source.clone_from(&req.source),
                "labels" => p.labels.clone_from(&req.labels),
                _ => {}
            },
            MaskPath::Label(key) => super::mask::apply_label(&mut p.labels, &req.labels, key),
        }
    }
    let spec = PartnerSpec::from_proto("trade_partner", &p)?;
    if spec.kind != current.spec.kind {
        return Err(Error::invalid(
            "trade_partner.kind",
            format!(
                "is immutable: {} is a {}; delete it and create a new partner instead",
                current.name(),
                current.spec.kind
            ),
        ));
    }
    Ok(spec)
}

/// Fields of partners that List can filter on and order by.
pub const LIST_FIELDS: &[FieldDef] = &[
    FieldDef {
        name: "kind",
        kind: FieldKind::Enum {
            parse: |s| PartnerKind::parse(s).map(PartnerKind::as_str),
            expected: PartnerKind::expected,
        },
        orderable: true,
        filterable: true,
    },
    FieldDef {
        name: "priority",
        kind: FieldKind::Enum {
            parse: |s| Priority::parse(s).map(Priority::as_str),
            expected: Priority::expected,
        },
        orderable: true,
        filterable: true,
    },
    FieldDef {
        name: "region",
        kind: FieldKind::Text,
        orderable: true,
        filterable: true,
    },
    FieldDef {
        name: "display_name",
        kind: FieldKind::Text,
        orderable: true,
        filterable: true,
    },
    FieldDef {
        name: "agreements.status",
        kind: FieldKind::Enum {
            parse: |s| AgreementStatus::parse(s).map(AgreementStatus::as_str),
            expected: AgreementStatus::expected,
        },
        orderable: false,
        filterable: true,
    },
    FieldDef {
        name: "agreements.type",
        kind: FieldKind::Enum {
            parse: |s| AgreementType::parse(s).map(AgreementType::as_str),
            expected: AgreementType::expected,
        },
        orderable: false,
        filterable: true,
    },
    FieldDef {
        name: "engagements.state",
        kind: FieldKind::Enum {
            parse: |s| EngagementState::parse(s).map(EngagementState::as_str),
            expected: EngagementState::expected,
        },
        orderable: false,
        filterable: true,
    },
    FieldDef {
        name: "risks.category",
        kind: FieldKind::Enum {
            parse: |s| super::enums::RiskCategory::parse(s).map(super::enums::RiskCategory::as_str),
            expected: super::enums::RiskCategory::expected,
        },
        orderable: false,
        filterable: true,
    },
    FieldDef {
        name: "members",
        kind: FieldKind::Names(Collection::TradePartners),
        orderable: false,
        filterable: true,
    },
    FieldDef {
        name: "member_of",
        kind: FieldKind::Reference(Collection::TradePartners),
        orderable: false,
        filterable: true,
    },
    common::LABELS,
    common::SEARCH,
    common::CREATE_TIME,
    common::UPDATE_TIME,
    common::NAME,
];

/// Trade with one partner in one year.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TradeFlow {
    pub partner: Id,
    pub year: i32,
    pub exports_usd: i64,
    pub imports_usd: i64,
    pub source: String,
    pub estimated: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub update_time: OffsetDateTime,
    pub revision: i64,
}

/// The writable figures of a flow, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowSpec {
    pub exports_usd: i64,
    pub imports_usd: i64,
    pub source: String,
    pub estimated: bool,
}

/// `tradePartners/{partner}/tradeFlows/{year}`.
pub fn flow_name(partner: &Id, year: i32) -> String {
    format!("{}/tradeFlows/{year}", PARTNERS.name(partner))
}

/// Parses `tradePartners/{partner}/tradeFlows/{year}`.
pub fn parse_flow_name(field: &str, name: &str) -> Result<(Id, i32), Error> {
    let bad = || {
        Error::invalid(
            field,
            format!(
                "{:?} must be of the form tradePartners/{{partner}}/tradeFlows/{{year}}",
                name.chars().take(80).collect::<String>()
            ),
        )
    };
    let mut parts = name.split('/');
    let (Some("tradePartners"), Some(partner), Some("tradeFlows"), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let id = Id::parse(field, partner)?;
    if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let year: i32 = year.parse().map_err(|_| bad())?;
    let mut v = Violations::new();
    check::year(&mut v, field, year);
    v.finish(|| (id, year))
}

impl FlowSpec {
    pub fn from_proto(prefix: &str, f: &pb::TradeFlow) -> Result<FlowSpec, Error> {
        let mut v = Violations::new();
        if f.exports_usd < 0 {
            v.add(format!("{prefix}.exports_usd"), "must not be negative");
        }
        if f.imports_usd < 0 {
            v.add(format!("{prefix}.imports_usd"), "must not be negative");
        }
        check::text(
            &mut v,
            &format!("{prefix}.source"),
            &f.source,
            false,
            check::MAX_SHORT_TEXT,
            false,
        );
        v.finish(|| FlowSpec {
            exports_usd: f.exports_usd,
            imports_usd: f.imports_usd,
            source: f.source.clone(),
            estimated: f.estimated,
        })
    }
}

impl TradeFlow {
    pub fn name(&self) -> String {
        flow_name(&self.partner, self.year)
    }

    pub fn etag(&self) -> String {
        super::etag(&self.name(), self.revision, self.create_time)
    }

    pub fn spec(&self) -> FlowSpec {
        FlowSpec {
            exports_usd: self.exports_usd,
            imports_usd: self.imports_usd,
            source: self.source.clone(),
            estimated: self.estimated,
        }
    }

    pub fn to_proto(&self) -> pb::TradeFlow {
        pb::TradeFlow {
            name: self.name(),
            year: self.year,
            exports_usd: self.exports_usd,
            imports_usd: self.imports_usd,
            source: self.source.clone(),
            estimated: self.estimated,
            create_time: Some(super::timestamp(self.create_time)),
            update_time: Some(super::timestamp(self.update_time)),
            etag: self.etag(),
            revision: self.revision,
        }
    }
}

/// One partner's exports in a year, as the concentration analysis sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerExports {
    pub partner: Id,
    pub display_name: String,
    pub exports_usd: i64,
}

/// Export concentration of one year (see `ExportConcentration` in the proto for the rules).
#[derive(Debug, Clone, PartialEq)]
pub struct Concentration {
    pub total_exports_usd: i64,
    /// Sum of squared percentage shares, 0..=10000.
    pub hhi: f64,
    /// Countries by share, largest first (ties by id), with their share.
    pub shares: Vec<(PartnerExports, f64)>,
    pub top_n_share: f64,
}

/// Computes shares, the HHI and the top-N share of `countries` (one entry per country).
pub fn concentration(mut countries: Vec<PartnerExports>, top_n: usize) -> Concentration {
    countries.sort_by(|a, b| {
        b.exports_usd
            .cmp(&a.exports_usd)
            .then_with(|| a.partner.cmp(&b.partner))
    });
    // i128: a sum of up to 250 i64 values cannot overflow.
    let total: i128 = countries.iter().map(|c| i128::from(c.exports_usd)).sum();
    let share = |x: i64| if total == 0 { 0.0 } else { x as f64 / total as f64 };
    let hhi = countries
        .iter()
        .map(|c| {
            let pct = share(c.exports_usd) * 100.0;
            pct * pct
        })
        .sum();
    let top_n_share = countries.iter().take(top_n).map(|c| share(c.exports_usd)).sum();
    Concentration {
        total_exports_usd: i64::try_from(total).unwrap_or(i64::MAX),
        hhi,
        shares: countries
            .into_iter()
            .map(|c| {
                let s = share(c.exports_usd);
                (c, s)
            })
            .collect(),
        top_n_share,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exports(id: &str, usd: i64) -> PartnerExports {
        PartnerExports {
            partner: Id::parse("t", id).expect("id"),
            display_name: id.to_uppercase(),
            exports_usd: usd,
        }
    }

    #[test]
    fn hhi_by_hand() {
        // Shares 50%, 30%, 20%: HHI = 2500 + 900 + 400 = 3800; top-2 = 0.8.
        let c = concentration(vec![exports("jp", 20), exports("us", 50), exports("cn", 30)], 2);
        assert_eq!(c.total_exports_usd, 100);
        assert!((c.hhi - 3800.0).abs() < 1e-9, "{}", c.hhi);
        assert!((c.top_n_share - 0.8).abs() < 1e-12);
        let order: Vec<&str> = c.shares.iter().map(|(p, _)| p.partner.as_str()).collect();
        assert_eq!(order, ["us", "cn", "jp"]);
        let single = concentration(vec![exports("us", 7)], 5);
        assert!((single.hhi - 10000.0).abs() < 1e-9);
        let none = concentration(vec![], 5);
        assert_eq!((none.total_exports_usd, none.hhi, none.top_n_share), (0, 0.0, 0.0));
    }

    #[test]
    fn country_ids_are_iso_codes() {
        let mut v = Violations::new();
        for ok in ["us", "cn", "jp", "kr", "vn"] {
            check_id(&mut v, "id", &Id::parse("t", ok).expect("id"), PartnerKind::Country);
        }
        assert!(v.is_empty());
        for bad in ["xx", "usa", "asean", "zz"] {
            let mut v = Violations::new();
            check_id(&mut v, "id", &Id::parse("t", bad).expect("id"), PartnerKind::Country);
            assert!(!v.is_empty(), "{bad}");
        }
        let mut v = Violations::new();
        check_id(
            &mut v,
            "id",
            &Id::parse("t", "asean").expect("id"),
            PartnerKind::EconomicBloc,
        );
        assert!(v.is_empty());
    }

    #[test]
    fn agreement_dates_follow_status() {
        let date = |y| {
            Some(pb::Date {
                year: y,
                month: 0,
                day: 0,
            })
        };
        let p = pb::TradePartner {
            kind: pb::trade_partner::Kind::Country as i32,
            display_name: "United States".into(),
            agreements: vec![
                pb::Agreement {
                    title: "a".into(),
                    r#type: pb::agreement::Type::Fta as i32,
                    status: pb::agreement::Status::InNegotiation as i32,
                    signature_date: date(2020),
                    ..Default::default()
                },
                pb::Agreement {
                    title: "b".into(),
                    r#type: pb::agreement::Type::Fta as i32,
                    status: pb::agreement::Status::InForce as i32,
                    signature_date: date(2012),
                    entry_into_force_date: date(2011),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = PartnerSpec::from_proto("p", &p) else {
            panic!("expected violations");
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "p.agreements[0].signature_date",
                "p.agreements[1].entry_into_force_date"
            ]
        );
    }

    #[test]
    fn flow_names() {
        let (id, year) = parse_flow_name("n", "tradePartners/us/tradeFlows/2024").expect("valid");
        assert_eq!((id.as_str(), year), ("us", 2024));
        assert_eq!(flow_name(&id, year), "tradePartners/us/tradeFlows/2024");
        for bad in [
            "tradePartners/us/tradeFlows/24",
            "tradePartners/us/tradeFlows/+2024",
            "tradePartners/us/tradeFlows/1800",
            "tradePartners/US/tradeFlows/2024",
            "tradePartners/us/tradeFlows/2024/x",
            "policyGoals/us/tradeFlows/2024",
        ] {
            assert!(parse_flow_name("n", bad).is_err(), "{bad}");
        }
    }
}
