//! Readers of product-level trade files: CEPII's BACI (`t,i,j,k,v,q`) and UN Comtrade CSV
//! exports. Each reads a whole file into [`pb::TradeRecord`]s and a [`FileReport`]; a line
//! that cannot be read is reported by `file:line` and the caller loads nothing of the file.
//! The conventions (country codes, units, what is skipped) are in docs/dependencies.md.

use std::{collections::HashMap, fmt, io::Read};

use crate::pb;

/// Source names written into the records.
pub const BACI_SOURCE: &str = "BACI";
pub const COMTRADE_SOURCE: &str = "UN Comtrade";

/// A file format [`read`] understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CEPII BACI: `t,i,j,k,v,q` (year, exporter, importer as BACI numeric codes, HS6 as an
    /// integer, value in thousands of USD, quantity in metric tons or `NA`).
    Baci,
    /// UN Comtrade CSV: `refYear, reporterISO, partnerISO, flowCode, cmdCode, primaryValue,
    /// netWgt, isReported` (other columns ignored).
    Comtrade,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub file: String,
    pub line: u64,
    pub message: String,
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// What reading one file found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Data lines read (the header not counted).
    pub lines: u64,
    /// Records kept.
    pub records: u64,
    /// Lines whose partner is the world (Comtrade `W00`).
    pub skipped_world: u64,
    /// Lines whose exporter, importer or partner is an aggregate or a "not elsewhere
    /// specified" area, not one country (Comtrade `_X`, BACI 568, 839, …).
    pub skipped_aggregates: u64,
    /// Lines of a product aggregate (`TOTAL`, 2- and 4-digit codes) or a flow other than
    /// imports and exports (re-imports, re-exports), or a breakdown row (mode of transport,
    /// customs procedure, second partner).
    pub skipped_other: u64,
    /// Comtrade exports (`X`) left out because the importer's report of the same flow is in
    /// the file (imports are preferred, as CEPII does).
    pub mirror_duplicates: u64,
    pub bad_lines: Vec<BadLine>,
}

/// What reading a file gave.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub records: Vec<pb::TradeRecord>,
    pub report: FileReport,
}

/// Reads a whole file. `file` names it in bad lines (and gives the HS edition of a BACI file
/// named like `BACI_HS22_Y2022_V202401.csv`).
pub fn read(format: Format, file: &str, input: impl Read) -> Parsed {
    match format {
        Format::Baci => read_baci(file, input),
        Format::Comtrade => read_comtrade(file, input),
    }
}

/// What a BACI country code stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaciCountry {
    /// One country, by ISO 3166-1 alpha-2 code.
    Country(&'static str),
    /// An aggregate, a group or an area "not elsewhere specified" (skipped with a count).
    Aggregate,
    /// Not a code BACI uses.
    Unknown,
}

/// BACI's codes that are not the ISO 3166-1 numeric code of the country (BACI's
/// `country_codes` file): France with Monaco, Taiwan ("Other Asia, nes"), Norway with
/// Svalbard, India with Sikkim, Switzerland with Liechtenstein, the USA with Puerto Rico and
/// the US Virgin Islands.
const BACI_NON_ISO: &[(u16, &str)] = &[
    (251, "FR"),
    (490, "TW"),
    (579, "NO"),
    (699, "IN"),
    (757, "CH"),
    (842, "US"),
];

/// BACI codes that are not one country: former groupings (Belgium-Luxembourg, the Southern
/// African Customs Union, Serbia and Montenegro, …) and areas "not elsewhere specified".
const BACI_AGGREGATES: &[u16] = &[
    0, 58, 200, 472, 527, 530, 568, 577, 636, 637, 697, 711, 810, 837, 838, 839, 879, 890, 891, 899,
];

/// Maps a BACI numeric country code.
pub fn baci_country(code: u16) -> BaciCountry {
    if let Some((_, a2)) = BACI_NON_ISO.iter().find(|(c, _)| *c == code) {
        return BaciCountry::Country(a2);
    }
    if BACI_AGGREGATES.contains(&code) {
        return BaciCountry::Aggregate;
    }
    match rust_iso3166::from_numeric(code) {
        Some(c) => BaciCountry::Country(c.alpha2),
        None => BaciCountry::Unknown,
    }
}

