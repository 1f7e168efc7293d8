//! What every test of `registryctl` uses: running it as a process against a test app, reading
//! its output, writing data files.

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
};

use registry_e2e::TestApp;
use serde_json::Value;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_registryctl");

pub(crate) fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../seeds")
}

/// Runs registryctl against `endpoint` with `token` (no ambient REGISTRY_* variables).
pub(crate) fn run_with(endpoint: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut cmd = Command::new(BIN);
    for var in [
        "REGISTRY_ENDPOINT",
        "REGISTRY_TOKEN",
        "REGISTRY_TOKEN_FILE",
        "REGISTRY_CA_CERT",
        "COLUMNS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("REGISTRY_ENDPOINT", endpoint);
    if let Some(t) = token {
        cmd.env("REGISTRY_TOKEN", t);
    }
    cmd.args(args).output().expect("run registryctl")
}

pub(crate) fn endpoint(app: &TestApp) -> String {
    format!("http://{}", app.addr)
}

pub(crate) fn ctl(app: &TestApp, args: &[&str]) -> Output {
    run_with(&endpoint(app), Some(&app.admin_token), args)
}

pub(crate) fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub(crate) fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
pub(crate) fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "registryctl failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

#[track_caller]
pub(crate) fn fails(o: Output, code: i32) -> String {
    assert_eq!(
        o.status.code(),
        Some(code),
        "expected exit {code}:\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stderr(&o)
}

pub(crate) fn json(o: Output) -> Value {
    serde_json::from_str(&ok(o)).expect("valid JSON")
}

pub(crate) fn yaml(o: Output) -> Value {
    serde_norway::from_str(&ok(o)).expect("valid YAML")
}

pub(crate) fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The words of a command line (for arguments without spaces): `words("goals get ax")`.
pub(crate) fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}
