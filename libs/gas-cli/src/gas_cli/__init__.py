"""gas: the GAS command line for users."""
