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
    let worker = Arc::new(worker::Worker {
        store: store.clone(),
        zoom,
        limiter: Arc::new(zoom::Limiter::new(config.zoom.rate_limit_per_second)),
        retry: config.retry.clone(),
        cfg: config.worker.clone(),
        wake: wake.clone(),
    });
    let worker_task = tokio::spawn(worker.run(shutdown.clone()));
    let app = http::router(http::AppState { config: config.clone(), store, wake });
    tracing::info!(addr = %listener.local_addr()?, sources = config.sources.len(), dry_run = config.dry_run, "listening");
    axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await?;
    shutdown.cancel();
    worker_task.await.context("worker task")?;
    Ok(())
}
