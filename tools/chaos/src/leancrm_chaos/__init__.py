"""Lean CRM's fault-injection suite: a harness that proves "nothing lost, never stalled"."""