/// Maps a Comtrade ISO alpha-3 code: `Some(alpha-2)` for a country (`S19`, "Other Asia,
/// nes", is Taiwan in Comtrade), `None` for an aggregate.
pub fn comtrade_country(code: &str) -> Option<&'static str> {
    if code == "S19" {
        return Some("TW");
    }
    rust_iso3166::from_alpha3(code).map(|c| c.alpha2)
}

/// `HS22` from a file name such as `BACI_HS22_Y2022_V202401.csv`.
fn hs_edition_in_name(file: &str) -> String {
    let upper = file.to_ascii_uppercase();
    let bytes = upper.as_bytes();
    for i in 0..bytes.len().saturating_sub(3) {
        if &bytes[i..i + 2] == b"HS"
            && bytes[i + 2].is_ascii_digit()
            && bytes[i + 3].is_ascii_digit()
            && bytes.get(i + 4).is_none_or(|b| !b.is_ascii_digit())
        {
            return upper[i..i + 4].to_owned();
        }
    }
    String::new()
}

/// `H6` (Comtrade's classification code) → `HS22`.
fn hs_edition_of_classification(code: &str) -> String {
    match code.trim() {
        "H0" => "HS92",
        "H1" => "HS96",
        "H2" => "HS02",
        "H3" => "HS07",
        "H4" => "HS12",
        "H5" => "HS17",
        "H6" => "HS22",
        _ => "",
    }
    .to_owned()
}

/// A non-negative decimal amount times `scale`, rounded to a whole number.
fn amount(text: &str, scale: f64, what: &str) -> Result<i64, String> {
    let t = text.trim();
    let v: f64 = t.parse().map_err(|_| format!("{what} {t:?} is not a number"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("{what} {t:?} must be a non-negative number"));
    }
    let scaled = (v * scale).round();
    if scaled > 9.0e18 {
        return Err(format!("{what} {t:?} is too large"));
    }
    Ok(scaled as i64)
}

fn year(text: &str) -> Result<i32, String> {
    let t = text.trim();
    match t.parse::<i32>() {
        Ok(y) if (1900..=2200).contains(&y) => Ok(y),
        _ => Err(format!("year {t:?} is not a year between 1900 and 2200")),
    }
}

/// The position of each wanted column in a header.
fn columns<const N: usize>(header: &csv::StringRecord, wanted: [&str; N]) -> Result<[usize; N], String> {
    let mut out = [0; N];
    for (i, w) in wanted.iter().enumerate() {
        out[i] = header
            .iter()
            .position(|h| h.trim().trim_start_matches('\u{feff}') == *w)
            .ok_or_else(|| {
                format!(
                    "the header has no column {w:?} (it has: {})",
                    header.iter().collect::<Vec<_>>().join(",")
                )
            })?;
    }
    Ok(out)
}

fn optional_column(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header.iter().position(|h| h.trim() == name)
}

type Key = (i32, String, String, String);

struct Reader {
    file: String,
    out: Parsed,
    /// Each flow's index in `out.records` and whether it came from an export report.
    seen: HashMap<Key, (usize, bool, u64)>,
}

impl Reader {
    fn new(file: &str) -> Reader {
        Reader {
            file: file.to_owned(),
            out: Parsed::default(),
            seen: HashMap::new(),
        }
    }

    fn bad(&mut self, line: u64, message: impl Into<String>) {
        // A broken file can have millions of bad lines; the first thousand say enough.
        if self.out.report.bad_lines.len() < 1000 {
            self.out.report.bad_lines.push(BadLine {
                file: self.file.clone(),
                line,
                message: message.into(),
            });
        } else if self.out.report.bad_lines.len() == 1000 {
            self.out.report.bad_lines.push(BadLine {
                file: self.file.clone(),
                line,
                message: "… and more bad lines (only the first 1000 are listed)".into(),
            });
        }
    }

