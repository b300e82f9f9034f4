//! Runs the real `zoom-sso-revoker` binary, for CLI and process-level tests: a clean
//! environment (only the variables given), the working directory in the test's temp dir (so no
//! developer `.env` is read), output captured.

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_zoom-sso-revoker");

/// A command for the binary with exactly `vars` as its environment.
pub fn command(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env_clear().stdin(Stdio::null());
    for (k, v) in vars {
        c.env(k, v);
    }
    c
}

/// Runs to completion (async-friendly: the blocking wait happens off the runtime).
pub async fn run(dir: &Path, args: &[&str], vars: &[(String, String)]) -> Output {
    let mut c = command(dir, args, vars);
    tokio::task::spawn_blocking(move || c.output().expect("run the binary")).await.unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs with `--json` and parses stdout.
pub async fn run_json(dir: &Path, args: &[&str], vars: &[(String, String)]) -> (Output, serde_json::Value) {
    let mut a = vec!["--json"];
    a.extend_from_slice(args);
    let o = run(dir, &a, vars).await;
    let v = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}\nstderr: {}", stdout(&o), stderr(&o)));
    (o, v)
}
