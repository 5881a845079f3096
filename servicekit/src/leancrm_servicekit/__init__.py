"""The kit every Lean CRM service is built from."""
