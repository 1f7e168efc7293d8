//! The commands of `registryd`, one module each, and the options they share (`config`).

pub mod config;
pub mod dev;
pub mod healthcheck;
pub mod serve;
pub mod token;
