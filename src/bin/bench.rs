//! The benchmark harness (issue 6): in ONE run, on this machine,
//!
//! 1. a bare axum handler (the ceiling for ingest on this box) and the service, each in its own
//!    child process, driven at fixed concurrency with unique, correctly signed webhooks;
//! 2. webhook → Zoom DELETE latency on an idle queue;
//! 3. drain rate against the simulated Zoom enforcing the same ceiling as the service;
//! 4. resident memory of the service idle, under load, and holding the pending jobs of the load.
//!
//! `cargo run --release --bin bench -- [--secs 10] [--connections 64] [--out BENCHMARKS.md]`
//! Add `--database-url postgres://...` (repeatable) to measure more stores than SQLite.

use anyhow::{Context, bail};
use axum::Router;
use axum::routing::post;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use zoom_sso_revoker::config::{Config, ConfigArgs};
use zoom_sso_revoker::providers::{Source, SourceOptions};
use zoom_sso_revoker::sim::SimZoom;

const SECRET: &str = "bench-secret";

fn source_vars() -> Vec<(&'static str, &'static str)> {
    vec![
        ("WEBHOOK_BENCH_PROVIDER", "hmac"),
        ("WEBHOOK_BENCH_SECRET", SECRET),
        ("WEBHOOK_BENCH_EVENT_TYPE_POINTER", "/type"),
        ("WEBHOOK_BENCH_EVENT_TYPES", "user.disabled"),
        ("WEBHOOK_BENCH_EVENT_ID_POINTER", "/id"),
    ]
}

struct Opts {
    secs: u64,
    connections: usize,
    out: Option<String>,
    database_urls: Vec<String>,
    drain_rate: u32,
}

fn parse_opts(args: &[String]) -> anyhow::Result<Opts> {
    let mut o = Opts { secs: 10, connections: 64, out: None, database_urls: vec![], drain_rate: 50 };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--secs" => o.secs = val()?.parse()?,
            "--connections" => o.connections = val()?.parse()?,
            "--out" => o.out = Some(val()?),
            "--database-url" => o.database_urls.push(val()?),
            "--drain-rate" => o.drain_rate = val()?.parse()?,
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Runtime::new()?;
    match args.first().map(String::as_str) {
        // Child modes: each server under test runs in its own process so its memory and CPU are
        // its own.
        Some("child-baseline") => rt.block_on(child_baseline(&args[1])),
        Some("child-service") => rt.block_on(child_service()),
        _ => rt.block_on(parent(parse_opts(&args)?)),
    }
}

/// The reference point: a handler that reads the body and answers like the service, and nothing else.
async fn child_baseline(addr: &str) -> anyhow::Result<()> {
    let app = Router::new().route(
        "/webhooks/{source}",
        post(|_body: axum::body::Bytes| async {
            axum::Json(serde_json::json!({"accepted":1,"duplicates":0,"ignored":0}))
        }),
    );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The service exactly as `serve` runs it, configured from the environment.
async fn child_service() -> anyhow::Result<()> {
    let env: std::collections::HashMap<String, String> = std::env::vars().collect();
    let args = ConfigArgs::from_vars(
        &env.iter()
            .filter(|(k, _)| ConfigArgs::env_names().contains(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>(),
    )?;
    let config = Config::from_args(&args, &env)?;
    let listener = tokio::net::TcpListener::bind(config.listen_addr).await?;
    zoom_sso_revoker::run(config, listener, tokio_util::sync::CancellationToken::new()).await
}

struct Child {
    proc: tokio::process::Child,
    pid: u32,
    url: String,
}

impl Child {
    fn rss_kb(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
    async fn kill(mut self) {
        let _ = self.proc.kill().await;
    }
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

async fn wait_up(url: &str, path: &str) -> anyhow::Result<()> {
    let c = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if c.get(format!("{url}{path}")).send().await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("{url} did not come up")
}

async fn spawn_child(args: &[&str], env: &[(String, String)], probe: &str) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    let addr =
        env.iter().find(|(k, _)| k == "LISTEN_ADDR").map(|(_, v)| v.clone()).unwrap_or_else(|| args[1].to_string());
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(args).envs(env.iter().cloned()).stdout(Stdio::null()).stderr(Stdio::null()).kill_on_drop(true);
    let proc = cmd.spawn()?;
    let pid = proc.id().context("child pid")?;
    let url = format!("http://{addr}");
    wait_up(&url, probe).await?;
    Ok(Child { proc, pid, url })
}

#[derive(Debug, Clone, Default)]
struct Load {
    requests: u64,
    errors: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
}

/// Drives `url` with `connections` concurrent keep-alive clients for `secs`, each request a new
/// event id and email, correctly signed.
async fn drive(url: &str, connections: usize, secs: u64, run_id: &str) -> anyhow::Result<Load> {
    let source = Arc::new(Source::from_options(&SourceOptions::new(
        "bench",
        &source_vars()[..].iter().map(|(k, v)| (k.trim_start_matches("WEBHOOK_BENCH_"), *v)).collect::<Vec<_>>(),
    ))?);
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let stop = Arc::new(AtomicBool::new(false));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let started = Instant::now();
    for _ in 0..connections {
        let (client, stop, counter, source) = (client.clone(), stop.clone(), counter.clone(), source.clone());
        let url = format!("{url}/webhooks/bench");
        let run_id = run_id.to_string();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(100_000);
            let mut errors = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let body = format!(
                    r#"{{"id":"{run_id}-{n}","type":"user.disabled","email":"person{n}.{run_id}@example.com"}}"#
                );
                let mut req = client.post(&url).header("content-type", "application/json");
                for (k, v) in source.auth.sign(body.as_bytes(), SystemTime::now(), "") {
                    req = req.header(k, v);
                }
                let t = Instant::now();
                match req.body(body).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_micros() as u32);
                    }
                    _ => errors += 1,
                }
            }
            (lat, errors)
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0) as f64
            / 1000.0
    };
    Ok(Load {
        requests: all.len() as u64,
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        max_ms: all.last().copied().unwrap_or(0) as f64 / 1000.0,
    })
}

