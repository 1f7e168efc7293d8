//! `registryctl tokens …` (ADMIN).

use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use registry_client::{pb, prost_types};
use serde::Serialize;

use super::Ctx;
use crate::{
    error::{CliError, CliResult, Context},
    output::{Columns, emit, kv_table},
    records::{enum_name, parse_enum, ts},
};

#[derive(Debug, Subcommand)]
pub enum TokensCmd {
    /// Creates a token; its secret is printed once.
    Create(CreateArgs),
    /// Lists tokens (never their secrets).
    List(ListArgs),
    /// Revokes a token; it is refused from then on.
    Revoke {
        /// Token id or `tokens/{id}`.
        #[arg(value_name = "TOKEN")]
        id: String,
    },
    /// Rotates a token: creates its successor (same role and description; its secret is
    /// printed once) and lets the old one work for a grace period only.
    Rotate {
        /// Token id or `tokens/{id}`.
        #[arg(value_name = "TOKEN")]
        id: String,
        /// Hours the old token keeps working (0: revoked at once; at most 720).
        #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(0..=720))]
        grace_hours: u32,
    },
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// VIEWER, EDITOR or ADMIN.
    #[arg(long)]
    pub role: String,
    /// What the token is for.
    #[arg(long)]
    pub description: String,
    /// Expire after this many days (default: 90).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=36500), conflicts_with = "no_expiry")]
    pub expires_in_days: Option<u32>,
    /// The token never expires (it must then be revoked by hand).
    #[arg(long)]
    pub no_expiry: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Include revoked and expired tokens.
    #[arg(long)]
    pub all: bool,
}

/// A token as printed.
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub name: String,
    pub role: String,
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub creator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_use_time: Option<String>,
}

impl TokenView {
    fn new(t: &pb::Token) -> TokenView {
        TokenView {
            name: t.name.clone(),
            role: enum_name::<pb::Role>(t.role).unwrap_or_default(),
            description: t.description.clone(),
            creator: t.creator.clone(),
            create_time: ts(t.create_time.as_ref()),
            expire_time: ts(t.expire_time.as_ref()),
            revoke_time: ts(t.revoke_time.as_ref()),
            last_use_time: ts(t.last_use_time.as_ref()),
        }
    }

    fn rows(&self) -> Vec<(&'static str, String)> {
        vec![
            ("name", self.name.clone()),
            ("role", self.role.clone()),
            ("description", self.description.clone()),
            ("creator", self.creator.clone()),
            ("created", self.create_time.clone().unwrap_or_default()),
            ("expires", self.expire_time.clone().unwrap_or_default()),
            ("revoked", self.revoke_time.clone().unwrap_or_default()),
            ("last used", self.last_use_time.clone().unwrap_or_default()),
        ]
    }
}

impl Columns for TokenView {
    const COLUMNS: &[&str] = &[
        "NAME",
        "ROLE",
        "DESCRIPTION",
        "CREATED",
        "EXPIRES",
        "REVOKED",
        "LAST USED",
    ];

    fn row(&self) -> Vec<String> {
        let mut row = vec![self.name.clone(), self.role.clone(), self.description.clone()];
        for time in [
            &self.create_time,
            &self.expire_time,
            &self.revoke_time,
            &self.last_use_time,
        ] {
            row.push(time.clone().unwrap_or_default());
        }
        row
    }
}

#[derive(Debug, Serialize)]
struct Created {
    token: TokenView,
    secret: String,
}

#[derive(Debug, Serialize)]
struct Rotated {
    token: TokenView,
    secret: String,
    previous: TokenView,
}

fn token_name(s: &str) -> String {
    if s.starts_with("tokens/") {
        s.to_owned()
    } else {
        format!("tokens/{s}")
    }
}

pub async fn run(ctx: &Ctx, cmd: TokensCmd) -> CliResult {
    match cmd {
        TokensCmd::Create(a) => {
            let role = parse_enum::<pb::Role>("--role", &a.role).map_err(CliError::usage)?;
            let expire_time = a
                .expires_in_days
                .map(|d| prost_types::Timestamp::from(SystemTime::now() + Duration::from_secs(u64::from(d) * 86_400)));
            let resp = ctx
                .client
                .create_token(pb::CreateTokenRequest {
                    role,
                    description: a.description,
                    expire_time,
                    no_expiry: a.no_expiry,
                })
                .await
                .context("creating a token")?;
            let view = Created {
                token: TokenView::new(&resp.token.unwrap_or_default()),
                secret: resp.secret,
            };
            ctx.note("The secret is shown only now: store it safely.");
            emit(ctx.format, &view, || {
                let mut rows = view.token.rows();
                rows.push(("secret", view.secret.clone()));
                kv_table(&rows)
            })
        }
        TokensCmd::List(a) => {
            let req = pb::ListTokensRequest {
                page_size: 1000,
                page_token: String::new(),
                show_inactive: a.all,
            };
            ctx.print_all(req, None, "listing tokens", |t| TokenView::new(&t)).await
        }
        TokensCmd::Rotate { id, grace_hours } => {
            let name = token_name(&id);
            let resp = ctx
                .client
                .rotate_token(name.clone(), Some(Duration::from_secs(u64::from(grace_hours) * 3600)))
                .await
                .context(format!("rotating {name}"))?;
            let view = Rotated {
                token: TokenView::new(&resp.token.unwrap_or_default()),
                secret: resp.secret,
                previous: TokenView::new(&resp.previous.unwrap_or_default()),
            };
            ctx.note(format!(
                "{} replaces {name}, which stops working at {}. The new secret is shown only now: store it safely.",
                view.token.name,
                view.previous
                    .revoke_time
                    .clone()
                    .or_else(|| view.previous.expire_time.clone())
                    .unwrap_or_default()
            ));
            emit(ctx.format, &view, || {
                let mut rows = view.token.rows();
                rows.push(("secret", view.secret.clone()));
                rows.push(("replaces", view.previous.name.clone()));
                rows.push((
                    "replaced expires",
                    view.previous.expire_time.clone().unwrap_or_default(),
                ));
                kv_table(&rows)
            })
        }
        TokensCmd::Revoke { id } => {
            let name = token_name(&id);
            let t = ctx
                .client
                .revoke_token(name.clone())
                .await
                .context(format!("revoking {name}"))?;
            ctx.note(format!("revoked {name}"));
            let view = TokenView::new(&t);
            emit(ctx.format, &view, || kv_table(&view.rows()))
        }
    }
}
