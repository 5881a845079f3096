"""The waste projector: the seven wastes and the value stream, live.

Grouped by job:
  domain/      contract section 5 as pure functions over events (no I/O)
  projection/  the write side: consumed events into the private store and the public views
  read/        the operations read API and dashboard over the views of schema ``waste``
  huddle/      the daily huddle report
  service.py   the process: the projector, the store switch and the HTTP server, wired
  settings.py  what the service reads from ``LEANCRM_*`` variables
  __main__.py  ``python -m leancrm_waste [serve|rebuild|huddle|dlq|parked]``
"""
