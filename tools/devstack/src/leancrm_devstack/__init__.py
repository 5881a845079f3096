"""The development stack, beside the product: what a laptop, the tests and CI need to
run Lean CRM without any infrastructure — the embedded PostgreSQL and Kafka-protocol
broker (``embedded``), production's database set-up applied to them
(``local_database``), ``scripts/run`` (``launcher``), the test fixtures (``testing``,
a pytest plugin) and a generator for a new service (``new_service``). Production never
imports it: the kit (``leancrm_servicekit``) does not depend on it."""
