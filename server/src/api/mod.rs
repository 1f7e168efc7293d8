//! gRPC services: decode the request into domain types, call the store, encode the answer.
//! This is the only layer that sees tonic.

pub mod goals;

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
