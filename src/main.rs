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
    /// Print JSON instead of tables (revoke, jobs, audit, check).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The store the operations commands read and write (the one `serve` uses).
#[derive(clap::Args)]
struct StoreArgs {
    /// `sqlite://PATH` or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://zoom-sso-revoker.db", hide_env_values = true)]
    database_url: String,
}

#[derive(Subcommand)]
enum JobsCommand {
    /// List jobs, newest first; `--state rejected` lists authenticated requests that could not be
    /// parsed, with the reason and the body.
    List {
        /// pending, in_flight, revoked, not_found, dry_run, failed, dead, or rejected.
        #[arg(long)]
        state: Option<String>,
        /// Only this person's jobs.
        #[arg(long)]
        email: Option<String>,
        /// Most rows shown.
        #[arg(long, default_value_t = zoom_sso_revoker::ops::DEFAULT_LIMIT)]
        limit: u32,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// One job: its events and every attempt.
    Show {
        id: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Put a failed or dead job back in the queue (the running service picks it up).
    Retry {
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<String>,
        /// Retry every dead job.
        #[arg(long)]
        all_dead: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
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
        #[arg(long, env = "DATABASE_URL", default_value = "sqlite://zoom-sso-revoker.db", hide_env_values = true)]
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
    /// Revoke these people's Zoom SSO tokens now, through the same queue as webhooks (source
    /// `manual`); the running service makes the calls.
    Revoke {
        #[arg(required = true)]
        emails: Vec<String>,
        /// Wait until each revocation reaches a final state; exit 1 unless all are revoked,
        /// not_found or dry_run.
        #[arg(long)]
        wait: bool,
        /// Longest wait with --wait, in seconds.
        #[arg(long, default_value_t = 120)]
        wait_secs: u64,
        #[command(flatten)]
        store: StoreArgs,
        /// Only people in these domains may be revoked (as for serve).
        #[arg(long, env = "ALLOWED_EMAIL_DOMAINS", value_delimiter = ',', default_value = "")]
        allowed_email_domains: Vec<String>,
        /// Never revoked (as for serve).
        #[arg(long, env = "PROTECTED_EMAILS", value_delimiter = ',', default_value = "")]
        protected_emails: Vec<String>,
    },
    /// Jobs: list, show, retry.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
    /// A person's whole history: every event received, every job and attempt, the outcome.
    Audit {
        email: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Check the configuration, the store and a Zoom token; exit 1 with the reason on failure.
    Check {
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
    match rt.block_on(dispatch(cli.command, cli.json)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
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
        cmd @ (Command::Revoke { .. } | Command::Jobs { .. } | Command::Audit { .. } | Command::Check { .. }) => {
            // Warnings only, on stderr: stdout is the command's answer (often JSON).
            telemetry::init_with_default(zoom_sso_revoker::config::LogFormat::Text, "warn");
            operate(cmd, json).await
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

/// Prints `value` as JSON or through `table`.
fn print<T: serde::Serialize>(json: bool, value: &T, table: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        print!("{}", table(value));
    }
    Ok(())
}

/// The operator commands (SPEC §8); the logic is in `zoom_sso_revoker::ops`.
async fn operate(cmd: Command, json: bool) -> anyhow::Result<ExitCode> {
    use zoom_sso_revoker::ops::{self, render};
    let open = |url: String| async move {
        store::connect(&url).await.with_context(|| format!("opening DATABASE_URL {}", store::redact_url(&url)))
    };
    match cmd {
        Command::Revoke { emails, wait, wait_secs, store, allowed_email_domains, protected_emails } => {
            let policy = zoom_sso_revoker::config::policy_from_lists(&allowed_email_domains, &protected_emails)?;
            let s = open(store.database_url).await?;
            let mut results = ops::revoke(&s, &policy, &emails).await?;
            let mut ok = results.iter().all(|r| r.job_id.is_some());
            if wait {
                let finished = ops::wait_final(&s, &mut results, std::time::Duration::from_secs(wait_secs)).await?;
                if !finished {
                    eprintln!(
                        "not every revocation finished within {wait_secs} s (is `serve` running against this DATABASE_URL?)"
                    );
                }
                ok &= finished
                    && results
                        .iter()
                        .all(|r| r.state.as_deref().is_none_or(|st| matches!(st, "revoked" | "not_found" | "dry_run")));
            }
            print(json, &results, |r| render::manual(r))?;
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Jobs { command: JobsCommand::List { state, email, limit, store } } => {
            let s = open(store.database_url).await?;
            let l = ops::list(&s, state.as_deref(), email.as_deref(), Some(limit)).await?;
            print(json, &l, render::listing)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { command: JobsCommand::Show { id, store } } => {
            let s = open(store.database_url).await?;
            let d = ops::show(&s, &id).await?;
            print(json, &d, render::job_detail)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { command: JobsCommand::Retry { id, all_dead, store } } => {
            let s = open(store.database_url).await?;
            let reports = match id {
                Some(id) if !all_dead => vec![ops::retry(&s, &id).await?],
                _ => ops::retry_all_dead(&s).await?,
            };
            print(json, &reports, |r| render::retries(r))?;
            Ok(if reports.iter().all(|r| r.retried) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Audit { email, store } => {
            let s = open(store.database_url).await?;
            let a = ops::audit(&s, &email).await?;
            print(json, &a, render::audit)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            let env: HashMap<String, String> = std::env::vars().collect();
            let steps = ops::check::run(&config, &env).await;
            print(json, &steps, |s| render::check(s))?;
            Ok(if ops::check::passed(&steps) { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Serve { .. }
        | Command::Demo
        | Command::Migrate { .. }
        | Command::Sign { .. }
        | Command::Healthcheck { .. } => {
            anyhow::bail!("not an operator command")
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
