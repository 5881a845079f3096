"""Lean CRM interactions service."""
