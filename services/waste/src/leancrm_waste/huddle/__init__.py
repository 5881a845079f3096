"""The daily huddle report: Lean's morning meeting, from the waste read model.

Modules:
  report  the report as plain data: each waste and key rate against the previous week,
          the top wastes by cost, the worst reasons by failure demand (no I/O)
  render  the report as text tables, Markdown or JSON
  improvements  the improvements running, and adopted gains holding or fading
  cli     ``python -m leancrm_waste huddle``: reads the figures, prints the report
"""
