//! The tooling around the `registryd` binary that is not the server itself (that is
//! `registry-server`):
//!
//! * [`pg`]: finding or starting a PostgreSQL: `DATABASE_URL`, the local server, or a private
//!   cluster from the locally installed binaries. Used by `registryd dev` and by the test
//!   harness (`registry-e2e`), so both find their database the same way.
//! * [`seeds`]: the dev seeding of `registryd dev` (imports `seeds/` through the API with
//!   registryctl's import, on the first start).
//! * [`healthcheck`]: the client side of `registryd healthcheck`.
//!
//! The server library does not depend on this crate, nor on the CLI.

pub mod healthcheck;
pub mod pg;
pub mod seeds;
