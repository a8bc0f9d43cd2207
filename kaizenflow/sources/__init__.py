"""Connectors that read operational systems and exported files into canonical events."""
