//! Options shared by several commands, and the little helpers that turn them into what the
//! server library takes.

use std::{net::SocketAddr, path::Path};

use anyhow::Context;
use clap::Args;
use registry_server::{Store, StoreOptions};
use tokio::net::TcpListener;

#[derive(Debug, Args)]
pub struct DbArgs {
    /// PostgreSQL URL; the database is created if it does not exist.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,
    /// Maximum database connections in the pool.
    #[arg(long, env = "REGISTRY_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
}

impl DbArgs {
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.db_max_connections,
            ..StoreOptions::default()
        }
    }

    /// Connects (creating the database if needed) and migrates.
    pub async fn connect(&self, opts: StoreOptions) -> anyhow::Result<Store> {
        Store::connect(&self.database_url, opts)
            .await
            .context("cannot connect to PostgreSQL")
    }
}

pub fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))
}

pub async fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))
}
