//! Page-token decoding: never panics, never accepts a token it did not issue.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_server::domain::list::PageTokens;

fuzz_target!(|s: &str| {
    let tokens = PageTokens::new(b"fuzz-secret".to_vec());
    if let Ok(Some(c)) = tokens.decode("fp", s) {
        panic!("accepted a forged token {s:?}: {c:?}");
    }
});
