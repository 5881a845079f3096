"""Lean CRM feedback service."""
