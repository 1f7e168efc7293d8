//! `registryd token create|list|revoke`: API tokens managed directly in the database
//! (bootstrap, break-glass).

use clap::Subcommand;
use registry_server::{
    domain::{Actor, enums::Role},
    store::WriteCtx,
};

use super::config::DbArgs;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print its secret (shown only this once).
    Create {
        #[command(flatten)]
        db: DbArgs,
        /// viewer, editor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// What the token is for.
        #[arg(long, default_value = "")]
        description: String,
        /// Days until the token expires.
        #[arg(long, default_value_t = 90, conflicts_with = "no_expiry")]
        expires_in_days: u32,
        /// The token never expires (it must then be revoked by hand).
        #[arg(long)]
        no_expiry: bool,
    },
    /// List active tokens (with --all also revoked and expired ones).
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        all: bool,
    },
    /// Revoke a token by id (`tokens/{id}` or `{id}`).
    Revoke {
        #[command(flatten)]
        db: DbArgs,
        id: String,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(&s.to_ascii_uppercase()).ok_or_else(|| format!("unknown role {s:?} (viewer, editor, admin)"))
}

/// The write context of changes made by `registryd` itself (tokens, the dev token).
pub fn registryd_ctx() -> WriteCtx {
    WriteCtx {
        actor: Actor { id: "registryd".into() },
        request_id: None,
        validate_only: false,
    }
}

/// `registryd token …`.
pub async fn run(cmd: TokenCommand) -> anyhow::Result<()> {
    let ctx = registryd_ctx();
    match cmd {
        TokenCommand::Create {
            db,
            role,
            description,
            expires_in_days,
            no_expiry,
        } => {
            let store = db.connect(db.store_options()).await?;
            let expire =
                (!no_expiry).then(|| time::OffsetDateTime::now_utc() + time::Duration::days(expires_in_days.into()));
            let (rec, secret) = store.create_token(role, &description, expire, &ctx).await?;
            eprintln!(
                "created tokens/{} ({}); the secret is shown only now:",
                rec.id,
                rec.role.to_ascii_lowercase()
            );
            println!("{secret}");
        }
        TokenCommand::List { db, all } => {
            let store = db.connect(db.store_options()).await?;
            let mut after = String::new();
            println!(
                "{:<14} {:<7} {:<26} {:<26} DESCRIPTION",
                "ID", "ROLE", "EXPIRES", "REVOKED"
            );
            loop {
                let page = store.list_tokens(&after, 500, all).await?;
                let Some(last) = page.last() else { break };
                after = last.id.clone();
                for t in &page {
                    let show = |t: Option<time::OffsetDateTime>| t.map_or("-".to_owned(), |t| t.to_string());
                    println!(
                        "{:<14} {:<7} {:<26} {:<26} {}",
                        t.id,
                        t.role.to_ascii_lowercase(),
                        show(t.expire_time),
                        show(t.revoke_time),
                        t.description
                    );
                }
            }
        }
        TokenCommand::Revoke { db, id } => {
            let store = db.connect(db.store_options()).await?;
            let id = id.strip_prefix("tokens/").unwrap_or(&id);
            let rec = store.revoke_token(id, &ctx).await?;
            println!("revoked tokens/{}", rec.id);
        }
    }
    Ok(())
}
