"""The write side: consumed events in, the read model's private store and public views out.

Modules:
  decoding  the verdict on one consumed record: an event to apply, skipped, or a dead letter
  apply     one consumed batch applied in its transaction (``WasteApplier``)
  figures   the bridge to the pure domain: stored events in, the store's rows out
  rows      the rows the projector writes and the stored events it reads back (records)
  writes    the projector's SQL over its private store, one statement per batch's rows
  stores    the store's lifecycle: naming, creating, installing the views, switching
  rebuild   replaying the topics into a fresh store, then switching to it
  data_quality  the totals of waste.data_quality behind the gauge of /metrics
  sql/      the store's tables, the public views of schema ``waste`` and the ops role
"""
