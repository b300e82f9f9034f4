//! `WEBHOOK_<NAME>_*` settings of one source, with errors that name the variable.

use crate::config::ConfigError;
use secrecy::SecretString;
use std::collections::HashMap;
use std::str::FromStr;

/// The settings of one source, looked up by suffix (`SECRET`, `EMAIL_POINTER`, ...).
#[derive(Clone)]
pub struct SourceOptions {
    name: String,
    prefix: String,
    values: HashMap<String, String>,
}

impl std::fmt::Debug for SourceOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may hold secrets; show only which settings are present.
        let mut keys: Vec<_> = self.values.keys().collect();
        keys.sort();
        f.debug_struct("SourceOptions").field("name", &self.name).field("keys", &keys).finish()
    }
}

impl SourceOptions {
    /// Collects `WEBHOOK_<NAME>_*` from `env` for the source `name` (any case; `-` becomes `_`).
    pub fn from_env(name: &str, env: &HashMap<String, String>) -> Self {
        let prefix = format!("WEBHOOK_{}_", name.to_ascii_uppercase().replace('-', "_"));
        let values = env
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(&prefix).map(|s| (s.to_string(), v.clone())))
            .filter(|(_, v)| !v.trim().is_empty())
            .collect();
        Self { name: name.to_string(), prefix, values }
    }

    /// Builds options directly (tests, `demo`): `pairs` are `(SUFFIX, value)`.
    pub fn new(name: &str, pairs: &[(&str, &str)]) -> Self {
        let env = pairs
            .iter()
            .map(|(k, v)| (format!("WEBHOOK_{}_{}", name.to_ascii_uppercase().replace('-', "_"), k), v.to_string()))
            .collect();
        Self::from_env(name, &env)
    }

    /// The suffixes that are set (non-empty), sorted.
    pub fn suffixes(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = self.values.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    pub fn source_name(&self) -> &str {
        &self.name
    }

    /// The full variable name of a suffix, for messages.
    pub fn var(&self, suffix: &str) -> String {
        format!("{}{}", self.prefix, suffix)
    }

    pub fn get(&self, suffix: &str) -> Option<&str> {
        self.values.get(suffix).map(|s| s.trim())
    }

    pub fn require(&self, suffix: &str) -> Result<String, ConfigError> {
        self.get(suffix).map(str::to_string).ok_or_else(|| ConfigError::Missing { var: self.var(suffix) })
    }

    pub fn invalid(&self, suffix: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { var: self.var(suffix), reason: reason.into() }
    }

    /// Parses an optional value, naming the variable on failure.
    pub fn parse<T: FromStr>(&self, suffix: &str) -> Result<Option<T>, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        self.get(suffix).map(|v| v.parse::<T>().map_err(|e| self.invalid(suffix, format!("{v:?}: {e}")))).transpose()
    }

    /// A comma-separated list (empty entries dropped).
    pub fn list(&self, suffix: &str) -> Option<Vec<String>> {
        self.get(suffix).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect())
    }

    /// `SECRET`: one or more comma-separated secrets, all accepted (rotation without downtime).
    pub fn secrets(&self) -> Result<Vec<SecretString>, ConfigError> {
        let raw = self.require("SECRET")?;
        let secrets: Vec<SecretString> = raw
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| SecretString::from(s.to_string()))
            .collect();
        if secrets.is_empty() {
            return Err(self.invalid("SECRET", "no secret given"));
        }
        Ok(secrets)
    }

    /// A JSON pointer setting: must be empty or start with '/'.
    pub fn pointer(&self, suffix: &str) -> Result<Option<String>, ConfigError> {
        match self.get(suffix) {
            None => Ok(None),
            Some(p) if p.starts_with('/') => Ok(Some(p.to_string())),
            Some(p) => Err(self.invalid(suffix, format!("{p:?} is not a JSON pointer (it must start with '/')"))),
        }
    }

    /// `TOLERANCE_SECS`: accepted clock skew in both directions, with the preset's default.
    pub fn tolerance(&self, default_secs: u64) -> Result<std::time::Duration, ConfigError> {
        let secs = self.parse::<u64>("TOLERANCE_SECS")?.unwrap_or(default_secs);
        if secs == 0 {
            return Err(self.invalid("TOLERANCE_SECS", "must be at least 1"));
        }
        Ok(std::time::Duration::from_secs(secs))
    }

    /// Refuses settings that mean nothing for this preset, so a typo'd or misplaced override is
    /// an error at start-up instead of being silently ignored.
    pub fn reject(&self, suffixes: &[&str], why: &str) -> Result<(), ConfigError> {
        match suffixes.iter().find(|s| self.get(s).is_some()) {
            Some(s) => Err(self.invalid(s, format!("is not used by this provider: {why}"))),
            None => Ok(()),
        }
    }
}
