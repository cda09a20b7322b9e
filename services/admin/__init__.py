"""Admin console: latency profile and fault toggles, request journal, percentiles (issue 6)."""

from sim06.services.admin.app import create_app

__all__ = ["create_app"]
