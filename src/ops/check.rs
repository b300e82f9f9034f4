//! `check`: is this installation able to work? Configuration, the store, a Zoom access token —
//! each step named, the first failure stops the rest and says why.

use crate::config::{Config, ConfigArgs};
use crate::store;
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct CheckStep {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
}

/// Runs every step; the result is all steps run, the last one failed if any did.
pub async fn run(args: &ConfigArgs, env: &HashMap<String, String>) -> Vec<CheckStep> {
    let mut steps = Vec::new();
    let config = match Config::from_args(args, env) {
        Ok(c) => {
            steps.push(CheckStep {
                name: "config",
                ok: true,
                detail: format!(
                    "{} webhook source(s), DRY_RUN={}, admin API {}",
                    c.sources.len(),
                    c.dry_run,
                    if c.ops.admin_token.is_some() { "on" } else { "off" }
                ),
            });
            c
        }
        Err(e) => {
            steps.push(CheckStep { name: "config", ok: false, detail: e.to_string() });
            return steps;
        }
    };
    let url = store::redact_url(&config.database_url);
    match store::connect(&config.database_url).await {
        Ok(s) => match s.ping().await {
            Ok(()) => steps.push(CheckStep {
                name: "store",
                ok: true,
                detail: format!("{url}: reachable, migrations applied"),
            }),
            Err(e) => {
                steps.push(CheckStep { name: "store", ok: false, detail: format!("DATABASE_URL {url}: {e}") });
                return steps;
            }
        },
        Err(e) => {
            // Some store errors already name the (redacted) URL.
            let e = e.to_string();
            let detail = if e.contains("DATABASE_URL") { e } else { format!("DATABASE_URL {url}: {e}") };
            steps.push(CheckStep { name: "store", ok: false, detail });
            return steps;
        }
    }
    if config.dry_run {
        steps.push(CheckStep {
            name: "zoom token",
            ok: true,
            detail: "skipped: DRY_RUN=true makes no Zoom call".into(),
        });
        return steps;
    }
    let step = match crate::zoom::ZoomClient::new(&config.zoom) {
        Err(e) => CheckStep { name: "zoom token", ok: false, detail: format!("building the HTTP client: {e}") },
        Ok(client) => match client.check_token().await {
            Ok(()) => CheckStep {
                name: "zoom token",
                ok: true,
                detail: format!("access token issued by {}", config.zoom.oauth_token_url),
            },
            Err(e) => CheckStep {
                name: "zoom token",
                ok: false,
                detail: format!(
                    "{e} (check ZOOM_ACCOUNT_ID, ZOOM_CLIENT_ID, ZOOM_CLIENT_SECRET and ZOOM_OAUTH_TOKEN_URL {})",
                    config.zoom.oauth_token_url
                ),
            },
        },
    };
    steps.push(step);
    steps
}

/// True when every step passed.
pub fn passed(steps: &[CheckStep]) -> bool {
    steps.iter().all(|s| s.ok)
}
