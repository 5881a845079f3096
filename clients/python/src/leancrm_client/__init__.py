"""A client for systems that integrate with Lean CRM over Kafka (docs/contract.md).

>>> async with LeanCrmClient("localhost:9092", name="billing-1") as crm:   # doctest: +SKIP
...     result = await crm.execute(RegisterCustomer(customer_id=uuid4(), name="Ada",
...                                                 segment="retail"))
...     result.status
'accepted'

Modules:
  commands  a command's envelope, topic, key and headers, built from the contract's models
  results   the results consumer: one committed consumer group per client instance
  client    ``LeanCrmClient``: send commands, await their results by command_id
"""

from leancrm_client.client import ClientSettings, LeanCrmClient, Pending
from leancrm_client.commands import OutgoingCommand, build_command
from leancrm_client.results import ResultTimeout

__all__ = ["ClientSettings", "LeanCrmClient", "OutgoingCommand", "Pending", "ResultTimeout",
           "build_command"]
