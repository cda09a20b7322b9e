"""Admin console: latency profile and fault toggles, request journal, percentiles (issue 6)."""

from services.admin.app import create_app

__all__ = ["create_app"]
