"""The web app's roles, apart from its account tables: the CLI names them without importing SQLAlchemy."""

from __future__ import annotations

VIEWER = "viewer"
OWNER = "owner"
ANALYST = "analyst"
ADMIN = "admin"
ROLES = (VIEWER, OWNER, ANALYST, ADMIN)
