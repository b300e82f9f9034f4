//! Statements of the operations queries (listings, audit, retry, release, retention), written
//! once in SQL that SQLite and PostgreSQL both accept (`$n` placeholders, integer-millisecond
//! times, no backend-only functions), so every backend runs the same text.

pub const JOB_COLUMNS: &str = "id, email, state, attempts, next_run_at, created_at, updated_at, finished_at, last_status, last_zoom_code, last_error";

/// `$1` state or NULL, `$2` email or NULL, `$3` limit.
pub const LIST_JOBS: &str = "SELECT id, email, state, attempts, next_run_at, created_at, updated_at, finished_at, last_status, last_zoom_code, last_error
     FROM jobs WHERE ($1 IS NULL OR state = $1) AND ($2 IS NULL OR email = $2)
     ORDER BY created_at DESC, id DESC LIMIT $3";

pub const EVENTS_FOR_EMAIL: &str =
    "SELECT id, source, event_id, event_type, email, occurred_at, received_at, job_id, ignored_reason
     FROM events WHERE email = $1 ORDER BY received_at, id";

pub const EVENTS_FOR_JOB: &str =
    "SELECT id, source, event_id, event_type, email, occurred_at, received_at, job_id, ignored_reason
     FROM events WHERE job_id = $1 ORDER BY received_at, id";

pub const LIST_REJECTED: &str =
    "SELECT id, source, received_at, reason, body FROM rejected_requests ORDER BY received_at DESC, id DESC LIMIT $1";

/// `$1` id, `$2` now. The NOT EXISTS keeps the one-active-job-per-person rule (the unique index
/// would reject it anyway; this turns the conflict into "not retried").
pub const RETRY_JOB: &str = "UPDATE jobs SET state = 'pending', next_run_at = $2, finished_at = NULL, updated_at = $2
     WHERE id = $1 AND state IN ('failed', 'dead')
       AND NOT EXISTS (SELECT 1 FROM jobs AS a WHERE a.email = jobs.email AND a.state IN ('pending', 'in_flight'))";

/// `$1` id, `$2` lease token, `$3` now.
pub const RELEASE: &str =
    "UPDATE jobs SET state = 'pending', attempts = attempts - 1, next_run_at = $3, updated_at = $3,
         lease_token = NULL, lease_until = NULL
     WHERE id = $1 AND lease_token = $2 AND state = 'in_flight'";

/// Finished jobs older than `$1`: the sub-select every prune statement shares.
const FINISHED_BEFORE: &str =
    "SELECT id FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1 AND state NOT IN ('pending', 'in_flight')";

pub fn prune_attempts() -> String {
    format!("DELETE FROM attempts WHERE job_id IN ({FINISHED_BEFORE})")
}

pub fn prune_events() -> String {
    format!("DELETE FROM events WHERE job_id IN ({FINISHED_BEFORE}) OR (job_id IS NULL AND received_at < $1)")
}

pub const PRUNE_JOBS: &str =
    "DELETE FROM jobs WHERE finished_at IS NOT NULL AND finished_at < $1 AND state NOT IN ('pending', 'in_flight')";

pub const PRUNE_REJECTED: &str = "DELETE FROM rejected_requests WHERE received_at < $1";

pub const OLDEST_ACTIVE: &str = "SELECT MIN(created_at) FROM jobs WHERE state IN ('pending', 'in_flight')";
