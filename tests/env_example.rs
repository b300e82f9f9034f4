//! `.env.example` lists exactly the service's settings (`ConfigArgs::env_names()`), plus
//! `RUST_LOG` and per-source `WEBHOOK_<NAME>_*` examples (whose suffixes
//! tests/deploy_manifests.rs checks).

use std::collections::BTreeSet;
use zoom_sso_revoker::config::ConfigArgs;

/// Every `NAME=` in the file, commented out or not.
fn listed() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).unwrap();
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start_matches('#').trim();
            let (k, v) = l.split_once('=')?;
            (!k.is_empty() && k.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
                .then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn env_example_lists_exactly_the_settings() {
    let names = listed();
    let settings: BTreeSet<String> = ConfigArgs::env_names().into_iter().collect();
    let in_file: BTreeSet<String> = names.iter().map(|(k, _)| k.clone()).collect();

    let missing: Vec<_> = settings.difference(&in_file).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");

    let extra: Vec<_> = in_file
        .iter()
        .filter(|k| !settings.contains(*k) && k.as_str() != "RUST_LOG")
        .filter(|k| !(k.starts_with("WEBHOOK_") && k.len() > "WEBHOOK_X_".len()))
        .collect();
    assert!(extra.is_empty(), ".env.example lists variables the service does not read: {extra:?}");
}
