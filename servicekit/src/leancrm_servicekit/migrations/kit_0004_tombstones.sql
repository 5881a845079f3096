-- A message may be a tombstone: a null value, which deletes its key from a compacted
-- topic (the customers service's key topic, contract section 2.8).
ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
ALTER TABLE parked_messages ALTER COLUMN value DROP NOT NULL;
