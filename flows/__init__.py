"""Prefect flows: thin wiring of sources, transforms and sinks for people who work in Prefect."""
