//! Tests of the `registryd` binary as a process (one test binary; `CARGO_BIN_EXE_registryd`
//! is only available to tests of this package): `dev` with its private PostgreSQL, `serve`
//! with `healthcheck` and metrics, `token`, `kill -9` and database outages, and the
//! benchmark's smoke run against it. PostgreSQL and fresh databases come from the workspace
//! harness (`registry_e2e`), found the same way as by every other test.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod bench_smoke;
mod dev_mode;
mod faults;
mod hardening;
mod healthcheck;
mod token_cli;
