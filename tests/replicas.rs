//! Several replicas of the real binary on one PostgreSQL database (SPEC §7), against the
//! simulated Zoom in this process: a replica killed mid-burst loses nothing it acknowledged, no
//! person is called twice at once, the Zoom ceiling holds for the sum of the replicas, and a
//! replica frozen while it holds a lease cannot overwrite the result of the one that took over.
//! Skipped (with a line saying so) when `TEST_DATABASE_URL` is not set; `.ci/run` sets it.

mod common;

use common::backends::{self, Backend};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};

use std::time::{Duration, Instant, SystemTime};
use zoom_sso_revoker::sim::{Reply, SimZoom};
use zoom_sso_revoker::store::{self, JobState};

/// One `zoom-sso-revoker serve` process.
struct Replica {
    child: Child,
    base_url: String,
}

impl Replica {
    /// Starts the binary with exactly `vars` (plus its own port) and waits until it is ready.
    async fn start(vars: &[(String, String)]) -> Replica {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let logs = std::env::var_os("TEST_LOG").is_some();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"));
        cmd.arg("serve")
            .env_clear()
            .envs(vars.iter().filter(|(k, _)| k != "LISTEN_ADDR").map(|(k, v)| (k, v)))
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", if logs { "info" } else { "error" })
            // No .env from the working directory: the test's settings are the whole story.
            .current_dir(std::env::temp_dir())
            .stdout(if logs { Stdio::inherit() } else { Stdio::null() })
            .stderr(if logs { Stdio::inherit() } else { Stdio::null() });
        let child = cmd.spawn().expect("start the zoom-sso-revoker binary");
        let replica = Replica { child, base_url: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", replica.base_url)).send().await
                && r.status().is_success()
            {
                return replica;
            }
            assert!(Instant::now() < deadline, "replica on port {port} not ready within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(ok.success(), "kill -{sig} {}", self.child.id());
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        // SIGKILL also ends a stopped process.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings shared by the replicas of one test.
fn replica_vars(zoom: &SimZoom, db_url: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut vars = common::base_vars(zoom, db_url);
    for (k, v) in extra {
        common::set(&mut vars, k, v);
    }
    vars
}

/// Posts one signed `hr` event to `base_url`; true when it was acknowledged (200).
async fn post_event(
    http: &reqwest::Client,
    source: &zoom_sso_revoker::providers::Source,
    base_url: &str,
    id: &str,
    email: &str,
) -> bool {
    let body = serde_json::to_vec(&common::hr_event(id, email)).unwrap();
    let mut req = http.post(format!("{base_url}/webhooks/hr")).header("content-type", "application/json");
    for (k, v) in source.auth.sign(&body, SystemTime::now(), id) {
        req = req.header(k, v);
    }
    matches!(req.body(body).timeout(Duration::from_secs(10)).send().await, Ok(r) if r.status() == 200)
}

const CEILING: usize = 20;
/// One call of burst (the limiter spaces calls evenly), plus 100 ms worth of calls (2 at 20/s)
/// for scheduling jitter between a replica's reserved slot and its request reaching Zoom on a
/// busy test machine. A per-replica ceiling would show up to three times the ceiling.
const BURST_ALLOWANCE: usize = 3;

/// The replica tests start several processes each; one at a time keeps the machine's load, and
/// so the scheduling jitter above, small.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_share_the_work_survive_a_kill_and_keep_the_ceiling() {
    let _serial = ONE_AT_A_TIME.lock().await;
    backends::run(
        Backend::Postgres,
        "three_replicas_share_the_work_survive_a_kill_and_keep_the_ceiling",
        three_replicas_share_the_work_survive_a_kill_and_keep_the_ceiling_on,
    )
    .await;
}

async fn three_replicas_share_the_work_survive_a_kill_and_keep_the_ceiling_on(db_url: String) {
    let zoom = SimZoom::start().await.unwrap();
    zoom.set_latency(Duration::from_millis(30));
    let ceiling = CEILING.to_string();
    let vars = replica_vars(
        &zoom,
        &db_url,
        &[("ZOOM_RATE_LIMIT_PER_SECOND", &ceiling), ("ZOOM_TIMEOUT_SECS", "1"), ("JOB_LEASE_SECS", "3")],
    );
    let source = common::config_from(&vars).source("hr").unwrap().clone();
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(Replica::start(&vars).await);
    }
    let urls: Vec<String> = replicas.iter().map(|r| r.base_url.clone()).collect();

    // 120 events for 90 people (some people twice, on different replicas), spread round-robin;
    // replica 1 is killed half-way through the burst.
    let http = reqwest::Client::new();
    // (email, acknowledged) per event.
    let mut sends: Vec<tokio::task::JoinHandle<(String, bool)>> = Vec::new();
    let mut results = Vec::new();
    for i in 0..120 {
        if i == 60 {
            // Mid-burst: most of the first half is stored and being worked on by all three
            // replicas (so replica 1 holds leases), the rest of it is still on the wire.
            for s in sends.drain(..45) {
                results.push(s.await.unwrap());
            }
            replicas[1].child.kill().unwrap();
        }
        let (http, source, url) = (http.clone(), source.clone(), urls[i % 3].clone());
        let email = format!("p{}@example.com", i % 90);
        sends.push(tokio::spawn(async move {
            let acked = post_event(&http, &source, &url, &format!("evt-{i}"), &email).await;
            (email, acked)
        }));
        if i % 10 == 9 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let mut acked = HashSet::new();
    for s in sends {
        results.push(s.await.unwrap());
    }
    for (email, ok) in results {
        if ok {
            acked.insert(email);
        }
    }
    assert!(acked.len() >= 60, "most of the burst reached the live replicas: {} acknowledged", acked.len());

    // Every acknowledged person is revoked, including those whose job the killed replica held.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let revoked: HashSet<String> = zoom.revoked().into_iter().collect();
        let missing: Vec<_> = acked.iter().filter(|e| !revoked.contains(*e)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "not revoked within 60 s: {missing:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(zoom.overlaps(), 0, "two calls for one person overlapped");
    // The killed replica held leases: claims that never recorded an attempt, whose jobs another
    // replica claimed again once the lease expired.
    let store = store::connect(&db_url).await.unwrap();
    let mut taken_over = 0;
    for email in &acked {
        for job in store.jobs_for_email(email).await.unwrap() {
            if (store.attempts(&job.id).await.unwrap().len() as i64) < job.attempts {
                taken_over += 1;
            }
        }
    }
    assert!(taken_over > 0, "no job was taken over from the killed replica");

    // Calls per second summed over the replicas: no 1-second window holds more than the ceiling.
    let mut at: Vec<Instant> = zoom.calls().iter().map(|c| c.at).collect();
    at.sort();
    let busiest =
        (0..at.len()).map(|i| at[i..].iter().take_while(|t| **t - at[i] < Duration::from_secs(1)).count()).max();
    let busiest = busiest.unwrap_or(0);
    println!(
        "{} acknowledged, {taken_over} taken over, {} calls, busiest second: {busiest} (ceiling {CEILING})",
        acked.len(),
        at.len()
    );
    assert!(at.len() >= acked.len());
    assert!(busiest <= CEILING + BURST_ALLOWANCE, "{busiest} calls in one second across replicas; ceiling {CEILING}");

    drop(replicas);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_lease_holder_is_taken_over_and_cannot_overwrite_the_result() {
    let _serial = ONE_AT_A_TIME.lock().await;
    backends::run(
        Backend::Postgres,
        "a_frozen_lease_holder_is_taken_over_and_cannot_overwrite_the_result",
        a_frozen_lease_holder_is_taken_over_and_cannot_overwrite_the_result_on,
    )
    .await;
}

async fn a_frozen_lease_holder_is_taken_over_and_cannot_overwrite_the_result_on(db_url: String) {
    let zoom = SimZoom::start().await.unwrap();
    let email = "frozen@example.com";
    // Both calls are slow: the first replica is frozen during its call, and the second one is
    // still in its call when the first one resumes with a result for a lease it no longer holds.
    zoom.script(email, [Reply::Slow(Duration::from_millis(1500)), Reply::Slow(Duration::from_millis(2500))]);
    let vars = replica_vars(&zoom, &db_url, &[("ZOOM_TIMEOUT_SECS", "3"), ("JOB_LEASE_SECS", "7")]);
    let source = common::config_from(&vars).source("hr").unwrap().clone();
    let store = store::connect(&db_url).await.unwrap();

    let a = Replica::start(&vars).await;
    assert!(post_event(&reqwest::Client::new(), &source, &a.base_url, "evt-frozen", email).await);
    wait_for(Duration::from_secs(10), || async { (zoom.in_flight(email) == 1).then_some(()) }).await;
    a.signal("STOP");
    let job = store.jobs_for_email(email).await.unwrap().remove(0);
    assert_eq!((job.state.as_str(), job.attempts), ("in_flight", 1));

    // Another replica takes the job over once the lease has expired.
    let b = Replica::start(&vars).await;
    wait_for(Duration::from_secs(20), || async {
        let j = store.job(&job.id).await.unwrap().unwrap();
        (j.attempts == 2 && zoom.in_flight(email) == 1).then_some(())
    })
    .await;

    // The frozen replica resumes while the new owner is still calling Zoom: its late result is
    // recorded in the audit trail but does not touch the job.
    a.signal("CONT");
    wait_for(Duration::from_secs(10), || async { (store.attempts(&job.id).await.unwrap().len() == 1).then_some(()) })
        .await;
    let during = store.job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (during.state.as_str(), during.attempts, during.finished_at),
        ("in_flight", 2, None),
        "the late result overwrote the job"
    );

    // The new owner's result is the one that stands.
    let settled = wait_for(Duration::from_secs(10), || async {
        store.job(&job.id).await.unwrap().filter(|j| j.state == JobState::Revoked.as_str())
    })
    .await;
    assert_eq!((settled.attempts, settled.last_status), (2, Some(204)));
    assert_eq!(store.attempts(&job.id).await.unwrap().len(), 2);
    assert_eq!(store.jobs_for_email(email).await.unwrap().len(), 1);

    drop((a, b));
}

/// Polls `probe` until it yields a value.
async fn wait_for<T, F, Fut>(timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "condition not met within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
