-- One schema for SQLite and PostgreSQL: text ids made by the server, 64-bit
-- integers for times and sizes, no dialect-specific types.
CREATE TABLE buckets (
    id TEXT PRIMARY KEY,
    signature TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    bucket_id TEXT NOT NULL REFERENCES buckets (id),
    machine TEXT NOT NULL,
    record_id TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    crash_time BIGINT,
    kernel_release TEXT,
    source TEXT NOT NULL,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    signature_hash TEXT NOT NULL,
    client_title TEXT,
    client_kind TEXT,
    client_signature_hash TEXT,
    token_name TEXT,
    log TEXT,
    report_line BIGINT,
    blob_key TEXT,
    blob_bytes BIGINT,
    UNIQUE (machine, record_id)
);

CREATE INDEX reports_bucket_received ON reports (bucket_id, received_at);
CREATE INDEX reports_received ON reports (received_at);

CREATE TABLE tokens (
    name TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
