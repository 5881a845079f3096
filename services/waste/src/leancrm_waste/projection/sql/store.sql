-- The waste projector's private store, one schema per build ({store}); a rebuild
-- fills a fresh one and the public views (views.sql) are switched to it at once.
CREATE SCHEMA IF NOT EXISTS {store};

-- Effectively once: the next offset to read per partition, committed in the same
-- transaction as the read-model changes of the records before it.
CREATE TABLE IF NOT EXISTS {store}.consumer_offsets (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Every event applied, by event_id: a redelivered event is skipped.
CREATE TABLE IF NOT EXISTS {store}.seen_events (
    event_id   UUID PRIMARY KEY,
    event_type TEXT NOT NULL
);

-- The events of each interaction (the input of the pure waste definitions). data is
-- JSON, not JSONB: it is only ever read back whole, and PostgreSQL stores JSON as the
-- text it was given instead of converting it (about 6 % less database CPU per event).
-- A store made when it was JSONB keeps working: json converts to jsonb on insert.
CREATE TABLE IF NOT EXISTS {store}.interaction_events (
    interaction_id UUID NOT NULL,
    event_id       UUID NOT NULL,
    event_type     TEXT NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    data           JSON NOT NULL,
    PRIMARY KEY (interaction_id, event_id)
);

-- Per-interaction figures (section 5) that need no other interaction.
CREATE TABLE IF NOT EXISTS {store}.interactions (
    interaction_id          UUID PRIMARY KEY,
    customer_id             UUID,
    channel                 TEXT,
    reason                  TEXT,
    started_at              TIMESTAMPTZ,
    started_event_id        UUID,
    ended_at                TIMESTAMPTZ,
    status                  TEXT NOT NULL,
    resolved_by             TEXT,
    transfers               INTEGER NOT NULL,
    cross_channel_transfers INTEGER NOT NULL,
    identifications         INTEGER NOT NULL,
    queue_wait_s            DOUBLE PRECISION NOT NULL,
    hold_s                  DOUBLE PRECISION NOT NULL,
    handle_s                DOUBLE PRECISION NOT NULL,
    value_added_s           DOUBLE PRECISION NOT NULL,
    lead_time_s             DOUBLE PRECISION,
    reached_agent           BOOLEAN NOT NULL,
    team                    TEXT
);
CREATE INDEX IF NOT EXISTS interactions_repeat_idx
    ON {store}.interactions (customer_id, reason, started_at, interaction_id);
CREATE INDEX IF NOT EXISTS interactions_open_idx
    ON {store}.interactions (channel, started_at) WHERE ended_at IS NULL;

-- Waste ledger rows one interaction determines (repeat_contact and
-- overproduction rows are derived in the views).
CREATE TABLE IF NOT EXISTS {store}.ledger (
    row_key         TEXT PRIMARY KEY,
    interaction_id  UUID NOT NULL,
    waste_type      TEXT NOT NULL,
    subtype         TEXT NOT NULL,
    occurred_at     TIMESTAMPTZ NOT NULL,
    customer_id     UUID,
    channel         TEXT,
    reason          TEXT,
    team            TEXT,
    quantity        DOUBLE PRECISION NOT NULL,
    unit            TEXT NOT NULL,
    source_event_id UUID
);
CREATE INDEX IF NOT EXISTS ledger_interaction_idx ON {store}.ledger (interaction_id);
CREATE INDEX IF NOT EXISTS ledger_day_idx ON {store}.ledger (occurred_at);

-- Capacity: busy seconds of agent segments and staffed seconds of closed sign-in
-- periods, split by UTC hour and team.
CREATE TABLE IF NOT EXISTS {store}.busy_hourly (
    interaction_id UUID NOT NULL,
    bucket_start   TIMESTAMPTZ NOT NULL,
    team           TEXT NOT NULL,
    busy_s         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (interaction_id, bucket_start, team)
);
CREATE TABLE IF NOT EXISTS {store}.agent_events (
    agent_id    TEXT NOT NULL,
    event_id    UUID NOT NULL,
    event_type  TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    team        TEXT,
    PRIMARY KEY (agent_id, event_id)
);
CREATE INDEX IF NOT EXISTS agent_events_time_idx ON {store}.agent_events (agent_id, occurred_at);
-- One row per agent, locked by the transaction recomputing that agent: a row of the
-- store, which only the projector's role can lock (an advisory lock on a known key
-- could be held by any role and stall the projector).
CREATE TABLE IF NOT EXISTS {store}.agents (
    agent_id TEXT PRIMARY KEY
);
-- Each agent's sign-in periods as the pairing scan found them: a batch replays an
-- agent only from its last resume point (domain capacity.resume_point), so the work
-- per batch does not grow with the agent's history.
CREATE TABLE IF NOT EXISTS {store}.agent_periods (
    agent_id           TEXT NOT NULL,
    signed_in_event_id UUID NOT NULL,
    team               TEXT,
    start_at           TIMESTAMPTZ NOT NULL,
    end_at             TIMESTAMPTZ,
    PRIMARY KEY (agent_id, start_at, signed_in_event_id)
);
CREATE INDEX IF NOT EXISTS agent_periods_end_idx ON {store}.agent_periods (agent_id, end_at);
CREATE TABLE IF NOT EXISTS {store}.staffed_hourly (
    agent_id     TEXT NOT NULL,
    bucket_start TIMESTAMPTZ NOT NULL,
    team         TEXT NOT NULL,
    staffed_s    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (agent_id, bucket_start, team)
);

