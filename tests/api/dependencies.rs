//! Product-level trade and the import-dependency analysis end to end: BACI and Comtrade
//! files generated here are read by `registry_client::trade_files` (what `registryctl trade
//! import` uses), streamed to ImportTradeRecords, and the four GeoDep criteria that
//! ListImportDependencies reports are checked against a computation written in this test.

use std::collections::{BTreeMap, BTreeSet};

use futures::TryStreamExt;
use registry_client::{
    prost_types::Timestamp,
    trade_files::{self, Format},
};
use registry_e2e::{Error, TestApp, pb, violations};

/// BACI numeric codes and the ISO alpha-2 code each must map to (842, 251, 490, 699 and 757
/// are BACI's own codes, not ISO numeric ones).
const COUNTRIES: &[(u16, &str)] = &[
    (410, "KR"),
    (156, "CN"),
    (842, "US"),
    (251, "FR"),
    (490, "TW"),
    (699, "IN"),
    (757, "CH"),
    (392, "JP"),
    (276, "DE"),
    (36, "AU"),
    (76, "BR"),
    (152, "CL"),
    (180, "CD"),
    (704, "VN"),
];

/// Products: `028530` is written `28530` in BACI. `100199` is traded among four countries
/// only, so its world export concentration is unknown.
const PRODUCTS: &[&str] = &["028530", "260500", "811292", "282520", "854231", "100199"];

/// One generated flow, in USD.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    pub year: i32,
    pub exporter: usize,
    pub importer: usize,
    pub product: usize,
    pub value_usd: i64,
    pub na_quantity: bool,
}

/// A small deterministic generator (no external randomness: the same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

pub(crate) fn generate() -> Vec<Flow> {
    let mut rng = Lcg(20240147);
    let mut flows = Vec::new();
    for year in 2021..=2023 {
        for (p, product) in PRODUCTS.iter().enumerate() {
            let traders = if *product == "100199" { 4 } else { COUNTRIES.len() };
            for (e, (_, exporter)) in COUNTRIES.iter().enumerate().take(traders) {
                for i in 0..traders {
                    if e == i || rng.next() % 10 < 3 {
                        continue;
                    }
                    // A dominant exporter per product (CN for the minerals, CD for cobalt ores),
                    // KR a large exporter of chips (854231), its share shifting with the year.
                    let dominant = match (*product, *exporter) {
                        ("811292" | "028530" | "282520", "CN") => 40,
                        ("260500", "CD") => 30,
                        ("854231", "KR" | "TW") => 20,
                        _ => 1,
                    };
                    let boost = if year == 2022 && *product == "282520" && *exporter == "CN" {
                        0
                    } else {
                        dominant
                    };
                    let value_usd =
                        ((rng.next() % 900 + 100) * boost.max(1)) as i64 * 1000 + (rng.next() % 1000) as i64;
                    flows.push(Flow {
                        year,
                        exporter: e,
                        importer: i,
                        product: p,
                        value_usd,
                        na_quantity: rng.next().is_multiple_of(4),
                    });
                }
            }
        }
    }
    flows
}

pub(crate) fn baci_file(flows: &[Flow]) -> String {
    let mut out = String::from("t,i,j,k,v,q\n");
    for f in flows {
        let k = PRODUCTS[f.product].trim_start_matches('0');
        let q = if f.na_quantity {
            "NA".to_owned()
        } else {
            format!("{}.5", f.value_usd / 7000)
        };
        out.push_str(&format!(
            "{},{},{},{},{}.{:03},{}\n",
            f.year,
            COUNTRIES[f.exporter].0,
            COUNTRIES[f.importer].0,
            k,
            f.value_usd / 1000,
            f.value_usd % 1000,
            q
        ));
    }
    out
}

pub(crate) async fn load(app: &TestApp, name: &str, records: Vec<pb::TradeRecord>) -> pb::ImportTradeRecordsResponse {
    app.client
        .import_trade_records(name, records, false, |_| {})
        .await
        .unwrap()
}

