"""The data-quality totals behind the gauge ``leancrm_data_quality_anomalies``
(contract section 6, ``waste.data_quality``): what spans streams and does not add up,
counted over every day. All its SQL lives here."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge

from leancrm_contracts.read_model import ANOMALIES
from leancrm_servicekit.db import Conn

_TOTALS = "SELECT anomaly, sum(occurrences)::bigint AS n FROM waste.data_quality GROUP BY anomaly"


async def anomaly_totals(conn: Conn) -> dict[str, int]:
    """Occurrences of each kind of anomaly over every day; 0 for the kinds with none."""
    totals = dict.fromkeys(ANOMALIES, 0)
    for row in await conn.fetch(_TOTALS):
        totals[str(row["anomaly"])] = int(row["n"])
    return totals


class DataQualityGauge:
    """``leancrm_data_quality_anomalies{anomaly}``, set from :func:`anomaly_totals`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.gauge = Gauge(
            "leancrm_data_quality_anomalies",
            "Accepted events spanning streams that do not add up (waste.data_quality), "
            "over every day, by kind of anomaly",
            ["anomaly"], registry=registry)
        for anomaly in ANOMALIES:
            self.gauge.labels(anomaly=anomaly).set(0)

    async def refresh(self, conn: Conn) -> dict[str, int]:
        totals = await anomaly_totals(conn)
        for anomaly, n in totals.items():
            self.gauge.labels(anomaly=anomaly).set(n)
        return totals
