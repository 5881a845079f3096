-- Where the relay's acknowledged messages ended, per topic partition: a new leader
-- reads what lies after these offsets and drops from the outbox the rows a killed
-- leader had published but not yet deleted — so a crash does not publish them twice.
CREATE TABLE IF NOT EXISTS relay_positions (
    topic       TEXT NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, partition)
);
