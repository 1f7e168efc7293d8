//! Proto <-> domain conversions: the only place (with the services beside it) where generated
//! types meet domain types. Parsing a proto message validates every field and reports every
//! violation at once; encoding never fails.

pub mod enums;
pub mod goal;
pub mod measurement;
pub mod partner;

use crate::domain::Error;

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