    /// Keeps a record; `from_export` marks a Comtrade export report (the importer's own
    /// report of the same flow wins).
    fn keep(&mut self, line: u64, r: pb::TradeRecord, from_export: bool) {
        let key = (r.year, r.exporter.clone(), r.importer.clone(), r.product.clone());
        match self.seen.get(&key).copied() {
            None => {
                self.seen.insert(key, (self.out.records.len(), from_export, line));
                self.out.records.push(r);
            }
            Some((i, true, _)) if !from_export => {
                self.out.records[i] = r;
                self.seen.insert(key, (i, false, line));
                self.out.report.mirror_duplicates += 1;
            }
            Some((_, false, _)) if from_export => self.out.report.mirror_duplicates += 1,
            Some((_, _, first)) => self.bad(
                line,
                format!(
                    "the flow {} {}→{} of product {} is already on line {first}",
                    key.0, key.1, key.2, key.3
                ),
            ),
        }
    }

    /// Reads every record after the header, counting the lines: `each` gets the line number
    /// and the record; a line that cannot be read is reported and passed over.
    fn each_record<I: Read>(
        &mut self,
        csv: &mut csv::Reader<I>,
        mut each: impl FnMut(&mut Self, u64, &csv::StringRecord),
    ) {
        let mut row = csv::StringRecord::new();
        let mut line = 1;
        loop {
            line += 1;
            match csv.read_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    self.bad(line, format!("cannot read the line: {e}"));
                    continue;
                }
            }
            self.out.report.lines += 1;
            each(self, line, &row);
        }
    }

    fn finish(mut self) -> Parsed {
        self.out.report.records = self.out.records.len() as u64;
        self.out
    }
}

fn csv_reader(input: impl Read) -> csv::Reader<impl Read> {
    csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(input)
}

fn read_baci(file: &str, input: impl Read) -> Parsed {
    let mut r = Reader::new(file);
    let edition = hs_edition_in_name(file);
    let mut csv = csv_reader(input);
    let cols = match csv
        .headers()
        .map_err(|e| e.to_string())
        .and_then(|h| columns(h, ["t", "i", "j", "k", "v", "q"]))
    {
        Ok(c) => c,
        Err(e) => {
            r.bad(1, e);
            return r.finish();
        }
    };
    r.each_record(&mut csv, |r, line, row| {
        let get = |i: usize| row.get(cols[i]).unwrap_or("");
        let country = |i: usize, what: &str| -> Result<Option<&'static str>, String> {
            let t = get(i);
            let code: u16 = t
                .parse()
                .map_err(|_| format!("{what} {t:?} is not a BACI country code"))?;
            match baci_country(code) {
                BaciCountry::Country(a2) => Ok(Some(a2)),
                BaciCountry::Aggregate => Ok(None),
                BaciCountry::Unknown => Err(format!(
                    "{what} {code} is neither an ISO 3166-1 numeric code nor one of BACI's own codes"
                )),
            }
        };
        let parsed = (|| {
            let year = year(get(0))?;
            let exporter = country(1, "exporter")?;
            let importer = country(2, "importer")?;
            let k = get(3);
            if k.is_empty() || k.len() > 6 || !k.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("product {k:?} is not an HS 6-digit code"));
            }
            let product = format!("{k:0>6}");
            let value_usd = amount(get(4), 1000.0, "value (thousands of USD)")?;
            let q = get(5);
            let quantity_kg = if q.is_empty() || q.eq_ignore_ascii_case("NA") {
                None
            } else {
                Some(amount(q, 1000.0, "quantity (metric tons)")?)
            };
            Ok::<_, String>((year, exporter, importer, product, value_usd, quantity_kg))
        })();
        match parsed {
            Err(e) => r.bad(line, e),
            Ok((_, None, _, _, _, _)) | Ok((_, _, None, _, _, _)) => r.out.report.skipped_aggregates += 1,
            Ok((_, Some(e), Some(i), _, _, _)) if e == i => r.out.report.skipped_other += 1,
            Ok((year, Some(exporter), Some(importer), product, value_usd, quantity_kg)) => r.keep(
                line,
                pb::TradeRecord {
                    year,
                    exporter: exporter.to_owned(),
                    importer: importer.to_owned(),
                    product,
                    hs_edition: edition.clone(),
                    value_usd,
                    quantity_kg,
                    source: BACI_SOURCE.into(),
                    estimated: false,
                    ..Default::default()
                },
                false,
            ),
        }
    });
    r.finish()
}

