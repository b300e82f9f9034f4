//! Graceful shutdown of the real process: SIGTERM during a slow Zoom call exits within the
//! grace bound, releases the job, and the next process completes it.

mod common;

use common::bin::{self, spawn_serve};
use common::*;
use std::time::{Duration, Instant};
use zoom_sso_revoker::sim::{Reply, SimZoom};
use zoom_sso_revoker::store;

async fn post_signed(base: &str, vars: &[(String, String)], source: &str, body: &serde_json::Value) -> u16 {
    let config = config_from(vars);
    let bytes = serde_json::to_vec(body).unwrap();
    let mut req = reqwest::Client::new().post(format!("{base}/webhooks/{source}"));
    for (k, v) in config.source(source).unwrap().auth.sign(&bytes, std::time::SystemTime::now(), "delivery-1") {
        req = req.header(k, v);
    }
    req.body(bytes).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn sigterm_during_a_slow_zoom_call_exits_in_time_and_the_job_completes_after_restart() {
    let zoom = SimZoom::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("shutdown.db").display());
    let mut vars = base_vars(&zoom, &db);
    set(&mut vars, "LOG_FORMAT", "json");
    set(&mut vars, "ZOOM_TIMEOUT_SECS", "30");
    set(&mut vars, "JOB_LEASE_SECS", "120");
    set(&mut vars, "SHUTDOWN_GRACE_SECS", "1");
    let email = "slow.zoom@example.com";
    zoom.script(email, [Reply::Slow(Duration::from_secs(6))]);

    let mut first = spawn_serve(dir.path(), &vars).await;
    assert_eq!(post_signed(&first.addr, &vars, "hr", &hr_event("evt-slow", email)).await, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while zoom.in_flight_calls() == 0 {
        assert!(Instant::now() < deadline, "the Zoom call never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let sent = Instant::now();
    first.signal("TERM");
    let status = first.wait_exit(Duration::from_secs(15)).await.expect("process did not exit after SIGTERM");
    let took = sent.elapsed();
    assert!(status.success(), "exit status {status:?}\n{}", first.all_output());
    // Grace of 1 s plus the time to stop the listener and release leases; far below the 6 s call.
    assert!(took < Duration::from_secs(5), "took {took:?} to exit");
    let log = first.all_output();
    assert!(log.contains("releasing the jobs of unfinished Zoom calls"), "{log}");

    // The job was handed back, its abandoned attempt uncounted, due now.
    let s = store::connect(&db).await.unwrap();
    let job = s.jobs_for_email(email).await.unwrap().remove(0);
    assert_eq!((job.state.as_str(), job.attempts), ("pending", 0), "{job:?}");

    let mut second = spawn_serve(dir.path(), &vars).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let j = s.jobs_for_email(email).await.unwrap().remove(0);
        if j.state == "revoked" {
            break j;
        }
        assert!(Instant::now() < deadline, "not revoked after restart: {j:?}\n{}", second.all_output());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(done.id, job.id);
    // No loss, at most one duplicate call (the abandoned one may still have reached Zoom).
    let calls = zoom.calls_for(email);
    assert!((1..=2).contains(&calls.len()) && calls.iter().all(|c| c.status == 204), "{calls:?}");

    // SIGINT (Ctrl-C) stops an idle service too.
    second.signal("INT");
    let status = second.wait_exit(Duration::from_secs(10)).await.expect("no exit after SIGINT");
    assert!(status.success(), "{}", bin::BIN);
}
