"""Security schemes that document how an endpoint authenticates, for the published contracts.

FastAPI publishes ``components.securitySchemes`` and an operation's ``security`` only for
security dependencies. The sim06 endpoints authenticate by themselves (OAuth errors, audited
refusals, hot paths that bypass FastAPI), so :class:`DocumentedScheme` is a dependency that
never refuses anything: it only puts the scheme in the contract.
"""

from __future__ import annotations

from fastapi.openapi.models import SecurityBase as SecuritySchemeModel
from fastapi.security.base import SecurityBase

__all__ = ["DocumentedScheme"]


class DocumentedScheme(SecurityBase):
    """A security scheme in the contract; the endpoint itself does the authentication."""

    def __init__(self, name: str, model: SecuritySchemeModel) -> None:
        self.scheme_name = name
        self.model = model

    async def __call__(self) -> None:
        return None
