//! The AIP-160 filter parser, over the goal and partner field lists: never panics; what it
//! accepts compiles.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_server::domain::{filter, goal, partner};

fuzz_target!(|s: &str| {
    let _ = filter::parse(goal::LIST_FIELDS, s);
    let _ = filter::parse(partner::LIST_FIELDS, s);
});
