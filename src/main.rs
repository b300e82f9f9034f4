//! The `zoom-sso-revoker` binary: parses the command line, starts logging, calls the library.
#![forbid(unsafe_code)]

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::collections::HashMap;
use std::process::ExitCode;
use tokio_util::sync::CancellationToken;
use zoom_sso_revoker::config::{Config, ConfigArgs};
use zoom_sso_revoker::{store, telemetry};

/// Revokes a person's Zoom SSO token when an identity provider reports them disabled.
///
/// Every flag is also an environment variable (shown in brackets); a `.env` file in the working
/// directory is read if present. Webhook sources are configured with WEBHOOK_SOURCES and
/// WEBHOOK_<NAME>_* variables (see README.md and .env.example).
#[derive(Parser)]
#[command(name = "zoom-sso-revoker", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service: webhook receiver and Zoom worker.
    Serve {
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Run the whole pipeline once against a built-in simulated Zoom and print each outcome.
    Demo,
    /// Apply database migrations and exit.
    Migrate {
        /// `sqlite://PATH` or `postgres://...`.
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://zoom-sso-revoker.db")]
        database_url: String,
    },
    /// Print the headers (and a ready curl line) that `serve` accepts for a body, for one source.
    ///
    /// Reads the same settings as `serve` (env and .env); Zoom credentials are not needed. The
    /// body comes from --file or stdin.
    Sign {
        /// The source name, as listed in WEBHOOK_SOURCES.
        #[arg(long)]
        source: String,
        /// File holding the exact body to sign (default: read stdin).
        #[arg(long)]
        file: Option<std::path::PathBuf>,
        // Boxed: the settings are large and this variant would otherwise size the whole enum.
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
    /// Exit 0 when the service at URL answers /healthz (for container health checks).
    Healthcheck {
        /// Base URL of the service.
        #[arg(default_value = "http://127.0.0.1:8080")]
        url: String,
    },
}

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth saying.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: .env: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::Serve { config } => {
            let env: HashMap<String, String> = std::env::vars().collect();
            let config = match Config::from_args(&config, &env) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("configuration error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            telemetry::init(config.log_format);
            let listener = tokio::net::TcpListener::bind(config.listen_addr)
                .await
                .with_context(|| format!("binding LISTEN_ADDR {}", config.listen_addr))?;
            let shutdown = CancellationToken::new();
            tokio::spawn(shutdown_on_signal(shutdown.clone()));
            zoom_sso_revoker::run(config, listener, shutdown).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo => {
            telemetry::init_with_default(zoom_sso_revoker::config::LogFormat::Text, "warn");
            zoom_sso_revoker::demo::run().await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sign { source, file, config } => {
            let env: HashMap<String, String> = std::env::vars().collect();
            let src = match zoom_sso_revoker::sign::source(&config, &env, &source) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("configuration error: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let (body, from) = match &file {
                Some(path) => (
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
                    Some(path.display().to_string()),
                ),
                None => {
                    let mut buf = Vec::new();
                    std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                        .context("reading the body from stdin")?;
                    (buf, None)
                }
            };
            let from = match &from {
                Some(p) => zoom_sso_revoker::sign::BodySource::File(p),
                None => zoom_sso_revoker::sign::BodySource::Stdin,
            };
            let url = zoom_sso_revoker::sign::url(config.listen_addr, &source);
            print!("{}", zoom_sso_revoker::sign::render(&src, &url, &body, from, std::time::SystemTime::now()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { database_url } => {
            store::connect(&database_url).await?;
            println!("migrations applied to {}", store::redact_url(&database_url));
            Ok(ExitCode::SUCCESS)
        }
        Command::Healthcheck { url } => {
            let url = format!("{}/healthz", url.trim_end_matches('/'));
            let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(5)).build()?;
            match client.get(&url).send().await {
                Ok(r) if r.status().is_success() => Ok(ExitCode::SUCCESS),
                Ok(r) => {
                    eprintln!("{url}: {}", r.status());
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => {
                    eprintln!("{url}: {e}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

/// SIGTERM or Ctrl-C starts a graceful shutdown.
async fn shutdown_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutdown requested");
    token.cancel();
}
