//! Measurements: append-only observations of a goal's target metrics,
//! `policyGoals/{goal}/measurements/{measurement}`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{Collection, Error, Id, check};

/// How far ahead of the server clock an `observe_time` may be (clock skew).
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// A stored measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub goal: Id,
    /// Server-chosen: 32 lowercase hex digits.
    pub id: String,
    pub metric: String,
    pub value: f64,
    #[serde(with = "time::serde::rfc3339")]
    pub observe_time: OffsetDateTime,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    pub recorder: String,
}

/// What a client records, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasurementSpec {
    pub metric: String,
    pub value: f64,
    /// Truncated to microseconds (the database's precision).
    #[serde(with = "time::serde::rfc3339")]
    pub observe_time: OffsetDateTime,
    pub source: String,
    pub note: String,
}

/// `policyGoals/{goal}/measurements/{measurement}`.
pub fn measurement_name(goal: &Id, id: &str) -> String {
    format!("{}/measurements/{id}", Collection::PolicyGoals.name(goal))
}

/// A new server-chosen measurement id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Measurement {
    pub fn name(&self) -> String {
        measurement_name(&self.goal, &self.id)
    }
}

/// Returns `Err` unless `raw` is empty or a metric slug (a ListMeasurements filter).
pub fn metric_filter(field: &str, raw: &str) -> Result<Option<String>, Error> {
    if raw.is_empty() {
        return Ok(None);
    }
    if check::is_slug(raw) {
        Ok(Some(raw.to_owned()))
    } else {
        Err(Error::invalid(field, "must be a metric id ([a-z][a-z0-9-]{0,62})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids() {
        let id = new_id();
        assert_eq!(id.len(), 32);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let goal = Id::parse("g", "ai").expect("valid");
        assert_eq!(measurement_name(&goal, "ab"), "policyGoals/ai/measurements/ab");
        assert_eq!(metric_filter("metric", ""), Ok(None));
        assert!(metric_filter("metric", "A B").is_err());
    }
}
