"""How work is actually done: discovery and performance figures over an event log."""
