//! API tokens in PostgreSQL. Only SHA-256 hashes of secrets are stored.

use time::OffsetDateTime;

use sqlx::{Postgres, Transaction};

use super::{Change, ChangeKind, Store, WriteCtx, append_changes, db_error};
use crate::domain::{Error, Reason, enums::Role, token};

/// Resource type of tokens in the change log.
pub const TOKEN_TYPE: &str = "motie.registry.v1.Token";

/// A stored token (without its hash).
#[derive(Debug, Clone, PartialEq, serde::Serialize, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: String,
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub role: String,
    pub description: String,
    pub creator: String,
    #[serde(with = "time::serde::rfc3339")]
    pub create_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub expire_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub revoke_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_use_time: Option<OffsetDateTime>,
}

impl TokenRecord {
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    /// Usable now: not revoked, not expired.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.revoke_time.is_none() && self.expire_time.is_none_or(|e| e > now)
    }

    pub fn name(&self) -> String {
        format!("tokens/{}", self.id)
    }
}

fn change<'a>(t: &TokenRecord, kind: ChangeKind, ctx: &'a WriteCtx) -> Change<'a> {
    Change {
        resource_type: TOKEN_TYPE,
        name: t.name(),
        kind,
        mask: vec![],
        snapshot: serde_json::to_value(t).ok(),
        ctx,
    }
}

impl Store {
    /// Creates a token with a freshly generated secret; returns the record and the secret.
    pub async fn create_token(
        &self,
        role: Role,
        description: &str,
        expire_time: Option<OffsetDateTime>,
        ctx: &WriteCtx,
    ) -> Result<(TokenRecord, String), Error> {
        let new = token::generate();
        let rec = self
            .insert_token(
                &NewToken {
                    id: &new.id,
                    secret: &new.secret,
                    role,
                    description,
                    expire_time,
                    creator: &ctx.actor.id,
                },
                ctx,
            )
            .await?
            .ok_or_else(|| Error::Internal("token id collision".into()))?;
        Ok((rec, new.secret))
    }

    /// Registers a given secret (bootstrap from an env/secret file), expiring at
    /// `expire_time`. Does nothing when a token with that id exists already, so a revoked
    /// bootstrap token stays revoked.
    pub async fn ensure_token(
        &self,
        secret: &str,
        role: Role,
        description: &str,
        expire_time: Option<OffsetDateTime>,
    ) -> Result<bool, Error> {
        let id = token::parse(secret)
            .ok_or_else(|| Error::invalid("token", "is not a registry token (rgy_{id}_{secret})"))?;
        let ctx = WriteCtx {
            actor: crate::domain::Actor::system(),
            request_id: None,
            validate_only: false,
        };
        Ok(self
            .insert_token(
                &NewToken {
                    id,
                    secret,
                    role,
                    description,
                    expire_time,
                    creator: "bootstrap",
                },
                &ctx,
            )
            .await?
            .is_some())
    }

