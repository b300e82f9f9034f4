//! The binary as a user runs it: `demo`, configuration errors, `--help`.

use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_zoom-sso-revoker"));
    // A developer's .env or environment must not leak into these runs.
    c.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).current_dir(env!("CARGO_TARGET_TMPDIR"));
    c
}

#[test]
fn demo_runs_the_whole_pipeline_and_exits_zero() {
    let out = bin().arg("demo").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "john.doe@example.com     revoked",
        "jane.roe@example.com     revoked",
        "no.zoom@example.com      not_found",
        // One sample per preset (issue 3).
        "lela.block@example.com   revoked",
        "ana.silva@example.com    revoked",
        "kim.lee@example.com      revoked",
        "m.garcia@example.com     revoked",
        "user@mydomain.com        revoked",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
    assert!(stdout.contains("called 0 times"), "{stdout}");
}

#[test]
fn configuration_errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[], "ZOOM_ACCOUNT_ID"),
        (&[("DRY_RUN", "true"), ("WEBHOOK_SOURCES", "okta")], "WEBHOOK_OKTA_PROVIDER"),
        (&[("DRY_RUN", "true"), ("WEBHOOK_SOURCES", "okta"), ("WEBHOOK_OKTA_PROVIDER", "okta")], "WEBHOOK_OKTA_SECRET"),
        (&[("DRY_RUN", "true"), ("WEBHOOK_SOURCES", "x"), ("WEBHOOK_X_PROVIDER", "nope")], "WEBHOOK_X_PROVIDER"),
        (
            &[
                ("DRY_RUN", "true"),
                ("WEBHOOK_SOURCES", "x"),
                ("WEBHOOK_X_PROVIDER", "hmac"),
                ("WEBHOOK_X_SECRET", "s"),
                ("WEBHOOK_X_SIGNATURE_ENCODING", "rot13"),
            ],
            "WEBHOOK_X_SIGNATURE_ENCODING",
        ),
        (&[("DRY_RUN", "true"), ("DATABASE_URL", "mysql://x")], "DATABASE_URL"),
        (&[("DRY_RUN", "true"), ("ZOOM_RATE_LIMIT_PER_SECOND", "0")], "ZOOM_RATE_LIMIT_PER_SECOND"),
        (&[("DRY_RUN", "true"), ("PROTECTED_EMAILS", "not an email")], "PROTECTED_EMAILS"),
    ];
    for (vars, expected) in cases {
        let out = bin().arg("serve").envs(vars.iter().copied()).env("LISTEN_ADDR", "127.0.0.1:0").output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{vars:?}: {stderr}");
        assert!(stderr.contains(expected), "{vars:?}: expected {expected} in {stderr:?}");
    }
}

#[test]
fn help_lists_every_setting_as_an_env_variable() {
    let out = bin().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in zoom_sso_revoker::config::ConfigArgs::env_names() {
        assert!(help.contains(&format!("[env: {var}")), "--help lacks {var}");
    }
}
