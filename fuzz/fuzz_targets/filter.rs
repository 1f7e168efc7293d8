//! Fuzzes the AIP-160 filter parser with the goal and the partner fields: it must never
//! panic, and whatever it accepts must render to text that parses back to the same AST
//! (when that text is within the filter length limit).

#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_server::domain::{filter, goal, partner};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    for fields in [goal::FIELDS, partner::FIELDS] {
        if let Ok(Some(expr)) = filter::parse(fields, s) {
            let text = expr.to_string();
            // The canonical form spells out implicit ANDs and quotes, so it can outgrow the
            // length limit that the input respected; the property holds within the limit.
            if text.len() > filter::MAX_FILTER_LEN {
                continue;
            }
            assert_eq!(
                filter::parse(fields, &text),
                Ok(Some(expr)),
                "{s:?} rendered as {text:?} does not parse back"
            );
        }
    }
});
