//! gRPC services: decode the request into domain types, call the store, encode the answer.
//! This is the only layer that sees tonic.

pub mod admin;
pub mod changes;
pub mod goals;
pub mod partners;

use tonic::Request;

use crate::{
    domain::{Actor, Error, Violations},
    store::WriteCtx,
};

/// Builds the write context of a request: the authenticated actor (put into the request
/// extensions by the auth layer; `anonymous` when none), the request id, and validate_only.
pub(crate) fn write_ctx<T>(req: &Request<T>, request_id: Option<String>, validate_only: bool) -> WriteCtx {
    let actor = req
        .extensions()
        .get::<Actor>()
        .cloned()
        .unwrap_or_else(|| Actor { id: "anonymous".into() });
    WriteCtx {
        actor,
        request_id,
        validate_only,
    }
}

/// Runs several independent parses and reports all their violations together.
pub(crate) fn all<T>(v: &mut Violations, r: Result<T, Error>) -> Option<T> {
    v.take(r)
}

/// A proto timestamp from a time.
pub(crate) fn timestamp(t: time::OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// A time from a proto timestamp, rejecting out-of-range values.
pub(crate) fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<time::OffsetDateTime, Error> {
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
