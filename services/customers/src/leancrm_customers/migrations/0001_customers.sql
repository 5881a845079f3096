-- The customers service's own read state, kept in the commit's transaction.
-- forget_customer erases name, email and phone here (contract section 4).
CREATE TABLE IF NOT EXISTS customers (
    customer_id UUID PRIMARY KEY,
    name        TEXT,
    email       TEXT,
    phone       TEXT,
    segment     TEXT NOT NULL,
    consents    JSONB NOT NULL DEFAULT '{}'::jsonb,
    forgotten   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL
);
