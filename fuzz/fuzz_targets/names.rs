//! Resource-name parsing: never panics; what it accepts round-trips exactly.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_server::domain::{Collection, partner};

fuzz_target!(|s: &str| {
    for c in [Collection::PolicyGoals, Collection::TradePartners] {
        if let Ok(id) = c.parse_name("name", s) {
            assert_eq!(c.name(&id), s);
        }
    }
    if let Ok((id, year)) = partner::parse_flow_name("name", s) {
        assert_eq!(partner::flow_name(&id, year), s);
    }
});
