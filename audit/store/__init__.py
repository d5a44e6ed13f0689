"""The run directory: run.json, the SQLite ledger, and images stored by request key."""
