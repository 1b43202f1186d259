"""Shared core of the GAS services."""
