"""Checking what happened against what was designed: pure logic, no orchestration."""
