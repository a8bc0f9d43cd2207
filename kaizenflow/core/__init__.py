"""The core every layer shares: the event-log type, its column names and errors. Imports nothing of ours."""