fn service_env(db: &str, zoom: &SimZoom, addr: &str, rate: u32) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = [
        ("LISTEN_ADDR", addr.to_string()),
        ("DATABASE_URL", db.to_string()),
        ("ZOOM_RATE_LIMIT_PER_SECOND", rate.to_string()),
        ("WEBHOOK_SOURCES", "bench".to_string()),
        ("RUST_LOG", "warn".to_string()),
    ]
    .into_iter()
    .chain(zoom.service_vars())
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    v.extend(source_vars().into_iter().map(|(k, v)| (k.to_string(), v.to_string())));
    v
}

struct StoreResult {
    name: String,
    load: Load,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    drain_rate: f64,
    drain_429: u64,
    rss_idle_mb: f64,
    rss_peak_mb: f64,
    rss_pending_mb: f64,
    pending_jobs: u64,
}

async fn bench_store(db: &str, name: &str, o: &Opts) -> anyhow::Result<StoreResult> {
    // Ingest, memory: the default ceiling (10/s) keeps nearly every ingested job pending.
    let zoom = SimZoom::start().await?;
    let addr = free_addr();
    let svc = spawn_child(&["child-service"], &service_env(db, &zoom, &addr, 10), "/healthz").await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_idle = svc.rss_kb("VmRSS:");
    eprintln!("[{name}] ingest: {} connections for {} s", o.connections, o.secs);
    let load = drive(&svc.url, o.connections, o.secs, &format!("{name}-ingest")).await?;
    eprintln!(
        "[{name}] {:.0} rps, p50 {:.2} ms, p99 {:.2} ms, {} errors",
        load.rps, load.p50_ms, load.p99_ms, load.errors
    );
    let rss_peak = svc.rss_kb("VmHWM:");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_pending = svc.rss_kb("VmRSS:");
    svc.kill().await;

    // Latency and drain: a fresh store so the queue is empty.
    let zoom = SimZoom::start().await?;
    zoom.rate_limit(o.drain_rate);
    let db2 = fresh_db(db, name, "drain").await?;
    let addr = free_addr();
    let svc = spawn_child(&["child-service"], &service_env(&db2, &zoom, &addr, o.drain_rate), "/healthz").await?;
    let source = Source::from_options(&SourceOptions::new(
        "bench",
        &source_vars().iter().map(|(k, v)| (k.trim_start_matches("WEBHOOK_BENCH_"), *v)).collect::<Vec<_>>(),
    ))?;
    let client = reqwest::Client::new();
    let send = |n: String| {
        let body = format!(r#"{{"id":"{n}","type":"user.disabled","email":"{n}@example.com"}}"#);
        let mut req = client.post(format!("{}/webhooks/bench", svc.url)).header("content-type", "application/json");
        for (k, v) in source.auth.sign(body.as_bytes(), SystemTime::now(), "") {
            req = req.header(k, v);
        }
        req.body(body).send()
    };
    eprintln!("[{name}] webhook -> Zoom latency, idle queue");
    let mut lat = Vec::new();
    for i in 0..200 {
        let who = format!("lat{i}");
        let t = Instant::now();
        let r = send(who.clone()).await?;
        if !r.status().is_success() {
            bail!("latency probe refused: {}", r.status());
        }
        loop {
            if let Some(c) = zoom.calls_for(&format!("{who}@example.com")).first() {
                lat.push(c.at.duration_since(t).as_micros() as f64 / 1000.0);
                break;
            }
            if t.elapsed() > Duration::from_secs(5) {
                bail!("no Zoom call within 5 s");
            }
            tokio::task::yield_now().await;
        }
        // Stay under the ceiling so the limiter never delays a probe.
        tokio::time::sleep(Duration::from_millis(1000 / o.drain_rate as u64 + 5)).await;
    }
    lat.sort_by(f64::total_cmp);
    let before = zoom.calls().len();
    let n_drain = (o.drain_rate as usize) * 20;
    eprintln!("[{name}] drain: {n_drain} jobs at a ceiling of {}/s", o.drain_rate);
    for i in 0..n_drain {
        send(format!("drain{i}")).await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while zoom.revoked().len() < before + n_drain && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls: Vec<_> = zoom.calls().into_iter().skip(before).collect();
    let ok: Vec<_> = calls.iter().filter(|c| c.status == 204).collect();
    let drain_rate = if ok.len() > 1 {
        (ok.len() - 1) as f64 / ok.last().unwrap().at.duration_since(ok[0].at).as_secs_f64()
    } else {
        0.0
    };
    let drain_429 = calls.iter().filter(|c| c.status == 429).count() as u64;
    svc.kill().await;
    Ok(StoreResult {
        name: name.to_string(),
        load: load.clone(),
        latency_p50_ms: lat[lat.len() / 2],
        latency_p99_ms: lat[(lat.len() * 99 / 100).min(lat.len() - 1)],
        drain_rate,
        drain_429,
        rss_idle_mb: rss_idle as f64 / 1024.0,
        rss_peak_mb: rss_peak as f64 / 1024.0,
        rss_pending_mb: rss_pending as f64 / 1024.0,
        pending_jobs: load.requests,
    })
}

/// A second, empty database next to `db`.
async fn fresh_db(db: &str, name: &str, suffix: &str) -> anyhow::Result<String> {
    if let Some(path) = db.strip_prefix("sqlite://") {
        Ok(format!("sqlite://{path}.{suffix}"))
    } else {
        // PostgreSQL: a new database on the same server.
        let (base, _) = db.rsplit_once('/').context("postgres URL without a database")?;
        let dbname = format!("bench_{name}_{suffix}_{}", std::process::id()).replace('-', "_");
        let admin = sqlx::PgPool::connect(db).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {dbname}"))).execute(&admin).await?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {dbname}"))).execute(&admin).await?;
        Ok(format!("{base}/{dbname}"))
    }
}

