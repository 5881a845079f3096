"""Every Kafka client the project makes gets the transport security of the settings:
the command services' faststream broker and topic admin, the relay's producer and the
consumer that reads back what it published, the projector's consumer (live and
rebuild), the waste service's topic admin, the parking lot's DLQ scan and replay
producer, and the simulator's producer and result reader.

No broker is needed: each client class is replaced by a subclass that notes the
keyword arguments it was made with, makes the real client with them (which checks
them: a TLS protocol without an SSL context, say, is refused) and stops the code path
when it would connect. SASL cannot be tried against the embedded broker (Tansu has no
SASL), so this is where SASL is shown to reach every client; TLS is also tried for real
in ``test_kafka_tls.py``.
"""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiokafka
import aiokafka.admin
import pytest
from typer.testing import CliRunner

import leancrm_servicekit.command_service as command_service
import leancrm_servicekit.kafka as kit_kafka
import leancrm_servicekit.parking_lot as parking_lot
import leancrm_servicekit.projection as projection
import leancrm_servicekit.relay as relay_module
import leancrm_simulator.run as simulator
from leancrm_customers.app import SPEC
from leancrm_devstack.certificates import CertificateAuthority
from leancrm_servicekit.bootstrap import Infrastructure
from leancrm_servicekit.command_service import CommandService
from leancrm_servicekit.metrics import ServiceMetrics
from leancrm_servicekit.settings import ServiceSettings
from leancrm_waste.projection.projector import projector
from leancrm_waste.service import WasteService
from leancrm_waste.settings import WasteSettings

ROOT = Path(__file__).resolve().parents[2]
BOOTSTRAP = "127.0.0.1:1"  # nothing listens: no client gets that far


class Stop(Exception):
    """Where a recorded client would have connected."""


Made = list[tuple[str, dict[str, Any]]]


def recording(kind: type[Any], made: Made, *, starts: bool = False) -> type[Any]:
    """``kind``, noting what it is made with; ``start`` stops the code path (or, with
    ``starts``, pretends to succeed)."""

    class Recording(kind):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append((kind.__name__, kwargs))
            super().__init__(*args, **kwargs)

        async def start(self) -> None:
            if not starts:
                raise Stop(kind.__name__)

        async def stop(self) -> None:
            pass

        async def close(self) -> None:
            pass

    return Recording


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """SASL (SCRAM-SHA-512) over TLS, with a CA file and the password in a file."""
    directory = tmp_path_factory.mktemp("transport")
    ca = CertificateAuthority.create(directory)
    password = directory / "sasl-password"
    password.write_text("s3cret\n")
    return {"LEANCRM_KAFKA_BOOTSTRAP": BOOTSTRAP, "LEANCRM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "LEANCRM_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512", "LEANCRM_KAFKA_SASL_USERNAME": "lean",
            "LEANCRM_KAFKA_SASL_PASSWORD_FILE": str(password), "LEANCRM_KAFKA_SSL_CAFILE": str(ca.cert)}


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> Made:
    """Every aiokafka client the project's modules make, recorded."""
    made: Made = []
    for module in (kit_kafka, relay_module, projection, parking_lot, simulator):
        for name in ("AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient"):
            if hasattr(module, name):
                monkeypatch.setattr(module, name, recording(getattr(module, name), made,
                                                            starts=module is simulator))
    return made


def assert_secured(made: Made, expected: list[str]) -> None:
    assert [kind for kind, _ in made] == expected
    for kind, options in made:
        assert options["security_protocol"] == "SASL_SSL", kind
        assert options["sasl_mechanism"] == "SCRAM-SHA-512", kind
        assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("lean", "s3cret"), kind
        assert options["ssl_context"].check_hostname, kind


def infrastructure(settings: ServiceSettings, name: str) -> Infrastructure:
    from leancrm_servicekit.kafka import client_options

    outbox = SimpleNamespace(published_positions=_no_positions)
    return Infrastructure(name=name, settings=settings, schema=name, dsn="postgresql://unused",
                          kafka_bootstrap=BOOTSTRAP, pool=None, outbox=outbox,  # type: ignore[arg-type]
                          metrics=ServiceMetrics(name), kafka_options=client_options(settings))


async def _no_positions(conn: Any, topics: Any) -> dict[Any, int]:
    return {}


