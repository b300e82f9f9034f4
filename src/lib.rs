//! zoom-sso-revoker: verified identity-provider deprovisioning webhooks in, Zoom SSO tokens
//! revoked out — durably, with retry, rate limiting and an audit trail.
//!
//! `main.rs` is a thin CLI; everything it runs is here, so tests start the same service with
//! [`run`] on a listener they bound themselves.
#![forbid(unsafe_code)]

pub mod config;
pub mod demo;
pub mod email;
pub mod http;
pub mod ingest;
pub mod ops;
pub mod providers;
pub mod retention;
pub mod retry;
pub mod sign;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod worker;
pub mod zoom;

use anyhow::Context;
use config::Config;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Runs the service (HTTP server and worker) on `listener` until `shutdown` is cancelled.
pub async fn run(config: Config, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url).await.context("opening the store")?;
    run_with_store(config, store, listener, shutdown).await
}

/// As [`run`], with a store opened by the caller.
pub async fn run_with_store(
    config: Config,
    store: store::DynStore,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let wake = Arc::new(Notify::new());
    let zoom = if config.dry_run {
        None
    } else {
        Some(Arc::new(zoom::ZoomClient::new(&config.zoom).context("building the Zoom HTTP client")?))
    };
    // With several replicas (PostgreSQL) the ceiling and a 429's pause are shared through the
    // database; on SQLite the process is alone and keeps them in memory.
    let limiter = match store.call_schedule() {
        Some(schedule) => zoom::Limiter::shared(config.zoom.rate_limit_per_second, schedule),
        None => zoom::Limiter::new(config.zoom.rate_limit_per_second),
    };
    // Jobs made pending by other replicas wake this worker too; registered before the worker's
    // first claim, so nothing enqueued after start-up waits for a poll.
    store.listen(wake.clone(), shutdown.clone()).await.context("listening for job wake-ups")?;
    let worker = Arc::new(worker::Worker {
        store: store.clone(),
        zoom,
        limiter: Arc::new(limiter),
        retry: config.retry.clone(),
        cfg: config.worker.clone(),
        wake: wake.clone(),
    });
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    telemetry::metrics::handle();
    let retention_task = tokio::spawn(retention::run(store.clone(), config.ops.retention, shutdown.clone()));
    let state = http::AppState { config: config.clone(), store, wake };
    let metrics_task = match config.ops.metrics_addr {
        Some(addr) => {
            let l = TcpListener::bind(addr).await.with_context(|| format!("binding METRICS_ADDR {addr}"))?;
            tracing::info!(addr = %l.local_addr()?, "metrics listening");
            let app = http::metrics_router(state.clone());
            Some(tokio::spawn(
                axum::serve(l, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).into_future(),
            ))
        }
        None => None,
    };
    let app = http::router(state);
    tracing::info!(
        addr = %listener.local_addr()?,
        sources = config.sources.len(),
        dry_run = config.dry_run,
        admin_api = config.ops.admin_token.is_some(),
        "listening"
    );
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await;
    // However serving ended, the worker and the other tasks stop too.
    shutdown.cancel();
    worker_task.await.context("worker task")?;
    retention_task.await.context("retention task")?;
    if let Some(t) = metrics_task {
        t.await.context("metrics listener")??;
    }
    served?;
    tracing::info!("stopped");
    Ok(())
}