/// The criteria of one product-year, computed here from the generated flows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Expected {
    pub imported: bool,
    pub import_hhi: f64,
    pub top_supplier: String,
    pub top_share: f64,
    pub supplier_count: i32,
    pub world_hhi: Option<f64>,
    pub ratio: f64,
    pub all_three: bool,
}

pub(crate) fn expected(flows: &[Flow], importer: &str, product: &str, year: i32) -> Expected {
    let pi = PRODUCTS.iter().position(|p| *p == product).unwrap();
    let code = |i: usize| COUNTRIES[i].1;
    let of = |f: &&Flow| f.year == year && f.product == pi;
    let mut suppliers: BTreeMap<&str, i64> = BTreeMap::new();
    let mut world: BTreeMap<&str, i64> = BTreeMap::new();
    let mut importers = BTreeSet::new();
    let mut exports = 0i64;
    for f in flows.iter().filter(of) {
        *world.entry(code(f.exporter)).or_default() += f.value_usd;
        importers.insert(code(f.importer));
        if code(f.importer) == importer {
            *suppliers.entry(code(f.exporter)).or_default() += f.value_usd;
        }
        if code(f.exporter) == importer {
            exports += f.value_usd;
        }
    }
    let hhi = |m: &BTreeMap<&str, i64>| {
        let total: i64 = m.values().sum();
        m.values().map(|v| (*v as f64 / total as f64).powi(2)).sum::<f64>()
    };
    let imports: i64 = suppliers.values().sum();
    let (top, top_value) = suppliers
        .iter()
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(c, v)| ((*c).to_owned(), *v))
        .unwrap_or_default();
    let world_hhi = (importers.len() >= 10).then(|| hhi(&world));
    let ratio = if exports == 0 {
        9999.0
    } else {
        imports as f64 / exports as f64
    };
    let imported = imports > 0;
    let import_hhi = if imported { hhi(&suppliers) } else { 0.0 };
    Expected {
        imported,
        import_hhi,
        top_supplier: top,
        top_share: if imported {
            top_value as f64 / imports as f64
        } else {
            0.0
        },
        supplier_count: suppliers.len() as i32,
        world_hhi,
        ratio: if imported { ratio } else { 0.0 },
        all_three: imported && import_hhi > 0.4 && world_hhi.is_some_and(|h| h > 0.4) && ratio > 1.0,
    }
}

pub(crate) fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 * b.abs().max(1.0)
}

/// China's 2023 sales of unwrought cobalt (811292) to Korea, as stored now or at `read_time`.
pub(crate) async fn cobalt_from_china(app: &TestApp, read_time: Option<Timestamp>) -> Vec<pb::TradeRecord> {
    app.client
        .list_trade_records_page(pb::ListTradeRecordsRequest {
            year: 2023,
            exporter: "CN".into(),
            importer: "KR".into(),
            product: "811292".into(),
            read_time,
            ..Default::default()
        })
        .await
        .unwrap()
        .records
}

/// Revises China's 2023 sales of 811292 to Korea to 1 USD: the version replaced, the load's
/// answer, and the flows as they now are.
pub(crate) async fn revise_cobalt_from_china(
    app: &TestApp,
    flows: &[Flow],
) -> (pb::TradeRecord, pb::ImportTradeRecordsResponse, Vec<Flow>) {
    let first = cobalt_from_china(app, None)
        .await
        .first()
        .cloned()
        .expect("CN sells 811292 to KR in 2023");
    let revised = pb::TradeRecord {
        value_usd: 1,
        valid_time: None,
        revision: 0,
        ..first.clone()
    };
    let loaded = load(app, "revision.csv", vec![revised]).await;
    let (cn, kr) = (code("CN"), code("KR"));
    let mut changed = flows.to_vec();
    for f in changed.iter_mut() {
        if f.year == 2023 && PRODUCTS[f.product] == "811292" && f.exporter == cn && f.importer == kr {
            f.value_usd = 1;
        }
    }
    (first, loaded, changed)
}

/// The index of a country in [`COUNTRIES`].
fn code(iso: &str) -> usize {
    COUNTRIES.iter().position(|c| c.1 == iso).unwrap()
}

