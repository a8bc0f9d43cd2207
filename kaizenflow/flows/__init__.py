"""Prefect flows: thin orchestration over the pure packages."""
