"""The pure domain of the waste projector: contract section 5 as functions over events.

No I/O and no dependency on other Lean CRM packages. The projector computes the same
figures in SQL / at scale; these functions are the reference it is tested against.

Modules:
  events       the Event input type, deduplication and the deterministic event order
  interaction  summarise_interaction: every waste.interactions column one stream determines
  wastes       WasteRow and the ledger rows one interaction determines (+ overproduction rows)
  repeats      repeat_of links, first_contact_resolution, defects/repeat_contact rows
  capacity     hour splitting, staffed/busy seconds per (UTC hour, team), occupancy, overproduction
  rates        value_stream_daily rates, hourly sums, backlog age bands
  signals      XmR process-behaviour charts: limits and detection rules over a daily rate
  assignments  the name=value,... splitting the thresholds and costs share
  improvements an improvement's effect: signal on the expected side, holding or fading
"""
