//! `motie.registry.v1.AdminService`: API tokens.

use std::{sync::Arc, time::Duration};

use registry_proto::v1::{self as pb, admin_service_server::AdminService};
use tonic::{Request, Response, Status};

use super::{from_timestamp, timestamp, write_ctx};
use crate::{
    api::convert::enums::enum_field,
    auth::Authenticator,
    domain::{Error, Violations, check, enums::Role, list, token},
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

/// Longest grace period of a rotation.
const MAX_GRACE_SECS: i64 = 30 * 24 * 3600;

/// When a new token expires if its creator names no time: [`token::DEFAULT_LIFETIME_DAYS`].
fn default_expiry() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc() + time::Duration::days(token::DEFAULT_LIFETIME_DAYS)
}

/// The id of a `tokens/{id}` name.
fn token_id(name: &str) -> Result<&str, Error> {
    name.strip_prefix("tokens/")
        .filter(|id| id.len() == 12 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        .ok_or_else(|| Error::invalid("name", "must be tokens/{id} with a 12-character id"))
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> Result<Response<pb::CreateTokenResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let role = enum_field::<Role>(&mut v, "role", r.role, true);
        check::text(&mut v, "description", &r.description, true, check::MAX_TITLE, false);
        let expire_time = r
            .expire_time
            .as_ref()
            .and_then(|t| v.take(from_timestamp("expire_time", t)));
        if expire_time.is_some_and(|t| t <= time::OffsetDateTime::now_utc()) {
            v.add("expire_time", "must be in the future");
        }
        if expire_time.is_some() && r.no_expiry {
            v.add("no_expiry", "must not be set together with expire_time");
        }
        let role = v.values(role)?;
        let expire_time = expire_time.or_else(|| (!r.no_expiry).then(default_expiry));
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

    async fn rotate_token(
        &self,
        request: Request<pb::RotateTokenRequest>,
    ) -> Result<Response<pb::RotateTokenResponse>, Status> {
        let r = request.get_ref();
        let mut v = Violations::new();
        let id = v.take(token_id(&r.name));
        let grace = match &r.grace_period {
            None => Some(Duration::from_secs(24 * 3600)),
            Some(d) => {
                let ok = d.seconds >= 0 && d.nanos >= 0 && d.seconds <= MAX_GRACE_SECS;
                if !ok {
                    v.add("grace_period", "must be between 0 and 30 days");
                }
                ok.then(|| Duration::new(d.seconds.unsigned_abs(), d.nanos.unsigned_abs()))
            }
        };
        let (id, grace) = v.values((id, grace))?;
        let ctx = write_ctx(&request, None, false);
        let (rec, secret, old) = self.store.rotate_token(id, grace, Some(default_expiry()), &ctx).await?;
        self.auth.evict(&old.id);
        Ok(Response::new(pb::RotateTokenResponse {
            token: Some(to_proto(&rec)),
            secret,
            previous: Some(to_proto(&old)),
        }))
    }

    async fn revoke_token(&self, request: Request<pb::RevokeTokenRequest>) -> Result<Response<pb::Token>, Status> {
        let id = token_id(&request.get_ref().name)?;
        let ctx = write_ctx(&request, None, false);
        let rec = self.store.revoke_token(id, &ctx).await?;
        self.auth.evict(id);
        Ok(Response::new(to_proto(&rec)))
    }
}
