"""Fixtures for every test in the repository: see leancrm_devstack.testing."""

pytest_plugins = ["leancrm_devstack.testing"]
