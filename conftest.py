"""Fixtures shared by every test tree live in the gas-core pytest plugin."""

pytest_plugins = ["gas_core.testing"]
