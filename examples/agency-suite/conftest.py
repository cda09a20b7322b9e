"""Fixtures of an agency's integration suite: a client of the population registry.

The registry's address comes from SIM06_REGISTRY_URL (default: `sim06 up` on localhost).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture(scope="session")
def registry() -> Iterator[httpx.Client]:
    """An HTTP client of the registry (CSDLQG về dân cư) under test."""
    base_url = os.environ.get("SIM06_REGISTRY_URL", "http://127.0.0.1:8001")
    with httpx.Client(base_url=base_url, timeout=10.0) as client:
        yield client