    async fn insert_token(&self, new: &NewToken<'_>, ctx: &WriteCtx) -> Result<Option<TokenRecord>, Error> {
        let mut tx = self.begin().await?;
        let rec = insert(&mut tx, new).await?;
        if let Some(r) = &rec {
            append_changes(&mut tx, &[change(r, ChangeKind::Created, ctx)]).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(rec)
    }

    /// Rotates token `id`: a successor with the same role and description expiring at
    /// `expire_time`, and the old token limited to `grace` more (revoked at once for zero; an
    /// earlier expiry is kept). Returns the successor, its secret and the old token.
    pub async fn rotate_token(
        &self,
        id: &str,
        grace: std::time::Duration,
        expire_time: Option<OffsetDateTime>,
        ctx: &WriteCtx,
    ) -> Result<(TokenRecord, String, TokenRecord), Error> {
        let name = format!("tokens/{id}");
        let mut tx = self.begin().await?;
        let old: Option<TokenRecord> = sqlx::query_as("SELECT * FROM api_tokens WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
        let old = old.ok_or_else(|| not_found(id))?;
        if !old.is_active(OffsetDateTime::now_utc()) {
            return Err(Error::failed_precondition(
                Reason::TokenInvalid,
                format!("{name} is revoked or expired; create a new token instead"),
                Some(name),
            ));
        }
        let role = old
            .role()
            .ok_or_else(|| Error::Internal(format!("{name} has an unknown role {}", old.role)))?;
        let new = token::generate();
        let successor = insert(
            &mut tx,
            &NewToken {
                id: &new.id,
                secret: &new.secret,
                role,
                description: &old.description,
                expire_time,
                creator: &ctx.actor.id,
            },
        )
        .await?
        .ok_or_else(|| Error::Internal("token id collision".into()))?;
        let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
        let old: TokenRecord = sqlx::query_as(
            "UPDATE api_tokens SET
                revoke_time = CASE WHEN $2 = 0 THEN now() ELSE revoke_time END,
                expire_time = CASE WHEN $2 = 0 THEN expire_time
                                   ELSE least(expire_time, now() + make_interval(secs => $2 / 1000.0)) END
             WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(grace_ms)
        .fetch_one(&mut *tx)
        .await
        .map_err(db_error)?;
        append_changes(
            &mut tx,
            &[
                change(&successor, ChangeKind::Created, ctx),
                change(&old, ChangeKind::Updated, ctx),
            ],
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok((successor, new.secret, old))
    }

    /// Looks a token up by id (for authentication).
    pub async fn find_token(&self, id: &str) -> Result<Option<TokenRecord>, Error> {
        sqlx::query_as("SELECT * FROM api_tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }

    /// Lists tokens by id, after `after_id`.
    pub async fn list_tokens(
        &self,
        after_id: &str,
        limit: i64,
        show_inactive: bool,
    ) -> Result<Vec<TokenRecord>, Error> {
        sqlx::query_as(
            "SELECT * FROM api_tokens WHERE id > $1
               AND ($3 OR (revoke_time IS NULL AND (expire_time IS NULL OR expire_time > now())))
             ORDER BY id LIMIT $2",
        )
        .bind(after_id)
        .bind(limit)
        .bind(show_inactive)
        .fetch_all(&self.pool)
        .await
        .map_err(db_error)
    }

    /// Revokes a token (idempotent: revoking twice keeps the first revoke time).
    pub async fn revoke_token(&self, id: &str, ctx: &WriteCtx) -> Result<TokenRecord, Error> {
        let mut tx = self.begin().await?;
        let rec: Option<TokenRecord> = sqlx::query_as(
            "UPDATE api_tokens SET revoke_time = coalesce(revoke_time, now()) WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_error)?;
        let rec = rec.ok_or_else(|| not_found(id))?;
        append_changes(&mut tx, &[change(&rec, ChangeKind::Updated, ctx)]).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(rec)
    }

    /// Records a successful use.
    pub async fn touch_token(&self, id: &str) -> Result<(), Error> {
        sqlx::query("UPDATE api_tokens SET last_use_time = now() WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

fn not_found(id: &str) -> Error {
    Error::NotFound {
        resource_type: TOKEN_TYPE,
        name: format!("tokens/{id}"),
    }
}

/// A token to store: its id, secret (stored hashed), role, description, expiry and creator.
struct NewToken<'a> {
    id: &'a str,
    secret: &'a str,
    role: Role,
    description: &'a str,
    expire_time: Option<OffsetDateTime>,
    creator: &'a str,
}

/// Inserts a token unless its id exists (`None` then).
async fn insert(tx: &mut Transaction<'static, Postgres>, t: &NewToken<'_>) -> Result<Option<TokenRecord>, Error> {
    sqlx::query_as(
        "INSERT INTO api_tokens (id, secret_hash, role, description, creator, expire_time)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING RETURNING *",
    )
    .bind(t.id)
    .bind(token::hash(t.secret))
    .bind(t.role.as_str())
    .bind(t.description)
    .bind(t.creator)
    .bind(t.expire_time)
    .fetch_optional(&mut **tx)
    .await
    .map_err(db_error)
}
