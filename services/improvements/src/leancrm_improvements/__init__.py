"""The improvements service: countermeasures tracked to their effect (issue 14)."""
