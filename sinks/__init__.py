"""Five9: authentication, pacing, retries, the wire adapter, the ledger."""
