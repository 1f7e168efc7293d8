//! Korean names of countries from CLDR's locale data (ICU4X's compiled data), so that country
//! partners carry a Korean display name that nobody typed by hand.

use icu_experimental::displaynames::{DisplayNamesOptions, multi::RegionDisplayNames};
use icu_locale::{locale, subtags::Region};

thread_local! {
    /// Per thread: the formatter is not `Sync` (its data payload is reference-counted); making
    /// it is cheap, the data is compiled in.
    static KOREAN: Option<RegionDisplayNames> =
        RegionDisplayNames::try_new(locale!("ko").into(), DisplayNamesOptions::default()).ok();
}

/// CLDR's Korean name of the country with ISO 3166-1 alpha-2 code `code` (either case), e.g.
/// `us` → 미국; `None` for a code CLDR does not name.
pub fn korean_country_name(code: &str) -> Option<String> {
    let code = code.to_ascii_uppercase();
    if code == "ZZ" {
        return None; // CLDR's "unknown region"
    }
    let region = Region::try_from_str(&code).ok()?;
    KOREAN.with(|names| names.as_ref()?.of(region).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_countries_in_korean() {
        assert_eq!(korean_country_name("us").as_deref(), Some("미국"));
        assert_eq!(korean_country_name("KR").as_deref(), Some("대한민국"));
        assert_eq!(korean_country_name("zz"), None);
        assert_eq!(korean_country_name("aa"), None);
        assert_eq!(korean_country_name("not a code"), None);
    }
}