async fn parent(o: Opts) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    eprintln!("[baseline] bare axum: {} connections for {} s", o.connections, o.secs);
    let addr = free_addr();
    let base = spawn_child(&["child-baseline", &addr], &[], "/").await?;
    let baseline = drive(&base.url, o.connections, o.secs, "baseline").await?;
    eprintln!("[baseline] {:.0} rps, p50 {:.2} ms, p99 {:.2} ms", baseline.rps, baseline.p50_ms, baseline.p99_ms);
    let base_rss = base.rss_kb("VmHWM:");
    base.kill().await;

    let mut results = Vec::new();
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    results.push(bench_store(&sqlite, "sqlite", &o).await?);
    for (i, url) in o.database_urls.iter().enumerate() {
        let db = fresh_db(url, "pg", &format!("ingest{i}")).await?;
        results.push(
            bench_store(&db, &format!("postgres{}", if i == 0 { String::new() } else { i.to_string() }), &o).await?,
        );
    }

    let mut t = String::new();
    t.push_str(&format!(
        "| target | requests | errors | rps | vs baseline | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|---|---|---|\n| bare axum | {} | {} | {:.0} | 1.00 | {:.2} | {:.2} | {:.1} |\n",
        baseline.requests, baseline.errors, baseline.rps, baseline.p50_ms, baseline.p99_ms, baseline.max_ms
    ));
    for r in &results {
        t.push_str(&format!(
            "| service ({}) | {} | {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.1} |\n",
            r.name,
            r.load.requests,
            r.load.errors,
            r.load.rps,
            r.load.rps / baseline.rps,
            r.load.p50_ms,
            r.load.p99_ms,
            r.load.max_ms
        ));
    }
    t.push_str("\n| store | webhook→DELETE p50 ms | p99 ms | drain /s (ceiling) | 429s | RSS idle MB | RSS peak MB | RSS with N pending MB |\n|---|---|---|---|---|---|---|---|\n");
    for r in &results {
        t.push_str(&format!(
            "| {} | {:.2} | {:.2} | {:.1} ({}) = {:.1} % | {} | {:.1} | {:.1} | {:.1} (N = {}) |\n",
            r.name,
            r.latency_p50_ms,
            r.latency_p99_ms,
            r.drain_rate,
            o.drain_rate,
            100.0 * r.drain_rate / o.drain_rate as f64,
            r.drain_429,
            r.rss_idle_mb,
            r.rss_peak_mb,
            r.rss_pending_mb,
            r.pending_jobs
        ));
    }
    t.push_str(&format!(
        "\nBare axum peak RSS: {:.1} MB. Whole run: {:.0} s.\n",
        base_rss as f64 / 1024.0,
        started.elapsed().as_secs_f64()
    ));
    println!("{t}");
    // The PostgreSQL databases this run made (its children are gone, so nothing holds them).
    for url in &o.database_urls {
        let admin = sqlx::PgPool::connect(url).await?;
        let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("bench\\_%\\_{}", std::process::id()))
            .fetch_all(&admin)
            .await?;
        for name in names {
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&admin)
                .await?;
        }
    }
    if let Some(out) = o.out {
        std::fs::write(&out, &t).with_context(|| format!("writing {out}"))?;
        eprintln!("table written to {out}");
    }
    Ok(())
}
