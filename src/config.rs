//! Env-first configuration (SPEC §8): one `clap` struct with an env variable on every field,
//! validated into [`Config`]. Every error names the variable and what is wrong with it.

use crate::email::{Email, EmailPolicy};
use crate::providers::{Source, SourceOptions};
use crate::retry::{Jitter, RetryPolicy};
use secrecy::SecretString;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{var} is required but not set")]
    Missing { var: String },
    #[error("{var} is invalid: {reason}")]
    Invalid { var: String, reason: String },
}

fn invalid(var: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { var: var.into(), reason: reason.into() }
}

fn parse_secret(s: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(s.to_string()))
}

/// Every setting of the service. Flags and env variables are the same thing; env is the usual way.
#[derive(clap::Args, Clone)]
pub struct ConfigArgs {
    /// Address of the HTTP listener (webhooks, health, metrics).
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080")]
    pub listen_addr: SocketAddr,

    /// `sqlite://PATH` (created if missing) or `postgres://...`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://zoom-sso-revoker.db", hide_env_values = true)]
    pub database_url: String,

    /// Zoom Server-to-Server OAuth app: account id.
    #[arg(long, env = "ZOOM_ACCOUNT_ID")]
    pub zoom_account_id: Option<String>,

    /// Zoom Server-to-Server OAuth app: client id.
    #[arg(long, env = "ZOOM_CLIENT_ID")]
    pub zoom_client_id: Option<String>,

    /// Zoom Server-to-Server OAuth app: client secret.
    #[arg(long, env = "ZOOM_CLIENT_SECRET", hide_env_values = true, value_parser = parse_secret)]
    pub zoom_client_secret: Option<SecretString>,

    /// Zoom API base (ZoomGov: https://api.zoomgov.com/v2).
    #[arg(long, env = "ZOOM_API_BASE_URL", default_value = "https://api.zoom.us/v2")]
    pub zoom_api_base_url: String,

    /// Zoom OAuth token endpoint (ZoomGov: https://zoomgov.com/oauth/token).
    #[arg(long, env = "ZOOM_OAUTH_TOKEN_URL", default_value = "https://zoom.us/oauth/token")]
    pub zoom_oauth_token_url: String,

    /// Ceiling on Zoom calls per second for this whole service.
    #[arg(long, env = "ZOOM_RATE_LIMIT_PER_SECOND", default_value_t = 10)]
    pub zoom_rate_limit_per_second: u32,

    /// Timeout of one Zoom HTTP call, in seconds.
    #[arg(long, env = "ZOOM_TIMEOUT_SECS", default_value_t = 10)]
    pub zoom_timeout_secs: u64,

    /// Do everything except the Zoom call; record `dry_run`.
    #[arg(long, env = "DRY_RUN", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub dry_run: bool,

    /// Largest accepted webhook body in bytes (larger: 413).
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Comma-separated source names; each is configured by WEBHOOK_<NAME>_* variables.
    #[arg(long, env = "WEBHOOK_SOURCES", value_delimiter = ',', default_value = "")]
    pub webhook_sources: Vec<String>,

    /// Only people in these comma-separated domains may be revoked (empty: any domain).
    #[arg(long, env = "ALLOWED_EMAIL_DOMAINS", value_delimiter = ',', default_value = "")]
    pub allowed_email_domains: Vec<String>,

    /// Comma-separated emails that are never revoked (break-glass admins).
    #[arg(long, env = "PROTECTED_EMAILS", value_delimiter = ',', default_value = "")]
    pub protected_emails: Vec<String>,

