"""The PostgreSQL and Redis servers of the backend tests, and the markers that skip without them.

Read once, at import: before the autouse ``clean_environ`` fixture removes every ``SIM06_*``
variable. ``.ci/run`` starts both servers and sets the variables.
"""

from __future__ import annotations

import os

import pytest

_HOW = '(eval "$(bash scripts/start-backends.sh)")'
POSTGRES_URL = os.environ.get("SIM06_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("SIM06_TEST_REDIS_URL")
NO_POSTGRES = f"SIM06_TEST_POSTGRES_URL is not set {_HOW}"
NO_REDIS = f"SIM06_TEST_REDIS_URL is not set {_HOW}"
needs_postgres = pytest.mark.skipif(POSTGRES_URL is None, reason=NO_POSTGRES)
needs_redis = pytest.mark.skipif(REDIS_URL is None, reason=NO_REDIS)
