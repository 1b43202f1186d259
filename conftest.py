"""Fixtures shared by every test tree live in the gas-testing pytest plugins."""

pytest_plugins = ["gas_testing.plugin", "gas_testing.gateway"]
