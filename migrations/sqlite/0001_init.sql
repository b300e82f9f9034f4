-- Times are Unix milliseconds (INTEGER) in every table, the same in every backend.

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending','in_flight','revoked','not_found','dry_run','failed','dead')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    next_run_at    INTEGER NOT NULL,
    lease_token    TEXT,
    lease_until    INTEGER,
    -- An event arrived while a call was in flight: run once more after it finishes.
    rerun          INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    finished_at    INTEGER,
    last_status    INTEGER,
    last_zoom_code INTEGER,
    last_error     TEXT
);
-- Coalescing: at most one active job per person; new events attach to it.
CREATE UNIQUE INDEX jobs_one_active_per_email ON jobs (email) WHERE state IN ('pending', 'in_flight');
CREATE INDEX jobs_due ON jobs (state, next_run_at);
CREATE INDEX jobs_email ON jobs (email);

CREATE TABLE events (
    id             TEXT PRIMARY KEY,
    source         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    email          TEXT,
    occurred_at    TEXT,
    received_at    INTEGER NOT NULL,
    job_id         TEXT REFERENCES jobs (id),
    ignored_reason TEXT,
    -- Dedupe: a sender's retry of the same event is recognised by this constraint.
    UNIQUE (source, event_id)
);
CREATE INDEX events_email ON events (email);
CREATE INDEX events_job ON events (job_id);

CREATE TABLE attempts (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    started_at   INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    http_status  INTEGER,
    zoom_code    INTEGER,
    outcome      TEXT NOT NULL,
    error        TEXT
);
CREATE INDEX attempts_job ON attempts (job_id);

CREATE TABLE rejected_requests (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason      TEXT NOT NULL,
    body        BLOB NOT NULL
);
