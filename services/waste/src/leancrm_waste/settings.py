"""The waste projector's settings (prefix ``LEANCRM_``, beside the kit's)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leancrm_servicekit.settings import ServiceSettings
from leancrm_waste.domain.alerts import parse_alert_thresholds
from leancrm_waste.domain.service_level import parse_thresholds


class CostSettings(BaseSettings):
    """The cost table's overrides: part of :class:`WasteSettings`, and read alone by the
    huddle report, which needs no other setting of the service."""

    model_config = SettingsConfigDict(env_prefix="LEANCRM_", extra="ignore")

    waste_cost_seconds: str = Field(
        default="",
        description="Seconds per unit of counted wastes over the defaults of read/costs.py, "
                    "e.g. 'over_processing=45,defects=420' (read by read.costs.parse_costs).")


class WasteSettings(ServiceSettings, CostSettings):
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
        default=6, ge=2, le=100,
        description="The projector's connections: one per concurrent transaction, and two for the "
                    "store check and readiness (the API has a pool of its own: api_pool_size).")
    api_pool_size: int = Field(
        default=3, ge=1, le=50,
        description="Connections of the API and dashboard, apart from the projector's: readers wait "
                    "for each other, never for the projector, nor it for them.")
    api_statement_timeout_s: float = Field(
        default=20.0, gt=0, le=600,
        description="The longest one API query may run (PostgreSQL statement_timeout of the API's "
                    "connections); a longer one is cancelled and answered 503 'timeout'.")
    store_check_interval_s: float = Field(
        default=1.0, gt=0, description="How often the projector checks for a switched store.")
    service_level_thresholds: str = Field(
        default="",
        description="Service-level thresholds in seconds per channel over the defaults (phone 20, "
                    "chat 60, email 86400, sms 3600, social 3600), e.g. 'phone=30,chat=120'; "
                    "'<channel>=off' removes one (contract section 5).")

    @field_validator("service_level_thresholds")
    @classmethod
    def _thresholds_parse(cls, value: str) -> str:
        parse_thresholds(value)
        return value

    @property
    def thresholds(self) -> dict[str, float]:
        """The service-level threshold per channel, the defaults overridden."""
        return parse_thresholds(self.service_level_thresholds)
    alert_interval_s: float = Field(
        default=5.0, ge=0.1, le=3600,
        description="How often the alert rules are evaluated over the read model (contract section 5).")
    alert_thresholds: str = Field(
        default="",
        description="Alert thresholds over the defaults (backlog_aged 0, queue_wait_p90 1 x the "
                    "channel's service-level threshold, occupancy_high 0.95), e.g. "
                    "'backlog_aged=10,occupancy_high=0.9'; '<rule>=off' switches a rule off.")
    alert_rates_every_s: float = Field(
        default=300.0, ge=1, le=86400,
        description="How often the rate_signal rule re-reads the daily rates (a scan of the "
                    "interactions); the other rules read their figures every round.")

    @field_validator("alert_thresholds")
    @classmethod
    def _alert_thresholds_parse(cls, value: str) -> str:
        parse_alert_thresholds(value)
        return value
