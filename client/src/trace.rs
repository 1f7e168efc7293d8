//! W3C Trace Context: every call carries a `traceparent`, so the registry's span of the call
//! joins the caller's trace. A caller that has a trace sets it with
//! [`crate::RegistryClient::with_traceparent`]; otherwise each call starts a trace of its own
//! (random ids, sampled), which the server logs as the call's `trace_id`.

use rand::RngCore;
use tonic::metadata::{Ascii, MetadataValue};

use crate::{Error, Result};

/// The header name.
pub const TRACEPARENT: &str = "traceparent";

/// Whether `s` is a version-00 `traceparent`: `00-{32 hex}-{16 hex}-{2 hex}`, lowercase, with
/// non-zero ids.
pub fn is_valid_traceparent(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    let lower_hex = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let nonzero = |p: &str| p.bytes().any(|b| b != b'0');
    matches!(parts.as_slice(), [v, t, p, f]
        if *v == "00" && lower_hex(t, 32) && lower_hex(p, 16) && lower_hex(f, 2) && nonzero(t) && nonzero(p))
}

/// A new `traceparent`: fresh trace and parent ids, sampled.
pub fn new_traceparent() -> String {
    let mut rng = rand::rng();
    let mut trace = [0u8; 16];
    let mut parent = [0u8; 8];
    while trace == [0; 16] {
        rng.fill_bytes(&mut trace);
    }
    while parent == [0; 8] {
        rng.fill_bytes(&mut parent);
    }
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    format!("00-{}-{}-01", hex(&trace), hex(&parent))
}

/// The `traceparent` a client sends: the caller's, or a new one per call.
#[derive(Debug, Clone, Default)]
pub(crate) struct TraceParent(Option<MetadataValue<Ascii>>);

impl TraceParent {
    pub(crate) fn fixed(traceparent: Option<&str>) -> Result<TraceParent> {
        match traceparent {
            None => Ok(TraceParent(None)),
            Some(tp) if is_valid_traceparent(tp) => MetadataValue::try_from(tp)
                .map(|v| TraceParent(Some(v)))
                .map_err(|_| Error::Transport(format!("invalid traceparent {tp:?}"))),
            Some(tp) => Err(Error::Transport(format!(
                "invalid traceparent {tp:?}: expected 00-{{32 hex}}-{{16 hex}}-{{2 hex}}"
            ))),
        }
    }

    pub(crate) fn header(&self) -> Option<MetadataValue<Ascii>> {
        self.0
            .clone()
            .or_else(|| MetadataValue::try_from(new_traceparent()).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_traceparents_are_valid_and_fresh() {
        let (a, b) = (new_traceparent(), new_traceparent());
        assert!(is_valid_traceparent(&a), "{a}");
        assert_ne!(a[3..35], b[3..35]);
    }

    #[test]
    fn only_version_00_lowercase_nonzero_is_valid() {
        assert!(is_valid_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        ));
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        ] {
            assert!(!is_valid_traceparent(bad), "{bad}");
        }
        assert!(TraceParent::fixed(Some("nope")).is_err());
    }
}
