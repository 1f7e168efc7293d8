//! `motie.registry.v1.TradeAnalysisService`: product sets (on the resource layer), the bulk
//! load of product-level trade records, and the import-dependency analysis.

use std::future::Future;

use registry_proto::v1::{self as pb, trade_analysis_service_server::TradeAnalysisService};
use tonic::{Request, Response, Status, Streaming};

use super::{
    all, list_fields,
    resource::{self, ApiResource, Deletable, Updatable},
    write_ctx,
};
use crate::{
    domain::{
        Error, Id, Violations,
        product_set::{ProductSet, ProductSetField, ProductSetPatch, ProductSetSpec},
    },
    store::{Store, WriteCtx},
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

impl ApiResource for ProductSet {
    type Proto = pb::ProductSet;
    fn to_proto(&self) -> pb::ProductSet {
        ProductSet::to_proto(self)
    }
}

impl Deletable for ProductSet {
    fn delete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        _force: bool,
        allow_missing: bool,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Option<Self>, Error>> + Send + 'a {
        store.delete_product_set(id, etag, allow_missing, ctx)
    }

    fn undelete<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.undelete_product_set(id, etag, ctx)
    }
}

impl Updatable for ProductSet {
    type Msg = pb::ProductSet;
    type Patch = ProductSetPatch;
    type Spec = ProductSetSpec;
    const FIELD: &'static str = "product_set";

    fn msg_name(msg: &pb::ProductSet) -> &str {
        &msg.name
    }

    fn msg_etag(msg: &pb::ProductSet) -> &str {
        &msg.etag
    }

    fn populated(msg: &pb::ProductSet, field: &str) -> bool {
        super::convert::product_set::populated(msg, field)
    }

    fn patch(fields: Vec<ProductSetField>) -> ProductSetPatch {
        ProductSetPatch(fields)
    }

    fn create_spec(msg: &pb::ProductSet, _id: &Id) -> Result<ProductSetSpec, Error> {
        ProductSetSpec::from_proto(Self::FIELD, msg)
    }

    fn update<'a>(
        store: &'a Store,
        id: &'a Id,
        etag: &'a str,
        mask: Vec<String>,
        patch: Result<ProductSetPatch, Error>,
        create: Option<Result<ProductSetSpec, Error>>,
        ctx: &'a WriteCtx,
    ) -> impl Future<Output = Result<Self, Error>> + Send + 'a {
        store.update_product_set(id, etag, mask, patch, create, ctx)
    }
}

#[tonic::async_trait]
impl TradeAnalysisService for TradeApi {
    async fn create_product_set(
        &self,
        request: Request<pb::CreateProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
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
        let (Some(id), Some(spec), true) = (id, spec, v.is_empty()) else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let ctx = write_ctx(&request, request_id.flatten(), r.validate_only);
        let set = self.store.create_product_set(&id, spec, &ctx).await?;
        Ok(Response::new(set.to_proto()))
    }

    async fn get_product_set(
        &self,
        request: Request<pb::GetProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
        let r = request.get_ref();
        Ok(Response::new(
            resource::get::<ProductSet>(&self.store, &r.name, r.read_time.as_ref()).await?,
        ))
    }

    async fn list_product_sets(
        &self,
        request: Request<pb::ListProductSetsRequest>,
    ) -> Result<Response<pb::ListProductSetsResponse>, Status> {
        let r = request.get_ref();
        let page = resource::list::<ProductSet>(&self.store, list_fields!(r)).await?;
        Ok(Response::new(pb::ListProductSetsResponse {
            product_sets: page.items,
            next_page_token: page.next_page_token,
            total_size: page.total_size,
        }))
    }

    async fn batch_get_product_sets(
        &self,
        request: Request<pb::BatchGetProductSetsRequest>,
    ) -> Result<Response<pb::BatchGetProductSetsResponse>, Status> {
        let r = request.get_ref();
        let product_sets = resource::batch_get::<ProductSet>(&self.store, &r.names, false).await?;
        Ok(Response::new(pb::BatchGetProductSetsResponse { product_sets }))
    }

    async fn update_product_set(
        &self,
        request: Request<pb::UpdateProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
        let r = request.get_ref();
        let fields = resource::UpdateFields {
            resource: r.product_set.as_ref(),
            update_mask: r.update_mask.as_ref(),
            allow_missing: r.allow_missing,
            validate_only: r.validate_only,
        };
        Ok(Response::new(
            resource::update::<ProductSet, _>(&self.store, &request, fields).await?,
        ))
    }

    async fn delete_product_set(
        &self,
        request: Request<pb::DeleteProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
        let r = request.get_ref();
        let fields = resource::DeleteFields {
            name: &r.name,
            etag: &r.etag,
            force: r.force,
            allow_missing: r.allow_missing,
            validate_only: r.validate_only,
        };
        Ok(Response::new(
            resource::delete::<ProductSet, _>(&self.store, &request, fields).await?,
        ))
    }

    async fn undelete_product_set(
        &self,
        request: Request<pb::UndeleteProductSetRequest>,
    ) -> Result<Response<pb::ProductSet>, Status> {
        let r = request.get_ref();
        Ok(Response::new(
            resource::undelete::<ProductSet, _>(&self.store, &request, &r.name, &r.etag, r.validate_only).await?,
        ))
    }

    async fn import_trade_records(
        &self,
        _request: Request<Streaming<pb::ImportTradeRecordsRequest>>,
    ) -> Result<Response<pb::ImportTradeRecordsResponse>, Status> {
        Err(Status::unimplemented("ImportTradeRecords is not built yet"))
    }

    async fn list_trade_records(
        &self,
        _request: Request<pb::ListTradeRecordsRequest>,
    ) -> Result<Response<pb::ListTradeRecordsResponse>, Status> {
        Err(Status::unimplemented("ListTradeRecords is not built yet"))
    }

    async fn list_import_dependencies(
        &self,
        _request: Request<pb::ListImportDependenciesRequest>,
    ) -> Result<Response<pb::ListImportDependenciesResponse>, Status> {
        Err(Status::unimplemented("ListImportDependencies is not built yet"))
    }

    async fn list_dominated_products(
        &self,
        _request: Request<pb::ListDominatedProductsRequest>,
    ) -> Result<Response<pb::ListDominatedProductsResponse>, Status> {
        Err(Status::unimplemented("ListDominatedProducts is not built yet"))
    }
}
