-- Times are Unix milliseconds (BIGINT) in every table, the same as in the SQLite schema, so the
-- statements in src/store/sql.rs run unchanged on both backends.

CREATE TABLE jobs (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('pending','in_flight','revoked','not_found','dry_run','failed','dead')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    next_run_at    BIGINT NOT NULL,
    lease_token    TEXT,
    lease_until    BIGINT,
    -- An event arrived while a call was in flight: run once more after it finishes.
    rerun          BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT,
    last_status    BIGINT,
    last_zoom_code BIGINT,
    last_error     TEXT
);
-- Coalescing across replicas: at most one active job per person; new events attach to it.
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
    received_at    BIGINT NOT NULL,
    job_id         TEXT REFERENCES jobs (id),
    ignored_reason TEXT,
    -- Dedupe across replicas: a sender's retry of the same event hits this constraint.
    UNIQUE (source, event_id)
);
CREATE INDEX events_email ON events (email);
CREATE INDEX events_job ON events (job_id);

CREATE TABLE attempts (
    id           TEXT PRIMARY KEY,
    job_id       TEXT NOT NULL REFERENCES jobs (id),
    started_at   BIGINT NOT NULL,
    duration_ms  BIGINT NOT NULL,
    http_status  BIGINT,
    zoom_code    BIGINT,
    outcome      TEXT NOT NULL,
    error        TEXT
);
CREATE INDEX attempts_job ON attempts (job_id);

CREATE TABLE rejected_requests (
    id          TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    reason      TEXT NOT NULL,
    body        BYTEA NOT NULL
);

-- Wake-ups: whenever a job becomes pending (new, rerun, retry scheduled, or set by hand), every
-- replica listening on this channel is told. Notifications are sent at commit and identical
-- ones within a transaction are folded into one, so a batch of jobs costs one wake-up.
CREATE FUNCTION zoom_sso_revoker_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('zoom_sso_revoker_jobs', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_pending_notify AFTER INSERT OR UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.state = 'pending') EXECUTE FUNCTION zoom_sso_revoker_notify_jobs();

-- The Zoom rate ceiling shared by all replicas: the next free call slot, in microseconds of the
-- database clock (one clock for every replica). See src/store/postgres.rs `PgCallSchedule`.
CREATE TABLE zoom_rate_limit (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    next_slot_us BIGINT NOT NULL
);
INSERT INTO zoom_rate_limit (id, next_slot_us) VALUES (1, 0);
