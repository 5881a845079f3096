"""The projector's consumer, made one way for the live service and for a rebuild: the
checkpointed consumer of the event topics, applying batches to one store."""

from __future__ import annotations

from leancrm_contracts.topics import CUSTOMERS_KEYS, EVENT_TOPICS
from leancrm_servicekit.bootstrap import Infrastructure
from leancrm_servicekit.projection import CheckpointedConsumer
from leancrm_waste.projection.apply import CONSUMER, WasteApplier
from leancrm_waste.projection.writes import WasteStore
from leancrm_waste.settings import WasteSettings


def projector(infra: Infrastructure, settings: WasteSettings, store: str, group_id: str
              ) -> CheckpointedConsumer:
    """A consumer applying the event topics and the customers' key topic (contract 2.8)
    to ``store``, with its offsets in that store."""
    return CheckpointedConsumer(
        bootstrap=infra.kafka_bootstrap, topics=[*EVENT_TOPICS, CUSTOMERS_KEYS], group_id=group_id,
        pool=infra.pool, offsets_table=f"{store}.consumer_offsets",
        apply=WasteApplier(WasteStore(store), settings.personal_data_keyring()),
        outbox=infra.outbox, metrics=infra.metrics,
        consumer_name=CONSUMER,
        max_records=settings.projector_batch_max_records,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        concurrency=settings.projector_concurrency,
        client_options=infra.kafka_options,
    )
