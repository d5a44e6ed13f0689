"""Executors run generation requests and stream results back; the driver writes the ledger."""
