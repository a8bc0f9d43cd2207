"""The process owners' web app: an interface layer over the state database, reports and event store."""
