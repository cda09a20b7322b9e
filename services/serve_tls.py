"""The gateway's HTTPS listener with optional client certificates (mTLS, RFC 8705), alone.

``sim06 up`` serves it beside the plain gateway in one process; a container deployment runs it
as its own process (``python -m services.serve_tls``): the same gateway app, with its state in
PostgreSQL and Redis like every gateway replica, on ``SIM06_HOST``:``SIM06_GATEWAY_TLS_PORT``.
The server certificate and the agency CA are those of the data directory (generated on first
use, or ``SIM06_GATEWAY_TLS_CERTFILE``/``_KEYFILE``).
"""

from __future__ import annotations

import uvicorn

from sim06.services.asgi import gateway
from sim06.services.common.admission_http import admission_protocol
from sim06.services.common.settings import Settings
from sim06.services.gateway.mtls import tls_config


def main() -> int:
    """Serve the gateway over HTTPS until interrupted."""
    settings = Settings()
    tls = tls_config(settings)
    tls["http"] = admission_protocol(tls["http"])  # refusals before the app, as `sim06 up`
    config = uvicorn.Config(
        gateway(),
        host=settings.host,
        access_log=False,
        log_level="warning",
        server_header=False,
        **tls,
    )
    uvicorn.Server(config).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
