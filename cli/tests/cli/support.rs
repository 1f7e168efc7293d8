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

/// The words of a command line, split at spaces; `'…'` quotes a word with spaces:
/// `words("goals update ax --title 'Industrial resurgence'")`.
pub(crate) fn words(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let (word, after) = match rest.strip_prefix('\'') {
            Some(quoted) => {
                let end = quoted.find('\'').expect("a closing quote");
                (&quoted[..end], &quoted[end + 1..])
            }
            None => rest.split_at(rest.find(char::is_whitespace).unwrap_or(rest.len())),
        };
        out.push(word);
        rest = after.trim_start();
    }
    out
}

/// A fresh test app, and a temporary directory holding the data file `name` with `text`.
pub(crate) async fn app_with_file(name: &str, text: &str) -> (TestApp, tempfile::TempDir, PathBuf) {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), name, text);
    (app, dir, file)
}

/// Exports `app` into a new directory and asserts that each of `files` is as in `before`.
#[track_caller]
pub(crate) fn assert_exports_the_same(app: &TestApp, before: &Path, files: &[&str]) {
    let after = tempfile::tempdir().unwrap();
    ok(ctl(app, &["-q", "export", after.path().to_str().unwrap()]));
    for f in files {
        assert_eq!(
            std::fs::read_to_string(before.join(f)).unwrap(),
            std::fs::read_to_string(after.path().join(f)).unwrap(),
            "{f}"
        );
    }
}

/// Asserts that a line of `table` holds both `key` and `value`.
#[track_caller]
pub(crate) fn assert_row(table: &str, key: &str, value: &str) {
    assert!(
        table.lines().any(|l| l.contains(key) && l.contains(value)),
        "no row {key} … {value} in\n{table}"
    );
}

/// The string `key` of each item of a JSON list.
#[track_caller]
pub(crate) fn each<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap())
        .collect()
}

/// Runs the command line `line` (see [`words`]) as the admin of `app`.
pub(crate) fn run(app: &TestApp, line: &str) -> Output {
    ctl(app, &words(line))
}
