"""Splitting a consumed batch into groups of whole partitions (pure)."""

from __future__ import annotations

from leancrm_servicekit.inbound import InboundRecord
from leancrm_servicekit.projection import split_by_partition


def rec(topic: str, partition: int, offset: int) -> InboundRecord:
    return InboundRecord(topic, partition, offset, None, b"{}")


BATCH = [rec("a", 0, 10), rec("b", 1, 5), rec("a", 1, 7), rec("a", 0, 11), rec("b", 1, 6),
         rec("a", 2, 1), rec("a", 1, 8)]


def test_one_group_is_the_batch_as_it_came() -> None:
    assert split_by_partition(BATCH, 1) == [BATCH]


def test_groups_hold_whole_partitions_in_their_order_and_lose_nothing() -> None:
    groups = split_by_partition(BATCH, 2)
    assert len(groups) == 2
    assert sorted((r.topic, r.partition, r.offset) for g in groups for r in g) == sorted(
        (r.topic, r.partition, r.offset) for r in BATCH)
    owners: dict[tuple[str, int], int] = {}
    for i, g in enumerate(groups):
        for r in g:
            assert owners.setdefault((r.topic, r.partition), i) == i  # a partition in one group only
        for tp in {(r.topic, r.partition) for r in g}:
            offsets = [r.offset for r in g if (r.topic, r.partition) == tp]
            assert offsets == sorted(offsets)  # consumed order kept


def test_never_more_groups_than_partitions() -> None:
    one_partition = [rec("a", 0, i) for i in range(5)]
    assert split_by_partition(one_partition, 4) == [one_partition]
