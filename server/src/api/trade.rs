//! `motie.registry.v1.TradeAnalysisService`: product sets (on the resource layer), the bulk
//! load of product-level trade records, and the import-dependency analysis.

use std::collections::HashSet;

use registry_proto::v1::{self as pb, trade_analysis_service_server::TradeAnalysisService};
use tokio::sync::mpsc;
use tonic::{Request, Response, Status, Streaming};

use super::{all, resource, write_ctx};
use super::{convert, from_timestamp};
use crate::{
    domain::{
        Collection, Error, Id, Violations, check,
        dependency::{self, Thresholds},
        list::{self, PageTokens},
        product_set::{MAX_PRODUCTS, ProductSet, ProductSetSpec, check_products, country, is_hs6},
        trade::StoredRecord,
    },
    store::{Store, trade::RecordQuery},
};

/// The TradeAnalysisService implementation.
#[derive(Debug, Clone)]
pub struct TradeApi {
    store: Store,
}

impl TradeApi {
    pub fn new(store: Store) -> Self {
        TradeApi { store }
    }
}

resource::resource_service! {
    impl TradeAnalysisService for TradeApi {
        resource ProductSet / ProductSets { product_set / product_sets };
    }

    async fn create_product_set(
        &self,
        mut request: Request<pb::CreateProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
        registry_proto::annotations::normalize_text("CreateProductSetRequest", request.get_mut());
        let r = request.get_ref();
        let mut v = Violations::new();
        let id = all(&mut v, Id::parse("product_set_id", &r.product_set_id));
        let request_id = all(&mut v, crate::domain::request_id(&r.request_id));
        let spec = match &r.product_set {
            Some(p) => all(&mut v, ProductSetSpec::from_proto("product_set", p)),
            None => {
                v.add("product_set", "is required");
                None
            }
        };
        let (id, spec) = v.values((id, spec))?;
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let set = self.store.create_product_set(&id, spec, &ctx).await?;
        Ok(Response::new(set.to_proto()))
    }

    async fn import_trade_records(
        &self,
        request: Request<Streaming<pb::ImportTradeRecordsRequest>>,
    ) -> Result<Response<pb::ImportTradeRecordsResponse>, Status> {
        let mut stream = request.into_inner();
        // Dropped on any error: the transaction rolls back and nothing of the slice stays.
        let mut load = self.store.begin_trade_load().await?;
        let (chunks, staged) = mpsc::channel(STAGED_CHUNKS);
        // Receives and checks the messages while the load stores the ones before.
        let receive = async move {
            let (mut slice, mut validate_only, mut seen) = (String::new(), false, 0usize);
            // Each flow at most once per load (one version per flow and load).
            let mut flows = HashSet::new();
            while let Some(msg) = stream.message().await? {
                let mut v = Violations::new();
                if seen == 0 {
                    check::text(&mut v, "slice", &msg.slice, false, check::MAX_SHORT_TEXT, false);
                    slice = msg.slice;
                    validate_only = msg.validate_only;
                }
                let mut records = Vec::with_capacity(msg.records.len());
                for (i, r) in msg.records.iter().enumerate() {
                    let field = format!("records[{}]", seen + i);
                    if let Some(record) = convert::product_set::trade_record(&mut v, &field, r) {
                        if !flows.insert(record.flow()) {
                            v.add(field, record.given_twice());
                        }
                        records.push(record);
                    }
                    if v.len() >= MAX_REPORTED {
                        break;
                    }
                }
                v.finish(|| ())?;
                seen += msg.records.len();
                if chunks.send(records).await.is_err() {
                    // The load failed; its error is the answer.
                    break;
                }
            }
            Ok::<_, Status>((slice, validate_only))
        };
        let (received, stored) = tokio::join!(receive, load.stage(staged));
        let (slice, validate_only) = received?;
        stored?;
        let counts = load.finish(validate_only).await?;
        tracing::info!(
            slice,
            received = counts.received,
            inserted = counts.inserted,
            revised = counts.revised,
            "trade records loaded"
        );
        Ok(Response::new(pb::ImportTradeRecordsResponse {
            slice,
            received: counts.received,
            inserted: counts.inserted,
            revised: counts.revised,
            unchanged: counts.received - counts.inserted - counts.revised,
            product_years: counts.product_years,
        }))
    }

    async fn list_trade_records(
        &self,
        request: Request<pb::ListTradeRecordsRequest>,
    ) -> Result<Response<pb::ListTradeRecordsResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        check::year(&mut v, "year", r.year);
        let importer = optional_country(&mut v, "importer", &r.importer);
        let exporter = optional_country(&mut v, "exporter", &r.exporter);
        if !r.product.is_empty() && !is_hs6(&r.product) {
            v.add("product", "is an HS 6-digit code (6 digits, e.g. 028530)");
        }
        let page_size = all(&mut v, list::page_size(r.page_size));
        let read_time = read_time(&mut v, r.read_time.as_ref());
        let page_size = v.values(page_size)?;
        let read_text = r
            .read_time
            .map(|t| format!("{}.{}", t.seconds, t.nanos))
            .unwrap_or_default();
        let fingerprint = PageTokens::fingerprint(&[
            "tradeRecords",
            &r.year.to_string(),
            &r.importer,
            &r.exporter,
            &r.product,
            &read_text,
        ]);
        let page = self
            .store
            .list_trade_records(&RecordQuery {
                year: r.year,
                importer,
                exporter,
                product: (!r.product.is_empty()).then(|| r.product.clone()),
                read_time,
                page_size,
                page_token: r.page_token.clone(),
                fingerprint,
            })
            .await?;
        Ok(Response::new(pb::ListTradeRecordsResponse {
            records: page.records.iter().map(StoredRecord::to_proto).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn list_import_dependencies(
        &self,
        request: Request<pb::ListImportDependenciesRequest>,
    ) -> Result<Response<pb::ListImportDependenciesResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let importer = importer(&mut v, &r.importer);
        check::year(&mut v, "year", r.year);
        let page_size = all(&mut v, list::page_size(r.page_size));
        let defaults = Thresholds::default();
        let t = Thresholds {
            import_hhi: share(
                &mut v,
                "import_hhi_threshold",
                r.import_hhi_threshold,
                defaults.import_hhi,
            ),
            world_export_hhi: share(
                &mut v,
                "world_export_hhi_threshold",
                r.world_export_hhi_threshold,
                defaults.world_export_hhi,
            ),
            ratio: r.import_export_ratio_threshold.unwrap_or(defaults.ratio),
            min_importers: r.min_world_importers.unwrap_or(defaults.min_importers),
        };
        if !(t.ratio.is_finite() && t.ratio > 0.0) {
            v.add("import_export_ratio_threshold", "must be a positive number");
        }
        if !(1..=10_000).contains(&t.min_importers) {
            v.add("min_world_importers", "must be 1..=10000");
        }
        let read_time = read_time(&mut v, r.read_time.as_ref());
        let products = self.products(&mut v, &r.product_set, &r.products, read_time).await?;
        let (importer, page_size) = v.values((importer, page_size))?;
        let fingerprint = PageTokens::fingerprint(&[
            "importDependencies",
            &importer,
            &r.year.to_string(),
            &r.product_set,
            &r.products.join(","),
            &r.only_dependent.to_string(),
            &format!("{:?}", t),
            &format!("{:?}", r.read_time),
        ]);
        let after = self.store.product_cursor(&fingerprint, &r.page_token)?;
        let years = r.year - dependency::YEARS + 1..=r.year;
        let data = match read_time {
            None => {
                self.store
                    .dependency_data(&importer, years, products.as_deref())
                    .await?
            }
            Some(at) => {
                self.store
                    .dependency_data_at(&importer, years, products.as_deref(), at)
                    .await?
            }
        };
        let mut out = Vec::new();
        let mut next_page_token = String::new();
        for (product, years) in data
            .iter()
            .filter(|(p, _)| after.as_ref().is_none_or(|a| p.as_str() > a.as_str()))
        {
            let Some(d) = dependency::assess(&importer, product, r.year, years, &t) else {
                continue;
            };
            if r.only_dependent && !d.persistent {
                continue;
            }
            if out.len() == page_size {
                if let Some(last) = out.last().map(|d: &pb::ImportDependency| d.product.clone()) {
                    next_page_token = self.store.product_token(&fingerprint, &last);
                }
                break;
            }
            out.push(d.to_proto());
        }
        Ok(Response::new(pb::ListImportDependenciesResponse {
            dependencies: out,
            next_page_token,
        }))
    }

    async fn list_dominated_products(
        &self,
        request: Request<pb::ListDominatedProductsRequest>,
    ) -> Result<Response<pb::ListDominatedProductsResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let importer = importer(&mut v, &r.importer);
        let supplier = all(&mut v, country("supplier", &r.supplier));
        check::year(&mut v, "year", r.year);
        let page_size = all(&mut v, list::page_size(r.page_size));
        let min_share = r.min_share.unwrap_or(DEFAULT_MIN_SHARE);
        if !(min_share.is_finite() && min_share > 0.0 && min_share <= 1.0) {
            v.add("min_share", "must be a share with 0 < s <= 1");
        }
        let read_time = read_time(&mut v, r.read_time.as_ref());
        let products = self.products(&mut v, &r.product_set, &r.products, read_time).await?;
        let (Some(importer), Some(supplier), Some(page_size), true) = (importer, supplier, page_size, v.is_empty())
        else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let fingerprint = PageTokens::fingerprint(&[
            "dominatedProducts",
            &importer,
            &supplier,
            &r.year.to_string(),
            &r.product_set,
            &r.products.join(","),
            &min_share.to_string(),
            &format!("{:?}", r.read_time),
        ]);
        let after = self.store.product_cursor(&fingerprint, &r.page_token)?;
        let products = products.as_deref();
        let query = crate::store::trade::Dominance {
            importer: &importer,
            supplier: &supplier,
            year: r.year,
            min_share,
            products,
        };
        let found = match read_time {
            None => self.store.dominated_products(&query).await?,
            Some(at) => self.store.dominated_products_at(&query, at).await?,
        };
        let mut rest = found
            .iter()
            .filter(|d| after.as_ref().is_none_or(|a| d.product.as_str() > a.as_str()));
        let page: Vec<pb::DominatedProduct> = rest.by_ref().take(page_size).map(|d| d.to_proto(r.year)).collect();
        let next_page_token = match (rest.next(), page.last()) {
            (Some(_), Some(last)) => self.store.product_token(&fingerprint, &last.product),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListDominatedProductsResponse {
            products: page,
            next_page_token,
        }))
    }
}

