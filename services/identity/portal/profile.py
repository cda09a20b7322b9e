"""Tokens and answers of the portal SSO: claims come from what VNeID released to the broker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim06.services.identity import claims as claim_sets
from sim06.services.identity.profiles import TokenProfile

if TYPE_CHECKING:
    from sim06.services.identity.clients import Client
    from sim06.services.identity.provider import Provider

__all__ = ["LOGIN_IDP", "PortalProfile"]

# The portal records which identity provider the citizen used: "BCA" (Bộ Công an, the Ministry
# of Public Security's VNeID), as observed in relying parties' attributes (domain §5.6 [P]).
LOGIN_IDP = "BCA"
ALWAYS = ("loginIdp",)


class PortalProfile(TokenProfile):
    """A separate system: its own sessions; never reads the population database."""

    name = "portal"
    loa_acr = True  # the portal speaks LoA1/LoA2 (acr_values=LoA1 observed)
    session_namespace = "portal_session"
    local_accounts = False

    def id_claims(
        self, provider: Provider, claims: dict[str, Any], grant: dict[str, Any], client: Client
    ) -> None:
        del provider, client
        wanted = claim_sets.claims_request_names(grant.get("claims"), "id_token")
        ext = grant.get("ext") or {}
        claims.update({k: ext[k] for k in wanted if k in ext and k not in claims})

    def userinfo(self, provider: Provider, token: dict[str, Any]) -> dict[str, Any] | None:
        del provider
        ext = token.get("_ext") or {}
        names = claim_sets.requested(token.get("scope", "").split(), token.get("_extra") or [])
        released = {k: ext[k] for k in (*names, *ALWAYS) if k in ext}
        return {"sub": token["sub"], **released}
