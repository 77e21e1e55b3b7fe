"""Prefect flows: thin wiring of sources, transforms and sinks for people who work in Prefect."""

from __future__ import annotations

import os

# Prefect 3.9's ephemeral server prints a "database is locked" traceback from its telemetry on
# every run; the pipeline needs none of it. A user's own setting still wins.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
