"""Login profiles: how one surface of the provider shapes its tokens and claims.

The provider's core (sessions, codes, PKCE, consent, levels, signing keys, refresh, revocation)
is shared by every surface; a profile only decides what the tokens and answers look like:

    standard   sim06's own OIDC provider at the issuer root (``/authorize``, ``/token``...)
    keycloak   the observed VNeID realm at ``/auth/realms/{realm}`` (``realm.py``, domain §5.6)
    portal     the national public-service portal's SSO at ``/oauth2`` (``portal/``), which
               federates to the realm and releases the claims it received from it

The base class is the standard profile: every hook leaves the core's answer unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim06.services.identity.clients import Client
    from sim06.services.identity.provider import Provider

__all__ = ["TokenProfile"]


class TokenProfile:
    """The standard profile; subclasses override the hooks they need."""

    name = "standard"
    # Scopes granted whatever the request asked (Keycloak's "default client scopes").
    default_scopes: tuple[str, ...] = ()
    # acr in the LoA1/LoA2 style even when the client sent no acr_values.
    loa_acr = False
    # The access token's JOSE "typ" (RFC 9068 §2.1 asks for at+jwt; Keycloak writes JWT).
    access_typ = "at+jwt"
    # Where login sessions live in the state store (a separate system: its own namespace).
    session_namespace = "session"
    # False: the surface is another system and never reads the population database; its
    # claims come from the session (a broker keeps what its identity provider told it).
    local_accounts = True

    def accepts(self, client: Client) -> bool:
        """Whether this surface serves ``client`` (``login_profile``; unbound: every surface)."""
        return client.login_profile in (None, self.name)

    def subject(self, sub: str) -> str:
        """``sub`` as this surface writes it (``sub``: the core's keyed hash of the PIN)."""
        return sub

    def access_audience(self, issuer: str) -> str | list[str]:
        """``aud`` of access tokens."""
        return issuer

    def access_claims(
        self, provider: Provider, claims: dict[str, Any], grant: dict[str, Any], client: Client
    ) -> None:
        """Add to (or change) the claims of an access token before it is signed."""

    def id_claims(
        self, provider: Provider, claims: dict[str, Any], grant: dict[str, Any], client: Client
    ) -> None:
        """Add to (or change) the claims of an ID token before it is signed."""

    def token_response(
        self, provider: Provider, body: dict[str, Any], grant: dict[str, Any]
    ) -> None:
        """Add members to the token endpoint's answer."""

    def userinfo_claims(self, names: list[str]) -> list[str]:
        """The claim names userinfo releases, given those the scopes asked for."""
        return names

    def userinfo(self, provider: Provider, token: dict[str, Any]) -> dict[str, Any] | None:
        """The whole userinfo answer, or None to let the core read the population database
        (``token``: the access token's claims, with the private ``_pin``, ``_ext`` fields)."""
        del provider, token
        return None
