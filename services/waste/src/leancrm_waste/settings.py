"""The waste projector's settings (prefix ``LEANCRM_``, beside the kit's)."""

from __future__ import annotations

from pydantic import Field

from leancrm_servicekit.settings import ServiceSettings


class WasteSettings(ServiceSettings):
    target_occupancy: float = Field(
        default=0.85, gt=0, le=1,
        description="Occupancy target; idle time beyond (1 - target) x staffed is overproduction.",
    )
    projector_batch_max_records: int = Field(
        default=5000, ge=1, le=100_000, description="Events applied in one transaction.")
    projector_concurrency: int = Field(
        default=4, ge=1, le=8,
        description="Transactions applying one consumed batch at once, each on whole partitions.")
    db_pool_size: int = Field(
        default=8, ge=2, le=100,
        description="Connections: one per concurrent projector transaction, the rest for the API.")
    store_check_interval_s: float = Field(
        default=1.0, gt=0, description="How often the projector checks for a switched store.")
