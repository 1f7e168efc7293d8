//! Tests of `registryctl` (one test binary; `CARGO_BIN_EXE_registryctl` is only available to
//! tests of this package): the commands as a process against a real registryd, and the seed
//! data it imports.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod check_ins;
mod commands;
mod first_use;
mod report;
mod risks;
mod seeds;
mod support;