/// One Comtrade line, read.
enum ComtradeLine {
    Keep(pb::TradeRecord, bool),
    World,
    Aggregate,
    Other,
}

fn read_comtrade(file: &str, input: impl Read) -> Parsed {
    let mut r = Reader::new(file);
    let mut csv = csv_reader(input);
    let header = match csv.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            r.bad(1, format!("cannot read the header: {e}"));
            return r.finish();
        }
    };
    let cols = match columns(
        &header,
        [
            "refYear",
            "reporterISO",
            "partnerISO",
            "flowCode",
            "cmdCode",
            "primaryValue",
            "netWgt",
        ],
    ) {
        Ok(c) => c,
        Err(e) => {
            r.bad(1, e);
            return r.finish();
        }
    };
    let reported = optional_column(&header, "isReported");
    let classification = optional_column(&header, "classificationCode");
    // Breakdown rows: only the totals (mode of transport 0, customs C00, second partner
    // world) are flows between two countries.
    let breakdowns: Vec<(usize, &[&str])> = [
        ("motCode", &["0", ""][..]),
        ("customsCode", &["C00", ""][..]),
        ("partner2ISO", &["W00", ""][..]),
    ]
    .into_iter()
    .filter_map(|(c, totals)| optional_column(&header, c).map(|i| (i, totals)))
    .collect();
    r.each_record(&mut csv, |r, line, row| {
        let get = |i: usize| row.get(i).unwrap_or("");
        let parsed = (|| {
            let year = year(get(cols[0]))?;
            if breakdowns.iter().any(|(i, totals)| !totals.contains(&get(*i))) {
                return Ok(ComtradeLine::Other);
            }
            let flow = get(cols[3]);
            let from_export = match flow {
                "M" => false,
                "X" => true,
                "" => return Err("flowCode is empty (M or X)".to_owned()),
                _ => return Ok(ComtradeLine::Other),
            };
            let partner = get(cols[2]);
            if partner == "W00" {
                return Ok(ComtradeLine::World);
            }
            let reporter_code = get(cols[1]);
            if reporter_code.is_empty() || partner.is_empty() {
                return Err("reporterISO and partnerISO must be set".to_owned());
            }
            let (Some(reporter), Some(partner)) = (comtrade_country(reporter_code), comtrade_country(partner)) else {
                return Ok(ComtradeLine::Aggregate);
            };
            let mut cmd = get(cols[4]).to_owned();
            if !cmd.bytes().all(|b| b.is_ascii_digit()) || cmd.len() < 5 || cmd.len() > 6 {
                return Ok(ComtradeLine::Other);
            }
            // A 5-digit code is an HS6 code whose leading zero a spreadsheet dropped.
            cmd = format!("{cmd:0>6}");
            let value_usd = amount(get(cols[5]), 1.0, "primaryValue (USD)")?;
            let w = get(cols[6]);
            let quantity_kg = if w.is_empty() || w.eq_ignore_ascii_case("NA") {
                None
            } else {
                Some(amount(w, 1.0, "netWgt (kg)")?)
            };
            let estimated = match reported.map(get) {
                None | Some("") => false,
                Some(t) if t.eq_ignore_ascii_case("true") || t == "1" => false,
                Some(t) if t.eq_ignore_ascii_case("false") || t == "0" => true,
                Some(t) => return Err(format!("isReported {t:?} is not true or false")),
            };
            let (exporter, importer) = if from_export {
                (reporter, partner)
            } else {
                (partner, reporter)
            };
            if exporter == importer {
                return Ok(ComtradeLine::Other);
            }
            Ok(ComtradeLine::Keep(
                pb::TradeRecord {
                    year,
                    exporter: exporter.to_owned(),
                    importer: importer.to_owned(),
                    product: cmd,
                    hs_edition: classification
                        .map(|i| hs_edition_of_classification(get(i)))
                        .unwrap_or_default(),
                    value_usd,
                    quantity_kg,
                    source: COMTRADE_SOURCE.into(),
                    estimated,
                    ..Default::default()
                },
                from_export,
            ))
        })();
        match parsed {
            Err(e) => r.bad(line, e),
            Ok(ComtradeLine::World) => r.out.report.skipped_world += 1,
            Ok(ComtradeLine::Aggregate) => r.out.report.skipped_aggregates += 1,
            Ok(ComtradeLine::Other) => r.out.report.skipped_other += 1,
            Ok(ComtradeLine::Keep(rec, from_export)) => r.keep(line, rec, from_export),
        }
    });
    r.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baci_codes_map_to_countries() {
        assert_eq!(baci_country(842), BaciCountry::Country("US"));
        assert_eq!(baci_country(251), BaciCountry::Country("FR"));
        assert_eq!(baci_country(490), BaciCountry::Country("TW"));
        assert_eq!(baci_country(699), BaciCountry::Country("IN"));
        assert_eq!(baci_country(757), BaciCountry::Country("CH"));
        assert_eq!(baci_country(410), BaciCountry::Country("KR"));
        assert_eq!(baci_country(156), BaciCountry::Country("CN"));
        assert_eq!(baci_country(839), BaciCountry::Aggregate);
        assert_eq!(baci_country(999), BaciCountry::Unknown);
    }

    #[test]
    fn baci_lines() {
        let text = "t,i,j,k,v,q\n2022,156,410,28530,1.5,NA\n2022,842,410,260500,2,0.25\n2022,839,410,260500,2,1\n2022,156,410,x,1,1\n";
        let p = read(Format::Baci, "BACI_HS17_Y2022_V202401.csv", text.as_bytes());
        assert_eq!(p.records.len(), 2);
        let a = &p.records[0];
        assert_eq!(
            (a.exporter.as_str(), a.importer.as_str(), a.product.as_str()),
            ("CN", "KR", "028530")
        );
        assert_eq!(
            (a.value_usd, a.quantity_kg, a.hs_edition.as_str()),
            (1500, None, "HS17")
        );
        assert_eq!(
            (p.records[1].exporter.as_str(), p.records[1].quantity_kg),
            ("US", Some(250))
        );
        assert_eq!(p.report.skipped_aggregates, 1);
        assert_eq!(p.report.bad_lines.len(), 1);
        assert_eq!(
            p.report.bad_lines[0].to_string().split(':').take(2).collect::<Vec<_>>(),
            ["BACI_HS17_Y2022_V202401.csv", "5"]
        );
    }

    #[test]
    fn comtrade_prefers_import_reports() {
        let text = "refYear,reporterISO,partnerISO,flowCode,cmdCode,primaryValue,netWgt,isReported\n\
                    2022,CHN,KOR,X,260500,90,,True\n\
                    2022,KOR,CHN,M,260500,100,5,False\n\
                    2022,KOR,W00,M,260500,100,5,True\n\
                    2022,KOR,_X,M,260500,1,5,True\n\
                    2022,KOR,USA,M,TOTAL,1,5,True\n";
        let p = read(Format::Comtrade, "c.csv", text.as_bytes());
        assert_eq!(p.records.len(), 1);
        let r = &p.records[0];
        assert_eq!(
            (r.exporter.as_str(), r.importer.as_str(), r.value_usd, r.estimated),
            ("CN", "KR", 100, true)
        );
        assert_eq!(
            (
                p.report.mirror_duplicates,
                p.report.skipped_world,
                p.report.skipped_aggregates,
                p.report.skipped_other
            ),
            (1, 1, 1, 1)
        );
        assert!(p.report.bad_lines.is_empty());
    }
}
