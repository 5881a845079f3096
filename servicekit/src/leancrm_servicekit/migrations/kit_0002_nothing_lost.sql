-- What keeps every record's verdict once and every message moving (issue 10).

-- Where each consumed partition's next record is, committed in the same transaction as
-- what its records did: a record redelivered after a crash (the broker's own committed
-- offset lags behind) is recognised and not answered twice.
CREATE TABLE IF NOT EXISTS consumer_offsets (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Messages the broker or the producer refused for good (too large, invalid topic, ...):
-- taken out of the outbox so that what follows is published, kept here with the reason
-- until someone replays them (`python -m leancrm_<service> parked replay`).
CREATE TABLE IF NOT EXISTS parked_messages (
    id          BIGSERIAL PRIMARY KEY,
    outbox_id   BIGINT NOT NULL,
    topic       TEXT NOT NULL,
    kafka_key   BYTEA,
    value       BYTEA NOT NULL,
    headers     JSONB NOT NULL,
    reason      TEXT NOT NULL,
    error       TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    parked_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS parked_messages_reason ON parked_messages (reason, parked_at);

-- Every replay of dead letters or parked messages, and what it replayed.
CREATE TABLE IF NOT EXISTS replays (
    id          BIGSERIAL PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('dead_letters', 'parked')),
    selection   JSONB NOT NULL,
    messages    INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    started_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at TIMESTAMPTZ,
    by_user     TEXT NOT NULL DEFAULT current_user
);
-- The dead letters (by their position on the DLQ) a replay sent back: replaying a range
-- again skips them unless asked to send them again.
CREATE TABLE IF NOT EXISTS replayed_dead_letters (
    dlq_partition INTEGER NOT NULL,
    dlq_offset    BIGINT NOT NULL,
    replay_id     BIGINT NOT NULL REFERENCES replays (id),
    PRIMARY KEY (dlq_partition, dlq_offset)
);

-- The relay's leader: a lease in this schema, which only the service's own role can
-- write (a session advisory lock on a fixed key could be taken by any role, stopping
-- publication). The leader renews it; a standby takes it over once it has expired, or
-- at once when the leader's database session is gone (a killed leader).
CREATE TABLE IF NOT EXISTS relay_lease (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    holder      TEXT NOT NULL,
    backend_pid INTEGER,
    expires_at  TIMESTAMPTZ NOT NULL
);
INSERT INTO relay_lease (singleton, holder, expires_at) VALUES (TRUE, '', '-infinity')
ON CONFLICT DO NOTHING;