-- Each field keeps the stream_version that set it: the latest version wins, so
-- the figures do not depend on arrival order; forgotten is for ever.
CREATE TABLE IF NOT EXISTS {store}.customers (
    customer_id UUID PRIMARY KEY,
    segment     TEXT,
    name        TEXT,
    email       TEXT,
    forgotten   BOOLEAN NOT NULL DEFAULT FALSE,
    segment_v   INTEGER NOT NULL DEFAULT 0,
    name_v      INTEGER NOT NULL DEFAULT 0,
    email_v     INTEGER NOT NULL DEFAULT 0
);

-- Personal data (contract section 2.8): clear (what the events say), withheld (sealed
-- fields wait for a key this projector can use), erased (key shredded or forgotten).
ALTER TABLE {store}.customers ADD COLUMN IF NOT EXISTS personal_data TEXT NOT NULL DEFAULT 'clear';

-- The customers' data keys from crm.customers.keys.v1, as published: wrapped with the
-- key-encryption key, unwrapped only in memory. erased: the key's tombstone arrived (for
-- ever: what it sealed is never opened again, whatever arrives later).
CREATE TABLE IF NOT EXISTS {store}.personal_keys (
    customer_id UUID PRIMARY KEY,
    kek_id      TEXT,
    wrapped_key TEXT,
    erased      BOOLEAN NOT NULL DEFAULT FALSE
);

-- Sealed personal fields no key has opened yet (a key that has not arrived, no KEK):
-- ciphertext only; opened and deleted when the key comes, deleted when it is erased.
CREATE TABLE IF NOT EXISTS {store}.personal_pending (
    customer_id    UUID NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type     TEXT NOT NULL,
    personal       JSONB NOT NULL,
    PRIMARY KEY (customer_id, stream_version)
);

CREATE TABLE IF NOT EXISTS {store}.feedback (
    feedback_id     UUID PRIMARY KEY,
    customer_id     UUID,
    source          TEXT,
    received_at     TIMESTAMPTZ,
    interaction_id  UUID,
    topic           TEXT,
    rating          INTEGER,
    sentiment_score DOUBLE PRECISION,
    sentiment_label TEXT,
    routed_team     TEXT
);
CREATE TABLE IF NOT EXISTS {store}.idea_votes (
    feedback_id       UUID NOT NULL,
    voter_customer_id UUID NOT NULL,
    vote              INTEGER NOT NULL,
    voted_at          TIMESTAMPTZ NOT NULL,
    event_id          UUID NOT NULL,
    PRIMARY KEY (feedback_id, voter_customer_id)
);

-- Improvements (contract section 4, improvements): improvement.started sets the start's
-- columns, improvement.ended the end's, so the row is the same in any arrival order.
CREATE TABLE IF NOT EXISTS {store}.improvements (
    improvement_id     UUID PRIMARY KEY,
    title              TEXT,
    target             TEXT,
    channel            TEXT,
    reason             TEXT,
    team               TEXT,
    starts_on          DATE,
    owner_team         TEXT,
    expected_direction TEXT,
    expected_size      DOUBLE PRECISION,
    note               TEXT,
    started_at         TIMESTAMPTZ,
    outcome            TEXT,
    outcome_note       TEXT,
    ended_at           TIMESTAMPTZ
);

CREATE TABLE IF NOT EXISTS {store}.settings (
    singleton        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    target_occupancy DOUBLE PRECISION NOT NULL CHECK (target_occupancy > 0 AND target_occupancy <= 1)
);
-- The business time zone (IANA name; LEANCRM_BUSINESS_TIMEZONE, written at every start):
-- the views cut their days in it. Added to stores made before it, as UTC.
ALTER TABLE {store}.settings ADD COLUMN IF NOT EXISTS business_timezone TEXT NOT NULL DEFAULT 'UTC';

-- Contacts waiting now (contract section 6, waste.open_interactions): the start of an
-- open interaction's earliest open queue episode and open hold episode, null when
-- none. Added after the table's first version, so a store made before gets them too.
ALTER TABLE {store}.interactions
    ADD COLUMN IF NOT EXISTS queued_since  TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS on_hold_since TIMESTAMPTZ;

-- The service-level threshold per channel (contract section 5), in seconds, as the
-- settings gave it at the service's last start (LEANCRM_SERVICE_LEVEL_THRESHOLDS over the
-- defaults); waste.service_level_targets shows it, waste.service_level_hourly uses it.
CREATE TABLE IF NOT EXISTS {store}.service_level_targets (
    channel     TEXT PRIMARY KEY,
    threshold_s DOUBLE PRECISION NOT NULL CHECK (threshold_s >= 0)
);
