//! Check-ins: dated status updates on a goal, `policyGoals/{goal}/checkIns/{check_in}`. A
//! check-in states a confidence that the goal will be met; it is shown beside the computed
//! progress of the goal's targets, never merged with it. Append-only: never updated or
//! deleted (a newer check-in corrects an older one), so a read at a past time is exact.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{
    Collection, Error, Id,
    enums::CheckInConfidence,
    list::{Col, FieldDef, FieldKind, SortValue, Write, common},
};

/// How far ahead of the server clock a `check_in_time` may be (clock skew).
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// What a client records, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInSpec {
    /// `None`: the time it is recorded.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub check_in_time: Option<OffsetDateTime>,
    pub confidence: CheckInConfidence,
    #[serde(default)]
    pub note: String,
    /// Empty: the calling token's id.
    #[serde(default)]
    pub author: String,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub quote: String,
}

/// A stored check-in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckIn {
    pub goal: Id,
    pub id: Id,
    #[serde(with = "time::serde::rfc3339")]
    pub check_in_time: OffsetDateTime,
    pub confidence: CheckInConfidence,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub quote: String,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    pub creator: String,
}

/// `policyGoals/{goal}/checkIns/{check_in}`.
pub fn check_in_name(goal: &Id, id: &Id) -> String {
    format!(
        "{}/{}/{id}",
        Collection::PolicyGoals.name(goal),
        Collection::CheckIns.prefix()
    )
}

/// The goal of a check-in parent: `policyGoals/{goal}`, or `None` for `policyGoals/-` (every
/// goal).
pub fn parse_parent(field: &str, parent: &str) -> Result<Option<Id>, Error> {
    if parent == "policyGoals/-" {
        return Ok(None);
    }
    Collection::PolicyGoals.parse_name(field, parent).map(Some)
}

/// Parses `policyGoals/{goal}/checkIns/{check_in}` into the goal and the check-in id.
pub fn parse_name(field: &str, name: &str) -> Result<(Id, Id), Error> {
    let form = "policyGoals/{goal}/checkIns/{check_in}";
    let (goal, id) = Collection::PolicyGoals.parse_child_name(field, name, "checkIns", form, 120)?;
    Ok((goal, Id::parse(field, id)?))
}

/// A new server-chosen check-in id: `c` and 32 lowercase hex digits.
pub fn new_id() -> Id {
    Id::try_from(format!("c{}", uuid::Uuid::new_v4().simple())).unwrap_or_else(|_| unreachable!("a valid slug"))
}

impl CheckIn {
    pub fn name(&self) -> String {
        check_in_name(&self.goal, &self.id)
    }

    /// The value of an orderable field, for a page-token cursor.
    pub fn sort_value(&self, field: &str) -> SortValue {
        match field {
            "check_in_time" => SortValue::time(self.check_in_time),
            "create_time" => SortValue::time(self.create_time),
            "confidence" => SortValue::Text(self.confidence.as_str().to_owned()),
            "author" => SortValue::Text(self.author.clone()),
            _ => SortValue::Text(self.id.as_str().to_owned()),
        }
    }
}

/// The default order of a List: newest first.
pub const DEFAULT_ORDER: &str = "check_in_time desc, create_time desc";

/// The fields of a check-in: which can be filtered on and ordered by. Nothing is written
/// through an Update (there is none); `Write` says what a create takes.
pub const FIELDS: &[FieldDef] = &[
    FieldDef::filter("check_in_time", FieldKind::Timestamp, Col::Time("check_in_time")).orderable(),
    FieldDef::enumeration("confidence", CheckInConfidence::FIELD_KIND).orderable(),
    FieldDef::text("author").orderable(),
    FieldDef::filter(
        "goal",
        FieldKind::Reference(Collection::PolicyGoals),
        Col::Reference("goal_id"),
    )
    .written(Write::None),
    common::search(&["note", "author", "source", "quote"]),
    common::CREATE_TIME,
    common::NAME,
    FieldDef::plain("note"),
    FieldDef::plain("source"),
    FieldDef::plain("quote"),
    FieldDef::output("creator"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let id = new_id();
        assert_eq!(id.as_str().len(), 33);
        let goal = Id::parse("g", "ai").expect("valid");
        let name = check_in_name(&goal, &id);
        assert_eq!(parse_name("name", &name), Ok((goal.clone(), id)));
        for bad in [
            "",
            "policyGoals/ai",
            "policyGoals/ai/checkIns",
            "policyGoals/ai/measurements/x",
            "policyGoals/ai/checkIns/x/y",
            "policyGoals/AI/checkIns/x",
        ] {
            assert!(parse_name("name", bad).is_err(), "{bad}");
        }
        assert_eq!(parse_parent("parent", "policyGoals/-"), Ok(None));
        assert_eq!(parse_parent("parent", "policyGoals/ai"), Ok(Some(goal)));
    }
}
