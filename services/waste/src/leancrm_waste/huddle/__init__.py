"""The daily huddle report: Lean's morning meeting, from the waste read model.

Modules:
  report  the report as plain data (no I/O): each waste per contact and each key rate
          against the same weekday of recent weeks (or a stated baseline), only on days
          that can be judged (no data, too few contacts, day not finished), the key
          rates' signals (XmR, :mod:`leancrm_waste.read.signals`), what is open now,
          the top wastes by cost, the worst reasons by failure demand, and a place for
          the running improvements
  render  the report as text tables, Markdown or JSON
  cli     ``python -m leancrm_waste huddle``: reads the figures
          (:mod:`leancrm_waste.read.daily`), prints the report
"""
