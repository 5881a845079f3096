-- The event store every command service keeps in its own schema (search_path).
-- A unique (stream_id, stream_version) makes a lost update impossible; the
-- global_position is gapless because it is allocated under the row lock of
-- positions, which also makes commit order equal position order.

CREATE TABLE IF NOT EXISTS positions (
    singleton BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_position BIGINT NOT NULL
);
INSERT INTO positions (singleton, last_position) VALUES (TRUE, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS events (
    global_position BIGINT PRIMARY KEY,
    event_id        UUID NOT NULL UNIQUE,
    stream_id       TEXT NOT NULL,
    stream_version  INTEGER NOT NULL CHECK (stream_version >= 1),
    event_type      TEXT NOT NULL,
    schema_version  INTEGER NOT NULL DEFAULT 1,
    occurred_at     TIMESTAMPTZ NOT NULL,
    recorded_at     TIMESTAMPTZ NOT NULL,
    customer_id     UUID,
    correlation_id  TEXT,
    causation_id    TEXT,
    kafka_key       TEXT NOT NULL,
    data            JSONB NOT NULL,
    CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version)
);

-- One row per command handled: resending a command_id is a no-op that answers
-- "duplicate" with the original event ids.
CREATE TABLE IF NOT EXISTS processed_commands (
    command_id   TEXT PRIMARY KEY,
    command_type TEXT NOT NULL,
    status       TEXT NOT NULL,
    event_ids    UUID[] NOT NULL,
    error        JSONB,
    processed_at TIMESTAMPTZ NOT NULL
);

-- The transactional outbox: every message a service publishes (events, command
-- results, dead letters) is written here in the same transaction as its cause,
-- and the relay publishes it in id order, then deletes it.
CREATE TABLE IF NOT EXISTS outbox (
    id         BIGSERIAL PRIMARY KEY,
    topic      TEXT NOT NULL,
    kafka_key  BYTEA,
    value      BYTEA NOT NULL,
    headers    JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
