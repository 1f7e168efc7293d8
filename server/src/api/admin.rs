//! `motie.registry.v1.AdminService`: API tokens.

use std::sync::Arc;

use registry_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::{from_timestamp, timestamp, write_ctx};
use crate::{
    api::convert::enums::enum_field,
    auth::Authenticator,
    domain::{Error, Violations, check, enums::Role, list},
    store::{Store, TokenRecord},
};

/// The AdminService implementation.
#[derive(Debug, Clone)]
pub struct AdminApi {
    store: Store,
    auth: Arc<Authenticator>,
}

impl AdminApi {
    pub fn new(store: Store, auth: Arc<Authenticator>) -> Self {
        AdminApi { store, auth }
    }
}

fn to_proto(t: &TokenRecord) -> pb::Token {
    pb::Token {
        name: t.name(),
        role: t.role().map_or(0, Role::to_proto),
        description: t.description.clone(),
        create_time: Some(timestamp(t.create_time)),
        expire_time: t.expire_time.map(timestamp),
        revoke_time: t.revoke_time.map(timestamp),
        last_use_time: t.last_use_time.map(timestamp),
        creator: t.creator.clone(),
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let role = enum_field(&mut v, "role", r.role, Role::from_proto, true, Role::expected);
        check::text(&mut v, "description", &r.description, true, check::MAX_TITLE, false);
        let expire_time = r
            .expire_time
            .as_ref()
            .and_then(|t| v.take(from_timestamp("expire_time", t)));
        if expire_time.is_some_and(|t| t <= time::OffsetDateTime::now_utc()) {
            v.add("expire_time", "must be in the future");
        }
        let (Some(role), true) = (role, v.is_empty()) else {
            return Err(Error::InvalidArgument(v.into_vec()).into());
        };
        let ctx = write_ctx(&request, None, false);
        let (rec, secret) = self.store.create_token(role, &r.description, expire_time, &ctx).await?;
        Ok(Response::new(pb::CreateTokenResponse {
            token: Some(to_proto(&rec)),
            secret,
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let r = request.get_ref();
        let page_size = list::page_size(r.page_size)?;
        // Token ids are public; the page token is simply the last id, checked for shape.
        let after = r.page_token.as_str();
        if after.len() > 12 || !after.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) {
            return Err(Error::invalid("page_token", "is not a page token issued by ListTokens").into());
        }
        let mut rows = self
            .store
            .list_tokens(after, page_size as i64 + 1, r.show_inactive)
            .await?;
        let next = if rows.len() > page_size {
            rows.truncate(page_size);
            rows.last().map(|t| t.id.clone()).unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Response::new(pb::ListTokensResponse {
            tokens: rows.iter().map(to_proto).collect(),
            next_page_token: next,
        }))
    }

    async fn revoke_token(&self, request: Request<pb::RevokeTokenRequest>) -> Result<Response<pb::Token>, Status> {
        let name = &request.get_ref().name;
        let id = name
            .strip_prefix("tokens/")
            .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
            .ok_or_else(|| Error::invalid("name", "must be tokens/{id} with a 12-character id"))?;
        let ctx = write_ctx(&request, None, false);
        let rec = self.store.revoke_token(id, &ctx).await?;
        self.auth.evict(id);
        Ok(Response::new(to_proto(&rec)))
    }
}
