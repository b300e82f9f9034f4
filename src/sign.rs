//! `sign`: the headers (and a ready `curl` line) that the running service accepts for a body,
//! built from the same settings `serve` reads — so an operator can test a source before pointing
//! the identity provider at it, and see exactly what the provider must send.

use crate::config::{ConfigArgs, ConfigError};
use crate::providers::{Authenticator, Source, SourceOptions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::SystemTime;

/// Where the body came from: a file is referenced in the `curl` line (exact bytes), stdin is
/// inlined.
pub enum BodySource<'a> {
    File(&'a str),
    Stdin,
}

/// Builds the named source from `WEBHOOK_SOURCES` and `WEBHOOK_<NAME>_*` without the rest of the
/// configuration (no Zoom credentials are needed to sign).
pub fn source(args: &ConfigArgs, env: &HashMap<String, String>, name: &str) -> Result<Source, ConfigError> {
    if !args.webhook_sources.iter().any(|s| s.trim() == name) {
        return Err(ConfigError::Invalid {
            var: "WEBHOOK_SOURCES".into(),
            reason: format!("does not list {name:?} (listed: {:?})", args.webhook_sources.join(",")),
        });
    }
    Source::from_options(&SourceOptions::from_env(name, env))
}

/// The URL of the source on the configured listener (an unspecified address means loopback).
pub fn url(listen: SocketAddr, name: &str) -> String {
    let host = match listen {
        SocketAddr::V4(a) if a.ip().is_unspecified() => format!("127.0.0.1:{}", a.port()),
        SocketAddr::V6(a) if a.ip().is_unspecified() => format!("[::1]:{}", a.port()),
        other => other.to_string(),
    };
    format!("http://{host}/webhooks/{name}")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The text `sign` prints: a comment, one `Name: value` line per header, a blank line, and the
/// `curl` command.
pub fn render(src: &Source, url: &str, body: &[u8], from: BodySource<'_>, now: SystemTime) -> String {
    let delivery_id = format!("msg_{}", uuid::Uuid::now_v7().simple());
    let headers = src.sign(body, now, &delivery_id);
    let window = match &src.auth {
        Authenticator::Hmac(s) => s.timestamp.as_ref().map(|t| t.tolerance.as_secs()),
        Authenticator::SharedSecretHeader { .. } => None,
    };
    let mut out = format!("# POST {url} ({} preset", src.provider.as_str());
    match window {
        Some(secs) => out.push_str(&format!("; the signature is accepted for {secs} s)\n")),
        None => out.push_str(")\n"),
    }
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {v}\n"));
    }
    out.push('\n');
    let mut curl = format!("curl -sS -X POST {} -H 'content-type: application/json'", shell_quote(url));
    for (k, v) in &headers {
        curl.push_str(&format!(" -H {}", shell_quote(&format!("{k}: {v}"))));
    }
    match from {
        BodySource::File(path) => curl.push_str(&format!(" --data-binary {}", shell_quote(&format!("@{path}")))),
        BodySource::Stdin => curl.push_str(&format!(" --data-binary {}", shell_quote(&String::from_utf8_lossy(body)))),
    }
    out.push_str(&curl);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_and_urls() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(url("0.0.0.0:8080".parse().unwrap(), "okta"), "http://127.0.0.1:8080/webhooks/okta");
        assert_eq!(url("10.0.0.5:9000".parse().unwrap(), "g"), "http://10.0.0.5:9000/webhooks/g");
    }
}
