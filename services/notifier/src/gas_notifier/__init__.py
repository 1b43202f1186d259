"""GAS notifier: worker: emails users about their jobs."""