/// Checked chunks (messages) of an import waiting for the COPY.
const STAGED_CHUNKS: usize = 2;
/// At most this many violations are reported for one import message.
const MAX_REPORTED: usize = 100;
/// Default least share of ListDominatedProducts.
pub const DEFAULT_MIN_SHARE: f64 = 0.5;

/// The importer of a request: ISO alpha-2, `KR` when empty.
fn importer(v: &mut Violations, raw: &str) -> Option<String> {
    all(v, country("importer", if raw.is_empty() { "KR" } else { raw }))
}

fn optional_country(v: &mut Violations, field: &str, raw: &str) -> Option<String> {
    if raw.is_empty() {
        None
    } else {
        all(v, country(field, raw))
    }
}

/// The optional `read_time` of an analysis.
fn read_time(v: &mut Violations, t: Option<&prost_types::Timestamp>) -> Option<time::OffsetDateTime> {
    t.and_then(|t| all(v, from_timestamp("read_time", t)))
}

/// A threshold on an HHI: 0 <= t < 1, the default when unset.
fn share(v: &mut Violations, field: &str, raw: Option<f64>, default: f64) -> f64 {
    let t = raw.unwrap_or(default);
    if !(t.is_finite() && (0.0..1.0).contains(&t)) {
        v.add(field, "must be a threshold with 0 <= t < 1");
    }
    t
}

impl TradeApi {
    /// The products a request restricts to: those of `product_set` (a live set, as it was at
    /// `read_time` when given), of `products`, or of both; `None` for every product.
    async fn products(
        &self,
        v: &mut Violations,
        set: &str,
        products: &[String],
        read_time: Option<time::OffsetDateTime>,
    ) -> Result<Option<Vec<String>>, Status> {
        check_products(v, "products", products, MAX_PRODUCTS);
        if set.is_empty() {
            return Ok((!products.is_empty()).then(|| products.to_vec()));
        }
        let name = if set.contains('/') {
            set.to_owned()
        } else {
            Collection::ProductSets.name(&match Id::parse("product_set", set) {
                Ok(id) => id,
                Err(e) => {
                    v.take::<()>(Err(e));
                    return Ok(None);
                }
            })
        };
        let Some(id) = all(v, Collection::ProductSets.parse_name("product_set", &name)) else {
            return Ok(None);
        };
        let mut in_set = self.store.product_set_products(&id, read_time).await?;
        if !products.is_empty() {
            in_set.retain(|p| products.contains(p));
        }
        Ok(Some(in_set))
    }
}
