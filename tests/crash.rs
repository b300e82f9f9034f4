//! Crash safety (SPEC §2.5, §10): the real binary, killed with SIGKILL, loses nothing it
//! acknowledged. The service runs as a subprocess (`serve`, configured by environment variables
//! like an operator would); the simulated Zoom runs in this test process. A sender that got no
//! 2xx retries, as every IdP does; a person whose webhook got a 2xx must end up revoked at Zoom.
//!
//! Random points are drawn from a seed printed at the start; `CRASH_SEED=N` replays a run.

mod common;

use common::{hr_event, okta_batch, okta_event};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use zoom_sso_revoker::config::Config;
use zoom_sso_revoker::sim::SimZoom;
use zoom_sso_revoker::store::{self, JobState};

/// The service binary as a child process.
struct Service {
    /// Shared so a sender task can kill the process at an exact point of the burst.
    child: Arc<Mutex<Child>>,
    base_url: String,
}

impl Service {
    /// Starts `serve` with exactly `vars` (nothing inherited, no `.env`: the working directory is
    /// the test's temporary one) and waits for its "listening" line to learn the port.
    fn start(vars: &[(String, String)], dir: &std::path::Path) -> Service {
        let mut child = Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"))
            .arg("serve")
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the service binary");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        // Keeps draining the log so the child never blocks on a full pipe.
        std::thread::spawn(move || {
            let echo = std::env::var_os("TEST_LOG").is_some();
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[service] {line}");
                }
                if !sent && line.contains("listening") {
                    let addr = strip_ansi(&line)
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr=").map(str::to_string))
                        .expect("addr= in the listening line");
                    let _ = tx.send(addr);
                    sent = true;
                }
            }
        });
        let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
            let status = child.try_wait().ok().flatten();
            panic!("service did not start listening (exit status {status:?}); run with TEST_LOG=1 to see its log")
        });
        Service { child: Arc::new(Mutex::new(child)), base_url: format!("http://{addr}") }
    }

    /// SIGKILL: no shutdown code runs.
    fn kill(self) {
        sigkill(&self.child);
    }
}

fn sigkill(child: &Mutex<Child>) {
    let mut c = child.lock().unwrap();
    let _ = c.kill();
    c.wait().expect("reap");
}

impl Drop for Service {
    fn drop(&mut self) {
        sigkill(&self.child);
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn seed() -> u64 {
    let seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random);
    eprintln!("CRASH_SEED={seed}");
    seed
}

/// Settings for the child: the shared test settings plus a short lease (which must exceed twice
/// the Zoom timeout) so a killed process's claimed jobs are taken over quickly.
fn crash_vars(zoom: &SimZoom, db_url: &str) -> Vec<(String, String)> {
    let mut vars = common::base_vars(zoom, db_url);
    common::set(&mut vars, "ZOOM_TIMEOUT_SECS", "1");
    common::set(&mut vars, "JOB_LEASE_SECS", "3");
    vars
}

/// One person's webhook, signed as its source would sign it. Half come from Okta, half from the
/// generic HMAC source.
fn signed_request(config: &Config, i: usize, email: &str) -> (String, Vec<u8>, Vec<(String, String)>) {
    let (source, body) = if i % 2 == 0 {
        ("okta", okta_batch(vec![okta_event("user.lifecycle.deactivate", "SUCCESS", email)]))
    } else {
        ("hr", hr_event(&format!("evt-{i}"), email))
    };
    let bytes = serde_json::to_vec(&body).unwrap();
    let headers = config
        .source(source)
        .unwrap()
        .auth
        .sign(&bytes, SystemTime::now(), &uuid::Uuid::now_v7().to_string())
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    (source.to_string(), bytes, headers)
}

async fn post(http: &reqwest::Client, base: &str, req: &(String, Vec<u8>, Vec<(String, String)>)) -> bool {
    let mut b = http.post(format!("{base}/webhooks/{}", req.0)).header("content-type", "application/json");
    for (k, v) in &req.2 {
        b = b.header(k.as_str(), v.as_str());
    }
    match b.body(req.1.clone()).timeout(Duration::from_secs(10)).send().await {
        Ok(r) if r.status().is_success() => {
            let v: Value = r.json().await.unwrap_or_default();
            v["accepted"].as_u64().unwrap_or(0) + v["duplicates"].as_u64().unwrap_or(0) >= 1
        }
        _ => false,
    }
}

/// Polls until `done`, failing with `what` at the deadline.
async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_a_burst_loses_no_acknowledged_event() {
    let mut rng = StdRng::seed_from_u64(seed());
    let zoom = SimZoom::start().await.unwrap();
    // Calls take a moment, so some are in flight at each kill.
    zoom.set_latency(Duration::from_millis(30));
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("crash.db").display());
    let vars = crash_vars(&zoom, &db_url);
    let config = common::config_from(&vars);
    let http = reqwest::Client::new();

