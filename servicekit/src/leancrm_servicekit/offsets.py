"""Consumer positions kept in PostgreSQL, committed in the same transaction as what the
records did (the store of both the command consumers and the projections).

The broker's own committed offsets lag behind (a process killed between the database
commit and the offset commit gets its last batch again; an expired consumer group
starts from the beginning): the position stored here says which records were already
handled, so none is handled or answered twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from leancrm_servicekit.db import Conn, check_identifier

TopicPartition = tuple[str, int]


class ConsumerOffsets:
    """The ``consumer_offsets`` table of one schema (``schema.consumer_offsets``, or the
    pool's ``search_path`` when no schema is given)."""

    def __init__(self, schema: str | None = None) -> None:
        self.table = f"{check_identifier(schema)}.consumer_offsets" if schema else "consumer_offsets"

    async def read(self, conn: Conn, parts: Iterable[TopicPartition] | None = None
                   ) -> dict[TopicPartition, int]:
        """Stored next offsets (of ``parts``, or all); a partition never stored is absent."""
        if parts is None:
            rows = await conn.fetch(f"SELECT topic, partition, next_offset FROM {self.table}")
        else:
            wanted = sorted(set(parts))
            rows = await conn.fetch(
                f"SELECT topic, partition, next_offset FROM {self.table} "
                "WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[]))",
                [p[0] for p in wanted], [p[1] for p in wanted])
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def lock(self, conn: Conn, parts: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """Lock the rows of ``parts`` (made at 0 when missing) for this transaction, in
        sorted order, and return their next offsets."""
        wanted = sorted(set(parts))
        topics, partitions = [p[0] for p in wanted], [p[1] for p in wanted]
        await conn.execute(
            f"INSERT INTO {self.table} (topic, partition, next_offset) "
            "SELECT t, p, 0 FROM unnest($1::text[], $2::int[]) AS u(t, p) ON CONFLICT DO NOTHING",
            topics, partitions)
        rows = await conn.fetch(
            f"SELECT topic, partition, next_offset FROM {self.table} "
            "WHERE (topic, partition) IN (SELECT * FROM unnest($1::text[], $2::int[])) "
            "ORDER BY topic, partition FOR UPDATE",
            topics, partitions)
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    async def compare_and_advance(self, conn: Conn, expected: Mapping[TopicPartition, int],
                                  next_offsets: Mapping[TopicPartition, int]) -> bool:
        """Move each partition from its ``expected`` next offset (absent: never stored) to
        ``next_offsets``, in this transaction, and lock its row; False, changing nothing
        the caller keeps, when another consumer moved one first. One statement in the
        usual case (every row exists): the update both locks and checks."""
        parts = sorted(next_offsets)
        updated = await conn.fetch(
            f"UPDATE {self.table} o SET next_offset = u.n FROM "
            "unnest($1::text[], $2::int[], $3::bigint[], $4::bigint[]) AS u(t, p, e, n) "
            "WHERE o.topic = u.t AND o.partition = u.p AND o.next_offset = u.e "
            "RETURNING o.topic, o.partition",
            [tp[0] for tp in parts], [tp[1] for tp in parts],
            [expected.get(tp, 0) for tp in parts], [next_offsets[tp] for tp in parts])
        missing = [tp for tp in parts if tp not in {(r["topic"], r["partition"]) for r in updated}]
        if not missing:
            return True
        if any(tp in expected for tp in missing):
            return False  # a row that existed no longer holds the expected offset
        inserted = await conn.fetch(
            f"INSERT INTO {self.table} (topic, partition, next_offset) "
            "SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) "
            "ON CONFLICT DO NOTHING RETURNING topic, partition",
            [tp[0] for tp in missing], [tp[1] for tp in missing], [next_offsets[tp] for tp in missing])
        return len(inserted) == len(missing)  # else another consumer stored one first

    async def advance(self, conn: Conn, next_offsets: Mapping[TopicPartition, int]) -> None:
        """Store the next offsets of partitions whose rows this transaction locked."""
        if not next_offsets:
            return
        await conn.execute(
            f"UPDATE {self.table} o SET next_offset = u.n FROM "
            "unnest($1::text[], $2::int[], $3::bigint[]) AS u(t, p, n) "
            "WHERE o.topic = u.t AND o.partition = u.p",
            [k[0] for k in next_offsets], [k[1] for k in next_offsets], list(next_offsets.values()))
