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

/// A running `serve` process whose stdout and stderr are collected line by line.
pub struct Served {
    pub child: std::process::Child,
    pub output: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub addr: String,
}

/// Starts `serve` with `vars` (which must set LOG_FORMAT=json and LISTEN_ADDR=127.0.0.1:0) and
/// waits for its "listening" log line to learn the port.
pub async fn spawn_serve(dir: &Path, vars: &[(String, String)]) -> Served {
    use std::io::BufRead;
    let mut c = command(dir, &["serve"], vars);
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn serve");
    let output = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (out, tx) = (output.clone(), tx.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                out.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
    }
    let addr = tokio::task::spawn_blocking(move || {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx.recv_timeout(left).expect("serve printed no 'listening' line in time");
            let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
            if v["fields"]["message"] == "listening" {
                return v["fields"]["addr"].as_str().expect("addr field").to_string();
            }
        }
    })
    .await
    .unwrap();
    Served { child, output, addr: format!("http://{addr}") }
}

impl Served {
    pub fn signal(&self, sig: &str) {
        let ok =
            Command::new("kill").args([format!("-{sig}"), self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -{sig} failed");
    }

    /// Waits up to `timeout` for the process to exit; `None` if it did not.
    pub async fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Let the reader threads drain the pipes.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return Some(s);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    pub fn all_output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