async def test_a_command_service_its_broker_topics_and_relay(env: dict[str, str], made: Made,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from leancrm_servicekit.settings import load_settings

    settings = load_settings(ServiceSettings, env)
    infra = infrastructure(settings, "customers")

    async def opened(*args: Any, **kwargs: Any) -> Infrastructure:
        return infra

    monkeypatch.setattr(command_service, "open_infrastructure", opened)
    service = CommandService(SPEC, settings)
    with pytest.raises(Stop):
        await service.start()  # creating the topics is the first thing it does on Kafka
    relay = infra.relay()
    with pytest.raises(Stop):
        await relay._start_producer()
    with pytest.raises(Stop):
        await relay._published_after(None, ["crm.customers.events.v1"])  # type: ignore[arg-type]
    assert_secured(made, ["AIOKafkaAdminClient", "AIOKafkaProducer", "AIOKafkaConsumer"])

    # faststream: its producer and admin client get the connection options, its consumers
    # (one per subscriber) the builder's; both are what aiokafka gets from the kit
    service.handler = object()  # type: ignore[assignment]
    broker = service._build_broker(infra)
    consumer_options = broker.config.broker_config.builder.keywords
    for options in (broker._connection_kwargs, consumer_options):
        for key, value in infra.kafka_options.items():
            assert options[key] == value, key


async def test_the_waste_service_its_topics_projector_and_rebuild(env: dict[str, str], made: Made,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from leancrm_servicekit.settings import load_settings

    settings = load_settings(WasteSettings, env)
    infra = infrastructure(settings, "waste")
    service = WasteService(settings)

    async def prepared() -> str:
        service.infra = infra
        return "waste_store_1"

    monkeypatch.setattr(service, "prepare", prepared)
    with pytest.raises(Stop):
        await service.start(http=False)
    # the live projector and a rebuild make their consumer the same way (projection/projector.py)
    consumer = projector(infra, settings, "waste_store_1", "leancrm-waste")
    with pytest.raises(Stop):
        await consumer.run(asyncio.Event())
    assert_secured(made, ["AIOKafkaAdminClient", "AIOKafkaConsumer"])


def test_the_parking_lot_commands(env: dict[str, str], made: Made) -> None:
    dlq, _ = parking_lot.operations_app("customers", [SPEC.command_topic], "customers")
    runner = CliRunner()
    unreachable_db = {**env, "LEANCRM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"}
    for args in (["list"], ["show", "0", "0"], ["replay"]):
        result = runner.invoke(dlq, args, env=unreachable_db)
        assert result.exception is not None, result.output
    # list and show scan the DLQ; replay makes its producer, then stops at the database
    assert_secured(made, ["AIOKafkaConsumer", "AIOKafkaConsumer", "AIOKafkaProducer"])


async def test_the_simulator(env: dict[str, str], made: Made, monkeypatch: pytest.MonkeyPatch) -> None:
    def reader_stops(*args: Any, **kwargs: Any) -> Any:
        made.append(("AIOKafkaConsumer", kwargs))
        raise Stop("AIOKafkaConsumer")

    monkeypatch.setattr(simulator, "AIOKafkaConsumer", reader_stops)
    with pytest.raises(Stop):
        await simulator.drive(env, customers=2, days=1)
    assert_secured(made, ["AIOKafkaProducer", "AIOKafkaConsumer"])


_CLIENTS = {"AIOKafkaProducer", "AIOKafkaConsumer", "AIOKafkaAdminClient", "KafkaBroker", "make_producer"}


def test_no_client_is_made_without_options() -> None:
    """Production code (the kit, the services, the simulator) makes every Kafka client
    with options spread in (``**options``) or faststream's ``security=``: a client
    added later with only ``bootstrap_servers`` fails here."""
    sources = [*(ROOT / "servicekit" / "src").rglob("*.py"), *(ROOT / "services").glob("*/src/**/*.py"),
               *(ROOT / "tools" / "simulator" / "src").rglob("*.py")]
    bare, seen = [], 0
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in _CLIENTS:
                continue
            seen += 1
            if not any(k.arg is None or k.arg == "security" for k in node.keywords):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {name}")
    assert bare == []
    assert seen >= 10


def test_the_real_aiokafka_classes_are_what_is_replaced() -> None:
    """The replacements above stand for the classes the modules really use."""
    assert kit_kafka.AIOKafkaProducer is aiokafka.AIOKafkaProducer
    assert kit_kafka.AIOKafkaAdminClient is aiokafka.admin.AIOKafkaAdminClient
    for module in (relay_module, projection, parking_lot, simulator):
        assert module.AIOKafkaConsumer is aiokafka.AIOKafkaConsumer