#[tokio::test]
async fn baci_and_comtrade_files_load_and_the_four_criteria_match_an_independent_computation() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let flows = generate();

    // A bad line is reported by file and line; the CLI then loads nothing.
    let mut text = baci_file(&flows);
    let bad_at = text.lines().count() + 1;
    text.push_str("2023,410,156,26050x,1.000,NA\n");
    let name = "BACI_HS22_Y2023_V202401.csv";
    let read = trade_files::read(Format::Baci, name, text.as_bytes());
    assert_eq!(read.report.bad_lines.len(), 1);
    assert_eq!(
        read.report.bad_lines[0]
            .to_string()
            .split(':')
            .take(2)
            .collect::<Vec<_>>(),
        [name.to_owned(), bad_at.to_string()]
    );
    // Nothing half-loaded: a stream with an invalid record stores nothing at all.
    let mut invalid = read.records.clone();
    invalid[10].product = "12345".into();
    assert_eq!(
        violations(c.import_trade_records(name, invalid, false, |_| {}).await),
        ["records[10].product"]
    );
    let none = c
        .list_trade_records_page(pb::ListTradeRecordsRequest {
            year: 2023,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.records.is_empty());

    // The good lines load: codes mapped, leading zeros restored, NA quantities unset, values
    // from thousands of USD.
    let records = read.records;
    assert_eq!(records.len(), flows.len());
    let loaded = load(&app, name, records.clone()).await;
    assert_eq!(
        (loaded.received, loaded.inserted, loaded.revised),
        (flows.len() as i64, flows.len() as i64, 0)
    );
    let sample = flows
        .iter()
        .find(|f| f.product == 0 && f.na_quantity && COUNTRIES[f.exporter].0 == 842)
        .expect("a US flow of 028530 with no quantity");
    let got = c
        .list_trade_records_page(pb::ListTradeRecordsRequest {
            year: sample.year,
            exporter: "US".into(),
            importer: COUNTRIES[sample.importer].1.into(),
            product: "028530".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .records;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (
            got[0].value_usd,
            got[0].quantity_kg,
            got[0].hs_edition.as_str(),
            got[0].source.as_str()
        ),
        (sample.value_usd, None, "HS22", "BACI")
    );
    let codes: BTreeSet<String> = c
        .list_trade_records(pb::ListTradeRecordsRequest {
            year: 2023,
            product: "260500".into(),
            page_size: 7,
            ..Default::default()
        })
        .map_ok(|r| r.exporter)
        .try_collect()
        .await
        .unwrap();
    for iso in ["US", "FR", "TW", "IN", "CH"] {
        assert!(codes.contains(iso), "{iso} in {codes:?}");
    }
    // A year lists page after page in (exporter, importer, product) order, every flow once;
    // with an exporter, only its flows.
    let year: Vec<(String, String, String)> = c
        .list_trade_records(pb::ListTradeRecordsRequest {
            year: 2023,
            page_size: 50,
            ..Default::default()
        })
        .map_ok(|r| (r.exporter, r.importer, r.product))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(year.len(), flows.iter().filter(|f| f.year == 2023).count());
    assert!(year.windows(2).all(|w| w[0] < w[1]), "not in order: {year:?}");
    let us: Vec<(String, String, String)> = c
        .list_trade_records(pb::ListTradeRecordsRequest {
            year: 2023,
            exporter: "US".into(),
            page_size: 3,
            ..Default::default()
        })
        .map_ok(|r| (r.exporter, r.importer, r.product))
        .try_collect()
        .await
        .unwrap();
    let us_in_year: Vec<_> = year.iter().filter(|(e, _, _)| e == "US").cloned().collect();
    assert!(!us_in_year.is_empty());
    assert_eq!(us, us_in_year);
    // The flow numbers the server stored are those migration 20261202400000 computes from
    // the columns (for the records stored before it).
    let differing: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM trade_records WHERE flow <> (((year - 1900)::bigint << 40)
            | (((ascii(exporter) - 65) * 26 + ascii(substr(exporter, 2)) - 65)::bigint << 30)
            | (((ascii(importer) - 65) * 26 + ascii(substr(importer, 2)) - 65)::bigint << 20)
            | product::bigint)",
    )
    .fetch_one(app.pool())
    .await
    .unwrap();
    assert_eq!(differing, 0);

    // Loading the same file again changes nothing.
    let again = load(&app, name, records.clone()).await;
    assert_eq!(
        (again.inserted, again.revised, again.unchanged),
        (0, 0, flows.len() as i64)
    );

    // Every product KR imported in 2023, its criteria as computed here.
    let deps: Vec<pb::ImportDependency> = c
        .list_import_dependencies(pb::ListImportDependenciesRequest {
            importer: "KR".into(),
            year: 2023,
            page_size: 2,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let imported: Vec<&str> = PRODUCTS
        .iter()
        .copied()
        .filter(|p| expected(&flows, "KR", p, 2023).imported)
        .collect();
    let mut want_products = imported.clone();
    want_products.sort();
    assert_eq!(
        deps.iter().map(|d| d.product.as_str()).collect::<Vec<_>>(),
        want_products
    );
    let mut dependent = 0;
    for d in &deps {
        let e = expected(&flows, "KR", &d.product, 2023);
        assert!(
            close(d.import_hhi, e.import_hhi),
            "{}: {} vs {}",
            d.product,
            d.import_hhi,
            e.import_hhi
        );
        assert_eq!(d.top_supplier, e.top_supplier, "{}", d.product);
        assert!(close(d.top_supplier_share, e.top_share), "{}", d.product);
        assert_eq!(d.supplier_count, e.supplier_count, "{}", d.product);
        match (d.world_export_hhi, e.world_hhi) {
            (Some(a), Some(b)) => assert!(close(a, b), "{}: {a} vs {b}", d.product),
            (a, b) => assert_eq!(a, b, "{}", d.product),
        }
        assert!(
            close(d.import_export_ratio, e.ratio),
            "{}: {} vs {}",
            d.product,
            d.import_export_ratio,
            e.ratio
        );
        assert_eq!(d.concentrated_imports, e.import_hhi > 0.4, "{}", d.product);
        assert_eq!(
            d.concentrated_world_exports,
            e.world_hhi.is_some_and(|h| h > 0.4),
            "{}",
            d.product
        );
        assert_eq!(d.non_substitutable, e.ratio > 1.0, "{}", d.product);
        let held = (2021..=2023)
            .filter(|y| expected(&flows, "KR", &d.product, *y).all_three)
            .count();
        assert_eq!(d.persistent, held >= 2, "{}: {}", d.product, d.explanation);
        assert_eq!(d.dependent, d.persistent);
        assert!(
            d.explanation.contains(&d.product) && d.explanation.contains("2021-2023"),
            "{}",
            d.explanation
        );
        if d.world_export_hhi.is_none() {
            assert!(d.explanation.contains("unknown"), "{}", d.explanation);
        }
        dependent += usize::from(d.dependent);
    }
    assert!(dependent > 0, "the data makes some products dependent: {deps:#?}");
    assert!(dependent < deps.len(), "and some not");
    let unknown = deps.iter().find(|d| d.product == "100199");
    if let Some(u) = unknown {
        assert_eq!(u.world_export_hhi, None, "four importers are fewer than 10");
    }

    // only_dependent, product sets and a threshold override.
    c.create_product_set(pb::CreateProductSetRequest {
        product_set_id: "critical-minerals".into(),
        product_set: Some(pb::ProductSet {
            display_name: "Critical minerals".into(),
            products: vec!["811292".into(), "282520".into(), "028530".into(), "260500".into()],
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .unwrap();
    let only: Vec<pb::ImportDependency> = c
        .list_import_dependencies(pb::ListImportDependenciesRequest {
            year: 2023,
            product_set: "productSets/critical-minerals".into(),
            only_dependent: true,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let want: Vec<&str> = deps
        .iter()
        .filter(|d| d.dependent && ["811292", "282520", "028530", "260500"].contains(&d.product.as_str()))
        .map(|d| d.product.as_str())
        .collect();
    assert_eq!(only.iter().map(|d| d.product.as_str()).collect::<Vec<_>>(), want);
    let strict: Vec<pb::ImportDependency> = c
        .list_import_dependencies(pb::ListImportDependenciesRequest {
            year: 2023,
            import_hhi_threshold: Some(0.99),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    assert!(strict.iter().all(|d| !d.concentrated_imports && !d.dependent));

    // Which of the minerals come mostly from China.
    let from_china: Vec<pb::DominatedProduct> = c
        .list_dominated_products(pb::ListDominatedProductsRequest {
            supplier: "CN".into(),
            year: 2023,
            product_set: "critical-minerals".into(),
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    let want: Vec<&str> = ["028530", "260500", "282520", "811292"]
        .into_iter()
        .filter(|p| {
            let e = expected(&flows, "KR", p, 2023);
            e.top_supplier == "CN" && e.top_share >= 0.5
        })
        .collect();
    assert!(!want.is_empty());
    assert_eq!(from_china.iter().map(|d| d.product.as_str()).collect::<Vec<_>>(), want);

    // A revised figure is a new version: the old one stays readable at an earlier time and
    // the world statistics follow the revision.
    let (first_version, revised, changed) = revise_cobalt_from_china(&app, &flows).await;
    assert_eq!((revised.inserted, revised.revised), (0, 1));
    let as_of = first_version.valid_time.unwrap();
    let old = cobalt_from_china(&app, Some(as_of)).await;
    assert_eq!((old[0].value_usd, old[0].revision), (first_version.value_usd, 1));
    let now = cobalt_from_china(&app, None).await;
    assert_eq!((now[0].value_usd, now[0].revision), (1, 2));
    let after = c
        .list_import_dependencies_page(pb::ListImportDependenciesRequest {
            year: 2023,
            products: vec!["811292".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .dependencies;
    let e = expected(&changed, "KR", "811292", 2023);
    assert!(close(after[0].import_hhi, e.import_hhi));
    assert!(close(after[0].world_export_hhi.unwrap(), e.world_hhi.unwrap()));
    assert_eq!(after[0].top_supplier, e.top_supplier);
}

#[tokio::test]
async fn comtrade_files_skip_the_world_and_aggregates_and_prefer_import_reports() {
    let app = TestApp::spawn().await;
    let text = "freqCode,refYear,reporterISO,partnerISO,flowCode,classificationCode,cmdCode,primaryValue,netWgt,isReported,cmdDesc\n\
        A,2023,KOR,CHN,M,H6,811292,1500000.4,2000,True,\"Cobalt, unwrought\"\n\
        A,2023,CHN,KOR,X,H6,811292,1400000,1900,True,\"Cobalt, unwrought\"\n\
        A,2023,KOR,W00,M,H6,811292,1600000,2100,True,World\n\
        A,2023,KOR,_X,M,H6,811292,100000,,True,Areas nes\n\
        A,2023,KOR,S19,M,H6,28530,250000,,False,Hydrogen\n\
        A,2023,KOR,USA,X,H6,811292,300000,,True,\"Cobalt, unwrought\"\n\
        A,2023,KOR,JPN,M,H6,TOTAL,9,,True,All\n";
    let read = trade_files::read(Format::Comtrade, "comtrade.csv", text.as_bytes());
    assert!(read.report.bad_lines.is_empty(), "{:?}", read.report.bad_lines);
    assert_eq!(
        (
            read.report.skipped_world,
            read.report.skipped_aggregates,
            read.report.skipped_other,
            read.report.mirror_duplicates
        ),
        (1, 1, 1, 1)
    );
    let loaded = load(&app, "comtrade.csv", read.records).await;
    assert_eq!(loaded.inserted, 3);
    let records: Vec<pb::TradeRecord> = app
        .client
        .list_trade_records(pb::ListTradeRecordsRequest {
            year: 2023,
            ..Default::default()
        })
        .try_collect()
        .await
        .unwrap();
    type Row<'a> = (&'a str, &'a str, &'a str, i64, Option<i64>, bool, &'a str);
    let got: Vec<Row> = records
        .iter()
        .map(|r| {
            (
                r.exporter.as_str(),
                r.importer.as_str(),
                r.product.as_str(),
                r.value_usd,
                r.quantity_kg,
                r.estimated,
                r.hs_edition.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("CN", "KR", "811292", 1_500_000, Some(2000), false, "HS22"),
            ("KR", "US", "811292", 300_000, None, false, "HS22"),
            ("TW", "KR", "028530", 250_000, None, true, "HS22"),
        ]
    );

    // Bad requests are refused with every violation, nothing stored.
    let bad = app
        .client
        .list_import_dependencies_page(pb::ListImportDependenciesRequest {
            importer: "KOR".into(),
            year: 1800,
            products: vec!["1234".into()],
            import_hhi_threshold: Some(1.5),
            ..Default::default()
        })
        .await;
    let mut v = violations(bad);
    v.sort();
    assert_eq!(v, ["import_hhi_threshold", "importer", "products[0]", "year"]);
    assert!(matches!(
        app.client
            .list_import_dependencies_page(pb::ListImportDependenciesRequest {
                year: 2023,
                product_set: "productSets/missing".into(),
                ..Default::default()
            })
            .await,
        Err(Error::NotFound { .. })
    ));
}

/// The analysis reads figures summed at load time: a tie for the top supplier goes to the
/// first code, a zero value is no supplier, and a later load that revises imports or the
/// importer's own exports changes the answers (and the same load again changes nothing).
#[tokio::test]
async fn summed_figures_follow_ties_zero_values_and_revisions() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let flow = |exporter: &str, importer: &str, value_usd: i64| pb::TradeRecord {
        year: 2023,
        exporter: exporter.into(),
        importer: importer.into(),
        product: "811292".into(),
        hs_edition: "HS22".into(),
        value_usd,
        source: "test".into(),
        ..Default::default()
    };
    let first = vec![
        flow("JP", "KR", 50),
        flow("CN", "KR", 50),
        flow("US", "KR", 0),
        flow("KR", "US", 200),
    ];
    let dependency = || async {
        c.list_import_dependencies_page(pb::ListImportDependenciesRequest {
            year: 2023,
            products: vec!["811292".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .dependencies
        .remove(0)
    };
    let dominated = |supplier: &'static str| async move {
        c.list_dominated_products_page(pb::ListDominatedProductsRequest {
            supplier: supplier.into(),
            year: 2023,
            ..Default::default()
        })
        .await
        .unwrap()
        .products
        .into_iter()
        .map(|d| (d.product, d.share, d.supplier_count))
        .collect::<Vec<_>>()
    };
    // A flow given twice in one load is refused, and nothing of the load is stored.
    let mut twice = first.clone();
    twice.push(flow("JP", "KR", 51));
    assert_eq!(
        violations(c.import_trade_records("twice", twice, false, |_| {}).await),
        ["records[4]"]
    );
    assert_eq!(load(&app, "first", first.clone()).await.inserted, 4);
    let d = dependency().await;
    assert_eq!(
        (d.top_supplier.as_str(), d.top_supplier_share, d.supplier_count),
        ("CN", 0.5, 2)
    );
    assert!(close(d.import_hhi, 0.5) && close(d.import_export_ratio, 0.5), "{d:?}");
    assert!(!d.non_substitutable);
    assert_eq!(dominated("CN").await, [("811292".to_owned(), 0.5, 2)]);
    assert!(dominated("JP").await.is_empty());

    // JP sells more and KR exports less: JP leads and KR no longer covers its imports.
    let revised = vec![flow("JP", "KR", 60), flow("KR", "US", 10)];
    let r = load(&app, "revised", revised.clone()).await;
    assert_eq!((r.inserted, r.revised), (0, 2));
    let d = dependency().await;
    assert_eq!((d.top_supplier.as_str(), d.supplier_count), ("JP", 2));
    assert!(close(d.top_supplier_share, 60.0 / 110.0), "{d:?}");
    assert!(close(d.import_export_ratio, 11.0) && d.non_substitutable, "{d:?}");
    assert!(dominated("CN").await.is_empty());
    assert_eq!(dominated("JP").await.len(), 1);
    let again = load(&app, "revised", revised).await;
    assert_eq!((again.inserted, again.revised, again.unchanged), (0, 0, 2));
    assert_eq!(dependency().await, d);
}

/// A file loads in slices, two in flight at a time: every slice answers in file order and
/// the stored records and sums are those of the whole file. A slice refused stops the load:
/// no later slice starts, the slices answered before it stay stored, and loading the
/// corrected file again completes it without storing anything twice.
#[tokio::test]
async fn files_load_in_slices_and_a_refused_slice_stops_the_load() {
    let app = TestApp::spawn().await;
    let c = &app.client;
    let exporters = ["CN", "US", "JP", "DE", "AU"];
    let records: Vec<pb::TradeRecord> = (0..20)
        .flat_map(|p| {
            exporters.iter().enumerate().map(move |(i, e)| pb::TradeRecord {
                year: 2023,
                exporter: (*e).into(),
                importer: "KR".into(),
                product: format!("{:06}", 260_000 + p),
                value_usd: 1000 * (i as i64 + 1) + p,
                ..Default::default()
            })
        })
        .collect();
    let total = |rs: &[pb::ImportTradeRecordsResponse], f: fn(&pb::ImportTradeRecordsResponse) -> i64| {
        rs.iter().map(f).sum::<i64>()
    };

    // Slices of 7 records: a product's five flows often span two slices, so a slice merges
    // into product-years an earlier one stored as well as new ones. Slice 5 of 15 (records
    // 28..35) holds a bad record: slice 1 is stored, nothing after the one in flight then.
    let mut bad = records.clone();
    bad[33].product = "26".into();
    let (stored, err) = c.import_trade_file("f.csv", bad, 7, false, |_| {}).await.unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let names: Vec<&str> = stored.iter().map(|r| r.slice.as_str()).collect();
    assert!(
        names.starts_with(&["f.csv (slice 1 of 15)"])
            && !names
                .iter()
                .any(|n| ["slice 5 ", "slice 7 ", "slice 8 "].iter().any(|s| n.contains(s))),
        "{names:?}"
    );
    let listed = || {
        c.list_trade_records(pb::ListTradeRecordsRequest {
            year: 2023,
            page_size: 1000,
            ..Default::default()
        })
        .map_ok(|r| (r.product, r.exporter))
        .try_collect::<Vec<_>>()
    };
    let after_error = listed().await.unwrap();
    assert_eq!(after_error.len() as i64, total(&stored, |r| r.inserted));
    assert!(after_error.len() < records.len());

    // The whole file: slices answer in order, each flow stored once, the sums of every product.
    let answers = c
        .import_trade_file("f.csv", records.clone(), 7, false, |_| {})
        .await
        .unwrap();
    let names: Vec<String> = answers.iter().map(|r| r.slice.clone()).collect();
    let expected_names: Vec<String> = (1..=15).map(|i| format!("f.csv (slice {i} of 15)")).collect();
    assert_eq!(names, expected_names);
    assert_eq!(total(&answers, |r| r.received), records.len() as i64);
    assert_eq!(
        total(&answers, |r| r.inserted) + after_error.len() as i64,
        records.len() as i64
    );
    assert_eq!(total(&answers, |r| r.unchanged), after_error.len() as i64);
    assert_eq!(listed().await.unwrap().len(), records.len());
    let deps = c
        .list_import_dependencies_page(pb::ListImportDependenciesRequest {
            year: 2023,
            page_size: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .dependencies;
    assert_eq!(deps.len(), 20);
    for d in &deps {
        // Five suppliers of values 1000..5000 (+p): AU, the fifth, is the top.
        assert_eq!((d.top_supplier.as_str(), d.supplier_count), ("AU", 5), "{d:?}");
    }
}
