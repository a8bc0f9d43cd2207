"""Improvement tasks raised from deviation patterns, and the measurement of their effect."""
