"""Fixtures for every test in the repository: see leancrm_servicekit.testing."""

pytest_plugins = ["leancrm_servicekit.testing"]
