//! The one place an [`Email`] is made: trimmed, lower-cased and checked (SPEC §5).
//!
//! Everything downstream (the store, the Zoom client) takes an `Email`, so a string that did not
//! pass these rules can never reach Zoom.

use std::fmt;

/// Longest address SMTP allows (RFC 5321 path limit); longer strings are not people.
const MAX_EMAIL_BYTES: usize = 254;

/// A normalized, validated email address.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Email(String);

/// Why a string is not an acceptable email. The text goes to the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("email is empty")]
    Empty,
    #[error("email is longer than {MAX_EMAIL_BYTES} bytes")]
    TooLong,
    #[error("email must contain exactly one '@'")]
    AtSign,
    #[error("email has an empty local part or domain")]
    EmptyPart,
    #[error("email contains whitespace or a control character")]
    BadCharacter,
    #[error("email domain is not a valid host name")]
    BadDomain,
}

impl Email {
    /// Normalizes and validates `raw`.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err(EmailError::Empty);
        }
        if s.len() > MAX_EMAIL_BYTES {
            return Err(EmailError::TooLong);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailError::BadCharacter);
        }
        let mut parts = s.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::AtSign);
        };
        if local.is_empty() || domain.is_empty() {
            return Err(EmailError::EmptyPart);
        }
        // The domain becomes part of a URL path segment at Zoom; it may hold letters of any
        // script (IDN), digits, '-', and dots between labels, nothing that could steer a path.
        let domain_ok =
            domain.split('.').all(|label| !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-'));
        if !domain_ok {
            return Err(EmailError::BadDomain);
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after '@'.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

/// Who may be revoked: `ALLOWED_EMAIL_DOMAINS` and `PROTECTED_EMAILS` (SPEC §5).
#[derive(Debug, Clone, Default)]
pub struct EmailPolicy {
    /// Empty means every domain.
    pub allowed_domains: Vec<String>,
    pub protected: Vec<Email>,
}

impl EmailPolicy {
    /// `Err(reason)` when this person must not be revoked.
    pub fn check(&self, email: &Email) -> Result<(), String> {
        if self.protected.contains(email) {
            return Err("protected email (PROTECTED_EMAILS)".into());
        }
        if !self.allowed_domains.is_empty() && !self.allowed_domains.iter().any(|d| d == email.domain()) {
            return Err("domain not in ALLOWED_EMAIL_DOMAINS".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(Email::parse("  John.Doe@Example.COM ").unwrap().as_str(), "john.doe@example.com");
        assert_eq!(Email::parse("a+tag@x.io").unwrap().as_str(), "a+tag@x.io");
        assert_eq!(Email::parse("jürgen@bücher.de").unwrap().domain(), "bücher.de");
    }

    #[test]
    fn rejects() {
        for (raw, err) in [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("nobody", EmailError::AtSign),
            ("a@b@c", EmailError::AtSign),
            ("@x.com", EmailError::EmptyPart),
            ("a@", EmailError::EmptyPart),
            ("a b@x.com", EmailError::BadCharacter),
            ("a\r\nX-Evil: 1@x.com", EmailError::BadCharacter),
            ("a\u{0}@x.com", EmailError::BadCharacter),
            ("a@x.com/../users", EmailError::BadDomain),
            ("a@x..com", EmailError::BadDomain),
            ("a@x.com?y", EmailError::BadDomain),
        ] {
            assert_eq!(Email::parse(raw), Err(err), "{raw:?}");
        }
        let long = format!("{}@x.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn policy() {
        let p = EmailPolicy {
            allowed_domains: vec!["corp.com".into()],
            protected: vec![Email::parse("admin@corp.com").unwrap()],
        };
        assert!(p.check(&Email::parse("a@corp.com").unwrap()).is_ok());
        assert!(p.check(&Email::parse("admin@corp.com").unwrap()).is_err());
        assert!(p.check(&Email::parse("a@other.com").unwrap()).is_err());
    }
}