    /// Concurrent Zoom calls per process (the rate ceiling still applies).
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 16)]
    pub worker_concurrency: usize,

    /// Job lease in seconds: a job claimed by a process that dies is retried after this.
    #[arg(long, env = "JOB_LEASE_SECS", default_value_t = 60)]
    pub job_lease_secs: u64,

    /// Fallback poll interval of the worker in milliseconds (it is woken at once on enqueue).
    #[arg(long, env = "WORKER_POLL_MS", default_value_t = 1000)]
    pub worker_poll_ms: u64,

    /// First retry delay in milliseconds.
    #[arg(long, env = "RETRY_BASE_MS", default_value_t = 2000)]
    pub retry_base_ms: u64,

    /// Growth factor of the retry delay.
    #[arg(long, env = "RETRY_FACTOR", default_value_t = 2.0)]
    pub retry_factor: f64,

    /// Longest retry delay in seconds.
    #[arg(long, env = "RETRY_MAX_DELAY_SECS", default_value_t = 600)]
    pub retry_max_delay_secs: u64,

    /// Attempts before a job is `dead`.
    #[arg(long, env = "RETRY_MAX_ATTEMPTS", default_value_t = 20)]
    pub retry_max_attempts: u32,

    /// Hours after the first event before a job is `dead`.
    #[arg(long, env = "RETRY_MAX_AGE_HOURS", default_value_t = 72)]
    pub retry_max_age_hours: u64,

    /// `full` (random delay up to the exponential bound) or `none` (exactly the bound).
    #[arg(long, env = "RETRY_JITTER", default_value = "full")]
    pub retry_jitter: String,

    /// Log format: `json` or `text`.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    pub log_format: String,

    // --- Operations (issue 4) ---
    /// Bearer token that enables the admin API under /admin/ (unset: no admin routes).
    #[arg(long, env = "ADMIN_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub admin_token: Option<SecretString>,

    /// Serve /metrics on this separate address instead of LISTEN_ADDR.
    #[arg(long, env = "METRICS_ADDR")]
    pub metrics_addr: Option<SocketAddr>,

    /// Days finished history (jobs, events, attempts, rejected requests) is kept; 0 keeps it forever.
    #[arg(long, env = "RETENTION_DAYS", default_value_t = 90)]
    pub retention_days: u64,

    /// Seconds Zoom calls in flight may finish after SIGTERM/SIGINT; the rest are released.
    #[arg(long, env = "SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    pub shutdown_grace_secs: u64,
}

impl ConfigArgs {
    /// Builds the arguments from variables named as in the environment (`DATABASE_URL`, ...);
    /// unset ones take their defaults. Used by `demo`, tests and the benchmark so they configure
    /// the service exactly as an operator does.
    pub fn from_vars<K: AsRef<str>, V: AsRef<str>>(vars: &[(K, V)]) -> Result<Self, clap::Error> {
        use clap::FromArgMatches;
        let cmd = <Self as clap::Args>::augment_args(clap::Command::new("config").no_binary_name(true));
        let mut argv = Vec::new();
        for (k, v) in vars {
            let arg = cmd.get_arguments().find(|a| a.get_env().is_some_and(|e| e == k.as_ref()));
            match arg.and_then(|a| a.get_long()) {
                Some(long) => argv.push(format!("--{long}={}", v.as_ref())),
                None => {
                    return Err(clap::Error::raw(
                        clap::error::ErrorKind::UnknownArgument,
                        format!("unknown setting {}", k.as_ref()),
                    ));
                }
            }
        }
        let matches = cmd.try_get_matches_from(argv)?;
        Self::from_arg_matches(&matches)
    }

    /// The environment variable of every setting, in declaration order.
    pub fn env_names() -> Vec<String> {
        let cmd = <Self as clap::Args>::augment_args(clap::Command::new("config"));
        cmd.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()).collect()
    }
}

impl std::fmt::Debug for ConfigArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigArgs")
            .field("listen_addr", &self.listen_addr)
            .field("database_url", &crate::store::redact_url(&self.database_url))
            .field("zoom_account_id", &self.zoom_account_id)
            .field("zoom_client_id", &self.zoom_client_id)
            .field("zoom_client_secret", &self.zoom_client_secret.as_ref().map(|_| "[redacted]"))
            .field("dry_run", &self.dry_run)
            .field("webhook_sources", &self.webhook_sources)
            .finish_non_exhaustive()
    }
}

/// Zoom account and API settings.
#[derive(Debug, Clone)]
pub struct ZoomConfig {
    pub account_id: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub api_base_url: String,
    pub oauth_token_url: String,
    pub rate_limit_per_second: u32,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub concurrency: usize,
    pub lease: Duration,
    pub poll_interval: Duration,
    /// How long Zoom calls in flight may finish after a shutdown signal.
    pub shutdown_grace: Duration,
    /// The longest one attempt can take (a call, a token refresh and the retry after it): a job
    /// whose lease has less left than this is not called.
    pub call_budget: Duration,
}

