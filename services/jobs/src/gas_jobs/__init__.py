"""GAS jobs: job API: create, upload, submit, list, detail, log, results."""
