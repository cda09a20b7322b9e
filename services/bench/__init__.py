"""Benchmark tooling: load generator, flow runner, baseline app and server helpers."""

from sim06.services.bench._http import encode_request
from sim06.services.bench.flows import (
    FlowClient,
    FlowError,
    FlowResult,
    Response,
    UnexpectedStatus,
    run_flows,
    run_flows_async,
)
from sim06.services.bench.loadgen import (
    LoadResult,
    Request,
    RequestFactory,
    Requests,
    run_load,
    run_load_async,
)
from sim06.services.bench.servers import (
    ServerProcess,
    ServerStartError,
    free_port,
    pin_cpu,
    start_uvicorn,
)

__all__ = [
    "FlowClient",
    "FlowError",
    "FlowResult",
    "LoadResult",
    "Request",
    "RequestFactory",
    "Requests",
    "Response",
    "ServerProcess",
    "ServerStartError",
    "UnexpectedStatus",
    "encode_request",
    "free_port",
    "pin_cpu",
    "run_flows",
    "run_flows_async",
    "run_load",
    "run_load_async",
    "start_uvicorn",
]