/// Validated configuration. `Debug` is written by hand below so no secret ever prints.
#[derive(Clone)]
pub struct Config {
    pub listen_addr: SocketAddr,
    pub database_url: String,
    pub zoom: ZoomConfig,
    pub dry_run: bool,
    pub max_body_bytes: usize,
    pub sources: Vec<Arc<Source>>,
    pub policy: EmailPolicy,
    pub retry: RetryPolicy,
    pub worker: WorkerConfig,
    pub log_format: LogFormat,
    pub ops: OpsConfig,
}

/// Operations settings (admin API, metrics listener, retention).
#[derive(Clone)]
pub struct OpsConfig {
    /// `None`: the admin API is not routed at all.
    pub admin_token: Option<SecretString>,
    pub metrics_addr: Option<SocketAddr>,
    /// `None`: history is kept forever.
    pub retention: Option<Duration>,
}

impl std::fmt::Debug for OpsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsConfig")
            .field("admin_token", &self.admin_token.as_ref().map(|_| "[redacted]"))
            .field("metrics_addr", &self.metrics_addr)
            .field("retention", &self.retention)
            .finish()
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // DATABASE_URL may hold a password; the rest hold secrets only in secrecy types.
        f.debug_struct("Config")
            .field("listen_addr", &self.listen_addr)
            .field("database_url", &crate::store::redact_url(&self.database_url))
            .field("zoom", &self.zoom)
            .field("dry_run", &self.dry_run)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("sources", &self.sources)
            .field("policy", &self.policy)
            .field("retry", &self.retry)
            .field("worker", &self.worker)
            .field("log_format", &self.log_format)
            .field("ops", &self.ops)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

/// `ALLOWED_EMAIL_DOMAINS` and `PROTECTED_EMAILS` as a policy (also used by `revoke`, which
/// needs only these two settings).
pub fn policy_from_lists(allowed: &[String], protected: &[String]) -> Result<EmailPolicy, ConfigError> {
    let mut list = Vec::new();
    for p in protected.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        list.push(Email::parse(p).map_err(|e| invalid("PROTECTED_EMAILS", format!("{p:?}: {e}")))?);
    }
    let allowed_domains =
        allowed.iter().map(|d| d.trim().trim_start_matches('@').to_lowercase()).filter(|d| !d.is_empty()).collect();
    Ok(EmailPolicy { allowed_domains, protected: list })
}

impl Config {
    /// Validates `args`; per-source settings are read from `env` (the process environment after
    /// `.env` is loaded, or a map in tests).
    pub fn from_args(args: &ConfigArgs, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let zoom = {
            let need = |v: &Option<String>, var: &str| -> Result<String, ConfigError> {
                match v.as_deref().map(str::trim) {
                    Some(s) if !s.is_empty() => Ok(s.to_string()),
                    _ if args.dry_run => Ok(String::new()),
                    _ => Err(ConfigError::Missing { var: format!("{var} (or DRY_RUN=true)") }),
                }
            };
            let account_id = need(&args.zoom_account_id, "ZOOM_ACCOUNT_ID")?;
            let client_id = need(&args.zoom_client_id, "ZOOM_CLIENT_ID")?;
            let client_secret = match &args.zoom_client_secret {
                Some(s) if !secrecy::ExposeSecret::expose_secret(s).trim().is_empty() => s.clone(),
                _ if args.dry_run => SecretString::from(String::new()),
                _ => return Err(ConfigError::Missing { var: "ZOOM_CLIENT_SECRET (or DRY_RUN=true)".into() }),
            };
            for (var, url) in
                [("ZOOM_API_BASE_URL", &args.zoom_api_base_url), ("ZOOM_OAUTH_TOKEN_URL", &args.zoom_oauth_token_url)]
            {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(invalid(var, format!("{url:?} is not an http(s) URL")));
                }
            }
            if args.zoom_rate_limit_per_second == 0 {
                return Err(invalid("ZOOM_RATE_LIMIT_PER_SECOND", "must be at least 1"));
            }
            if args.zoom_timeout_secs == 0 {
                return Err(invalid("ZOOM_TIMEOUT_SECS", "must be at least 1"));
            }
            ZoomConfig {
                account_id,
                client_id,
                client_secret,
                api_base_url: args.zoom_api_base_url.trim_end_matches('/').to_string(),
                oauth_token_url: args.zoom_oauth_token_url.clone(),
                rate_limit_per_second: args.zoom_rate_limit_per_second,
                timeout: Duration::from_secs(args.zoom_timeout_secs),
            }
        };
        if !(args.database_url.starts_with("sqlite:")
            || args.database_url.starts_with("postgres://")
            || args.database_url.starts_with("postgresql://"))
        {
            return Err(invalid("DATABASE_URL", "must start with sqlite:// or postgres://"));
        }
        if args.max_body_bytes == 0 {
            return Err(invalid("MAX_BODY_BYTES", "must be at least 1"));
        }

