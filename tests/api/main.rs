//! The end-to-end tests: ONE test binary (modules, not a binary per file, so the server is
//! linked once). Each test gets a real `registryd` on 127.0.0.1:0 and a fresh PostgreSQL
//! database from the harness (`registry_e2e`, tests/src/lib.rs), driven through
//! registry-client; the store and property tests use the same harness for their databases.
//!
//! Run one module with `cargo test -p registry-e2e --test api goals::`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

// Through registry-client, against a real server.
mod agreements;
mod changes;
mod check_ins;
mod client_resilience;
mod concurrency;
mod dependencies;
mod dependency_links;
mod filtering;
mod goals;
mod grpc_web;
mod hostile;
mod limits;
mod listing;
mod measurements;
mod observability;
mod partners;
mod product_sets;
mod replicas;
mod risks;
mod security;
mod serving;
mod trace_context;

// Below the API: the store on a fresh database, and properties of the pure parsers.
mod filter;
mod no_panic;
mod risk_migration;
mod store;

// The container deployment files.
mod compose;
