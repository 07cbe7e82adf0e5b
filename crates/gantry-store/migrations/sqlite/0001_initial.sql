-- Gantry's server state, SQLite flavour. Keep in step with ../postgres/0001_initial.sql:
-- the same tables, columns, constraints and indexes; only the types differ.
-- Timestamps are UTC milliseconds since the Unix epoch (INTEGER).

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    id BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    UNIQUE (user_id, name)
);

CREATE TABLE repositories (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    default_branch TEXT NOT NULL,
    forge TEXT NOT NULL,
    webhook_secret BLOB,
    last_run_number INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);

CREATE TABLE repository_members (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    PRIMARY KEY (repository_id, user_id)
);
CREATE INDEX repository_members_user ON repository_members (user_id);

CREATE TABLE org_secrets (
    name TEXT PRIMARY KEY,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE repository_secrets (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name)
);

CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    workflow_file TEXT NOT NULL,
    workflow_name TEXT NOT NULL,
    event TEXT NOT NULL,
    git_ref TEXT NOT NULL,
    branch TEXT,
    sha TEXT NOT NULL,
    actor TEXT NOT NULL,
    title TEXT NOT NULL,
    status TEXT NOT NULL,
    conclusion TEXT,
    status_reason TEXT,
    concurrency_group TEXT,
    attempt INTEGER NOT NULL DEFAULT 1,
    rerun_of INTEGER REFERENCES runs (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    -- Last: SQLite reads a large payload only when it is asked for.
    payload TEXT NOT NULL,
    UNIQUE (repository_id, number)
);
-- A repository's runs, newest first, paged by id; and by branch, by workflow.
CREATE INDEX runs_repository ON runs (repository_id, id);
CREATE INDEX runs_repository_branch ON runs (repository_id, branch, id);
CREATE INDEX runs_repository_workflow ON runs (repository_id, workflow_file, id);
-- The queue, runs in progress, and filters by status.
CREATE INDEX runs_status ON runs (status, id);
CREATE INDEX runs_concurrency ON runs (concurrency_group, id) WHERE concurrency_group IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_rerun_of ON runs (rerun_of) WHERE rerun_of IS NOT NULL;

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    job_key TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    conclusion TEXT,
    status_reason TEXT,
    labels TEXT NOT NULL,
    runner TEXT,
    needs TEXT NOT NULL,
    outputs TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    UNIQUE (run_id, job_key)
);
CREATE INDEX jobs_status ON jobs (status, id);

CREATE TABLE steps (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    conclusion TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (job_id, idx)
);

-- One row per chunk of a job's output, zstd-compressed; raw_len is the size before.
CREATE TABLE log_chunks (
    job_id INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    raw_len INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE schedule_slots (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    workflow_file TEXT NOT NULL,
    cron TEXT NOT NULL,
    last_slot INTEGER NOT NULL,
    PRIMARY KEY (repository_id, workflow_file, cron)
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