        let mut sources: Vec<Arc<Source>> = Vec::new();
        for name in args.webhook_sources.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Err(invalid(
                    "WEBHOOK_SOURCES",
                    format!("{name:?}: names may hold letters, digits, '-' and '_'"),
                ));
            }
            if name == crate::ops::MANUAL_SOURCE {
                return Err(invalid("WEBHOOK_SOURCES", format!("{name:?} is reserved for manual revocations")));
            }
            if sources.iter().any(|s| s.name == name) {
                return Err(invalid("WEBHOOK_SOURCES", format!("{name:?} is listed twice")));
            }
            sources.push(Arc::new(Source::from_options(&SourceOptions::from_env(name, env))?));
        }

        let policy = policy_from_lists(&args.allowed_email_domains, &args.protected_emails)?;

        let jitter = match args.retry_jitter.trim() {
            "full" => Jitter::Full,
            "none" => Jitter::None,
            other => return Err(invalid("RETRY_JITTER", format!("{other:?}: expected full or none"))),
        };
        if args.retry_factor < 1.0 || !args.retry_factor.is_finite() {
            return Err(invalid("RETRY_FACTOR", "must be a number of at least 1"));
        }
        if args.retry_max_attempts == 0 {
            return Err(invalid("RETRY_MAX_ATTEMPTS", "must be at least 1"));
        }
        let retry = RetryPolicy {
            base: Duration::from_millis(args.retry_base_ms),
            factor: args.retry_factor,
            max_delay: Duration::from_secs(args.retry_max_delay_secs),
            max_attempts: args.retry_max_attempts,
            max_age: Duration::from_secs(args.retry_max_age_hours * 3600),
            jitter,
        };
        if args.worker_concurrency == 0 {
            return Err(invalid("WORKER_CONCURRENCY", "must be at least 1"));
        }
        if args.job_lease_secs <= args.zoom_timeout_secs * 2 {
            // A lease shorter than a call (plus the one retry after a token refresh) would let
            // another worker take a job that is still being called.
            return Err(invalid(
                "JOB_LEASE_SECS",
                format!("must be longer than twice ZOOM_TIMEOUT_SECS ({}s)", args.zoom_timeout_secs),
            ));
        }
        let log_format = match args.log_format.trim() {
            "json" => LogFormat::Json,
            "text" => LogFormat::Text,
            other => return Err(invalid("LOG_FORMAT", format!("{other:?}: expected json or text"))),
        };
        Ok(Config {
            listen_addr: args.listen_addr,
            database_url: args.database_url.clone(),
            zoom,
            dry_run: args.dry_run,
            max_body_bytes: args.max_body_bytes,
            sources,
            policy,
            retry,
            worker: WorkerConfig {
                concurrency: args.worker_concurrency,
                lease: Duration::from_secs(args.job_lease_secs),
                poll_interval: Duration::from_millis(args.worker_poll_ms.max(10)),
                shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
                call_budget: Duration::from_secs(args.zoom_timeout_secs * 2),
            },
            log_format,
            ops: OpsConfig {
                admin_token: match &args.admin_token {
                    Some(t) if secrecy::ExposeSecret::expose_secret(t).trim().len() < 16 => {
                        return Err(invalid("ADMIN_TOKEN", "must be at least 16 characters (use a long random value)"));
                    }
                    t => t.clone(),
                },
                metrics_addr: args.metrics_addr,
                retention: (args.retention_days > 0).then(|| Duration::from_secs(args.retention_days * 86_400)),
            },
        })
    }

    pub fn source(&self, name: &str) -> Option<&Arc<Source>> {
        self.sources.iter().find(|s| s.name == name)
    }
}
