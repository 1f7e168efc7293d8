//! CheckIn <-> proto.

use registry_proto::v1 as pb;
use time::OffsetDateTime;

use super::{enums::enum_field, from_timestamp, timestamp};
use crate::domain::{
    Error, Violations, check,
    check_in::{CheckIn, CheckInSpec, MAX_CLOCK_SKEW},
    enums::CheckInConfidence,
};

impl CheckInSpec {
    /// Validates every field of `c` (violations are `{prefix}.{field}`, all at once).
    pub fn from_proto(prefix: &str, c: &pb::CheckIn, now: OffsetDateTime) -> Result<CheckInSpec, Error> {
        let mut v = Violations::new();
        let f = |name: &str| format!("{prefix}.{name}");
        let check_in_time = c
            .check_in_time
            .as_ref()
            .and_then(|t| v.take(from_timestamp(&f("check_in_time"), t)));
        if check_in_time.is_some_and(|t| t > now + MAX_CLOCK_SKEW) {
            v.add(f("check_in_time"), "must not be in the future");
        }
        let confidence = enum_field::<CheckInConfidence>(&mut v, &f("confidence"), c.confidence, true);
        check::text(&mut v, &f("note"), &c.note, false, check::MAX_LONG_TEXT, true);
        check::text(&mut v, &f("author"), &c.author, false, check::MAX_TITLE, false);
        check::text(&mut v, &f("source"), &c.source, false, check::MAX_SHORT_TEXT, false);
        check::text(&mut v, &f("quote"), &c.quote, false, check::MAX_LONG_TEXT, true);
        match (confidence, v.is_empty()) {
            (Some(confidence), true) => Ok(CheckInSpec {
                // Truncated to microseconds (the database's precision).
                check_in_time: check_in_time.map(|t| t.replace_nanosecond(t.nanosecond() / 1000 * 1000).unwrap_or(t)),
                confidence,
                note: c.note.clone(),
                author: c.author.clone(),
                source: c.source.clone(),
                quote: c.quote.clone(),
            }),
            _ => Err(Error::InvalidArgument(v.into_vec())),
        }
    }
}

impl CheckIn {
    pub fn to_proto(&self) -> pb::CheckIn {
        pb::CheckIn {
            name: self.name(),
            check_in_time: Some(timestamp(self.check_in_time)),
            confidence: self.confidence.to_proto(),
            note: self.note.clone(),
            author: self.author.clone(),
            source: self.source.clone(),
            quote: self.quote.clone(),
            create_time: Some(timestamp(self.create_time)),
            creator: self.creator.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_every_field() {
        let now = OffsetDateTime::now_utc();
        let c = pb::CheckIn {
            check_in_time: Some(timestamp(now + time::Duration::days(2))),
            note: "a\0b".into(),
            author: "x".repeat(201),
            ..Default::default()
        };
        let Err(Error::InvalidArgument(v)) = CheckInSpec::from_proto("check_in", &c, now) else {
            panic!("accepted");
        };
        let fields: Vec<&str> = v.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "check_in.check_in_time",
                "check_in.confidence",
                "check_in.note",
                "check_in.author"
            ]
        );
        let ok = pb::CheckIn {
            confidence: pb::check_in::Confidence::AtRisk as i32,
            ..Default::default()
        };
        let spec = CheckInSpec::from_proto("check_in", &ok, now).expect("valid");
        assert_eq!((spec.confidence, spec.check_in_time), (CheckInConfidence::AtRisk, None));
    }
}