    let people: Vec<String> = (0..240).map(|i| format!("person{i}@corp.example")).collect();
    let acked: Arc<Mutex<BTreeSet<usize>>> = Arc::default();
    const KILLS: usize = 4;
    const SENDERS: usize = 8;
    for round in 0..=KILLS {
        let service = Service::start(&vars, dir.path());
        // Unacknowledged webhooks are sent again (the IdP retries), then this round's new ones.
        let unacked: Vec<usize> = {
            let a = acked.lock().unwrap();
            let upto = if round == KILLS { people.len() } else { people.len() * (round + 1) / (KILLS + 1) };
            (0..upto).filter(|i| !a.contains(i)).collect()
        };
        let acked_this_round = Arc::new(AtomicUsize::new(0));
        let next = Arc::new(AtomicUsize::new(0));
        let work: Arc<Vec<_>> =
            Arc::new(unacked.iter().map(|&i| (i, signed_request(&config, i, &people[i]))).collect());
        // Killed right after a random number of acknowledgements, i.e. at a random point of the
        // burst, with other requests (and Zoom calls) still in flight. Early enough that more
        // requests remain than there are senders, so the burst is never over at the kill.
        let kill_after = if round < KILLS { rng.random_range(1..=(work.len() * 3 / 4).max(1)) } else { usize::MAX };
        let in_flight_at_kill = Arc::new(AtomicUsize::new(0));
        let mut senders = Vec::new();
        for _ in 0..SENDERS {
            let (http, base, reqs, next, acked, count, child, zoom, in_flight) = (
                http.clone(),
                service.base_url.clone(),
                work.clone(),
                next.clone(),
                acked.clone(),
                acked_this_round.clone(),
                service.child.clone(),
                zoom.clone(),
                in_flight_at_kill.clone(),
            );
            senders.push(tokio::spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some((i, req)) = reqs.get(k) else { break };
                    if !post(&http, &base, req).await {
                        break; // the process is gone; this one is retried next round
                    }
                    acked.lock().unwrap().insert(*i);
                    if count.fetch_add(1, Ordering::SeqCst) + 1 == kill_after {
                        in_flight.store(zoom.in_flight_calls() as usize, Ordering::SeqCst);
                        sigkill(&child);
                    }
                }
            }));
        }
        if round < KILLS {
            for s in senders {
                s.await.unwrap();
            }
            let sent = acked_this_round.load(Ordering::SeqCst);
            assert!(sent >= kill_after, "the kill came after {kill_after} acknowledgements");
            assert!(sent < work.len(), "round {round}: the kill landed mid-burst ({sent}/{})", work.len());
            eprintln!(
                "round {round}: killed after acknowledgement {kill_after}; {sent}/{} acknowledged, {} Zoom calls in flight",
                work.len(),
                in_flight_at_kill.load(Ordering::SeqCst)
            );
            service.kill();
        } else {
            for s in senders {
                s.await.unwrap();
            }
            let acked_all = acked.lock().unwrap().clone();
            assert_eq!(acked_all.len(), people.len(), "the final round acknowledges everyone");
            wait_until("every acknowledged person revoked at Zoom", Duration::from_secs(60), || {
                let revoked: BTreeSet<String> = zoom.revoked().into_iter().collect();
                acked_all.iter().all(|&i| revoked.contains(&people[i]))
            })
            .await;
            // The durable record agrees. A job whose call a killed process made (and Zoom
            // answered) but never recorded is finished by this process once its lease expires.
            let store = store::connect(&db_url).await.unwrap();
            let deadline = Instant::now() + Duration::from_secs(30);
            for p in &people {
                loop {
                    let jobs = store.jobs_for_email(p).await.unwrap();
                    assert!(!jobs.is_empty(), "{p} has no job");
                    if jobs.iter().all(|j| JobState::parse(&j.state).is_some_and(JobState::is_terminal)) {
                        let states: Vec<_> = jobs.iter().map(|j| j.state.as_str()).collect();
                        assert!(states.iter().all(|s| *s == "revoked"), "{p}: {states:?}");
                        break;
                    }
                    assert!(Instant::now() < deadline, "{p}: jobs not finished: {jobs:?}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            let calls = zoom.calls().len();
            eprintln!("{} people, {calls} Zoom calls ({} duplicates after kills)", people.len(), calls - people.len());
            service.kill();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_zoom_calls_in_flight_completes_after_restart() {
    let zoom = SimZoom::start().await.unwrap();
    // Slow but within the 1 s client timeout: the calls are in flight when the process dies.
    zoom.set_latency(Duration::from_millis(700));
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite://{}", dir.path().join("inflight.db").display());
    let vars = crash_vars(&zoom, &db_url);
    let config = common::config_from(&vars);
    let http = reqwest::Client::new();
    let people: Vec<String> = (0..12).map(|i| format!("inflight{i}@corp.example")).collect();

    let service = Service::start(&vars, dir.path());
    for (i, p) in people.iter().enumerate() {
        assert!(post(&http, &service.base_url, &signed_request(&config, i, p)).await, "{p} acknowledged");
    }
    wait_until("Zoom calls in flight", Duration::from_secs(10), || zoom.in_flight_calls() >= 6).await;
    let in_flight = zoom.in_flight_calls();
    service.kill();
    let store = store::connect(&db_url).await.unwrap();
    let claimed: Vec<String> = {
        let mut v = Vec::new();
        for p in &people {
            if store.jobs_for_email(p).await.unwrap()[0].state == "in_flight" {
                v.push(p.clone());
            }
        }
        v
    };
    assert!(!claimed.is_empty(), "jobs were in flight at the kill ({in_flight} calls at Zoom)");

    let service = Service::start(&vars, dir.path());
    let deadline = Instant::now() + Duration::from_secs(30);
    for p in &people {
        loop {
            let job = store.jobs_for_email(p).await.unwrap().remove(0);
            if job.state == "revoked" {
                break;
            }
            assert!(Instant::now() < deadline, "{p} not revoked after restart: {job:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for p in &claimed {
        let job = store.jobs_for_email(p).await.unwrap().remove(0);
        // The lease of the killed process expired and the job was claimed again.
        assert!(job.attempts >= 2, "{p}: {job:?}");
        assert!(!zoom.calls_for(p).is_empty(), "{p} reached Zoom");
    }
    eprintln!("{} jobs were in flight at the kill; all revoked after restart", claimed.len());
    service.kill();
}
