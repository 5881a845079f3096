"""Lean CRM contact-centre simulator: a deterministic scenario, driven to the command topics."""
