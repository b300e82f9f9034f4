//! Human-readable tables for the CLI (`--json` prints the same structures as JSON instead).

use super::check::CheckStep;
use super::{Audit, JobDetail, Listing, ManualResult, RetryReport};
use crate::store::{AttemptRecord, EventRow, JobRow};
use std::fmt::Write as _;

/// Unix milliseconds as RFC 3339 UTC.
pub fn time(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_else(|| "-".into())
}

/// A plain text table: columns padded to their widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let mut l = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                let _ = write!(l, "{c:<w$}  ");
            }
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(headers.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

pub fn jobs(rows: &[JobRow]) -> String {
    if rows.is_empty() {
        return "no jobs\n".into();
    }
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|j| {
            vec![
                j.id.clone(),
                j.email.clone(),
                j.state.clone(),
                j.attempts.to_string(),
                time(j.created_at),
                j.finished_at.map(time).unwrap_or_else(|| format!("next {}", time(j.next_run_at))),
                opt(&j.last_error),
            ]
        })
        .collect();
    table(&["ID", "EMAIL", "STATE", "ATTEMPTS", "CREATED", "FINISHED", "LAST ERROR"], &rows)
}

pub fn listing(l: &Listing) -> String {
    match l {
        Listing::Jobs(j) => jobs(j),
        Listing::Rejected(r) if r.is_empty() => "no rejected requests\n".into(),
        Listing::Rejected(r) => {
            let rows: Vec<Vec<String>> = r
                .iter()
                .map(|x| {
                    vec![
                        x.id.clone(),
                        x.source.clone(),
                        time(x.received_at),
                        x.body.len().to_string(),
                        x.reason.clone(),
                    ]
                })
                .collect();
            table(&["ID", "SOURCE", "RECEIVED", "BYTES", "REASON"], &rows)
                + "(bodies: `jobs list --state rejected --json`)\n"
        }
    }
}

fn events(ev: &[EventRow]) -> String {
    let rows: Vec<Vec<String>> = ev
        .iter()
        .map(|e| {
            vec![
                time(e.received_at),
                e.source.clone(),
                e.event_type.clone(),
                e.event_id.clone(),
                opt(&e.job_id),
                e.ignored_reason.as_ref().map(|r| format!("ignored: {r}")).unwrap_or_else(|| "queued".into()),
            ]
        })
        .collect();
    table(&["RECEIVED", "SOURCE", "TYPE", "EVENT ID", "JOB", "OUTCOME"], &rows)
}

fn attempts(a: &[AttemptRecord]) -> String {
    let rows: Vec<Vec<String>> = a
        .iter()
        .map(|a| {
            vec![
                time(a.started_at_ms),
                opt(&a.http_status),
                opt(&a.zoom_code),
                format!("{} ms", a.duration_ms),
                a.outcome.clone(),
                opt(&a.error),
            ]
        })
        .collect();
    table(&["STARTED", "HTTP", "ZOOM CODE", "DURATION", "OUTCOME", "ERROR"], &rows)
}

pub fn job_detail(d: &JobDetail) -> String {
    job_section(d, true)
}

/// A job; `with_events` false in an audit, which lists every event once at the top.
fn job_section(d: &JobDetail, with_events: bool) -> String {
    let j = &d.job;
    let mut out = format!(
        "job {}\n  email     {}\n  state     {}\n  attempts  {}\n  created   {}\n  finished  {}\n  next run  {}\n",
        j.id,
        j.email,
        j.state,
        j.attempts,
        time(j.created_at),
        j.finished_at.map(time).unwrap_or_else(|| "-".into()),
        time(j.next_run_at),
    );
    if let Some(e) = &j.last_error {
        let _ = writeln!(out, "  last      HTTP {} code {} {e}", opt(&j.last_status), opt(&j.last_zoom_code));
    }
    if with_events {
        out.push_str("\nevents\n");
        out.push_str(&indent(&events(&d.events)));
    }
    out.push_str("\nattempts\n");
    out.push_str(&if d.attempts.is_empty() { "  none yet\n".into() } else { indent(&attempts(&d.attempts)) });
    out
}

pub fn audit(a: &Audit) -> String {
    let mut out = format!("audit {}\noutcome: {}\n\nevents received\n", a.email, a.outcome);
    out.push_str(&if a.events.is_empty() { "  none\n".into() } else { indent(&events(&a.events)) });
    for d in &a.jobs {
        out.push('\n');
        out.push_str(&job_section(d, false));
    }
    out
}

pub fn manual(results: &[ManualResult]) -> String {
    let rows: Vec<Vec<String>> = results
        .iter()
        .map(|r| vec![r.email.clone(), r.outcome.clone(), opt(&r.job_id), opt(&r.state), opt(&r.reason)])
        .collect();
    table(&["EMAIL", "OUTCOME", "JOB", "STATE", "REASON"], &rows)
}

pub fn retries(reports: &[RetryReport]) -> String {
    if reports.is_empty() {
        return "nothing to retry\n".into();
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| vec![r.id.clone(), if r.retried { "retried" } else { "not retried" }.into(), opt(&r.reason)])
        .collect();
    table(&["JOB", "RESULT", "REASON"], &rows)
}

pub fn check(steps: &[CheckStep]) -> String {
    let mut out = String::new();
    for s in steps {
        let _ = writeln!(out, "{} {:<10} {}", if s.ok { "ok  " } else { "FAIL" }, s.name, s.detail);
    }
    out
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_796_342_400_123), "2026-12-04T00:00:00.123Z");
    }

    #[test]
    fn tables_pad_columns_to_the_widest_cell() {
        let t = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()], vec!["b".into(), "y".into()]]);
        assert_eq!(t, "A          LONGER\nwide cell  x\nb          y\n");
    }
}
