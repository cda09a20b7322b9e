"""Swagger UI and ReDoc served by the service itself, so ``/docs`` works without internet.

FastAPI's own ``/docs`` and ``/redoc`` pages load their scripts from a CDN: on an agency's
closed test network (the usual place a simulator of a national system runs) they are blank.
The assets come from the ``fastapi-offline`` package, which ships Swagger UI 5 and ReDoc 2
bundles and follows their releases; only its static folder is used, the pages are FastAPI's.

``install_offline_docs(app)`` replaces the CDN pages that FastAPI added at construction with
pages pointing at :data:`ASSETS_PATH`, mounted on the same app.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Route
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_offline_docs"]

ASSETS_PATH = "/__sim06/docs-assets"
_ASSETS_DIR = Path(fastapi_offline.__file__).parent / "static"


def _is_cdn_page(route: BaseRoute, paths: set[str]) -> bool:
    return isinstance(route, Route) and route.path in paths


def install_offline_docs(app: FastAPI, docs_url: str = "/docs", redoc_url: str = "/redoc") -> None:
    """Serve ``docs_url`` (Swagger UI) and ``redoc_url`` (ReDoc) from local assets."""
    openapi_url = app.openapi_url or "/openapi.json"
    redirect_url = app.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"
    cdn_pages = {p for p in (app.docs_url, app.redoc_url, redirect_url) if p}
    app.router.routes[:] = [r for r in app.router.routes if not _is_cdn_page(r, cdn_pages)]
    app.docs_url, app.redoc_url = docs_url, redoc_url
    app.mount(ASSETS_PATH, StaticFiles(directory=_ASSETS_DIR), name="sim06-docs-assets")

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", ""))

    async def swagger_ui(request: Request) -> HTMLResponse:
        base = root(request)
        return get_swagger_ui_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} — Swagger UI",
            oauth2_redirect_url=base + redirect_url,
            swagger_js_url=f"{base}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{base}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )

    async def swagger_redirect(_: Request) -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    async def redoc(request: Request) -> HTMLResponse:
        base = root(request)
        return get_redoc_html(
            openapi_url=base + openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=f"{base}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{base}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,  # fonts from Google are a CDN too
        )

    app.add_route(docs_url, swagger_ui, include_in_schema=False)
    app.add_route(redirect_url, swagger_redirect, include_in_schema=False)
    app.add_route(redoc_url, redoc, include_in_schema=False)
