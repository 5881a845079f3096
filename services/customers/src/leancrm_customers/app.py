"""The customers service, declared for the service kit."""

from __future__ import annotations

from pathlib import Path

from leancrm_contracts import customers, topics
from leancrm_customers import personal_data, read_model
from leancrm_customers.domain.customer import CustomersDecider
from leancrm_servicekit.command_service import CommandServiceSpec

MIGRATIONS = Path(__file__).with_name("migrations")

SPEC = CommandServiceSpec(
    name="customers",
    decider=CustomersDecider(),
    command_models=customers.COMMANDS,
    command_topic=topics.CUSTOMERS_COMMANDS,
    event_topic=topics.CUSTOMERS_EVENTS,
    default_http_port=8101,
    migrations=MIGRATIONS,
    read_model=read_model.apply,
    sealer=personal_data.sealer,
    extra_topics={topics.CUSTOMERS_KEYS: topics.KEY_TOPIC_CONFIG},
    cli=personal_data.cli,
)
