"""Lean CRM public contract, version 1.1 (``docs/contract.md``) as code.

Modules: :mod:`topics` (section 1), :mod:`envelope` (section 2), :mod:`enums`
(section 3), :mod:`customers`, :mod:`interactions`, :mod:`feedback` (section 4),
:mod:`registry` (lookups across them) and :mod:`schemas` (JSON Schema / AsyncAPI).
"""

CONTRACT_VERSION = 1
