"""The provider's grants: sessions, codes, tokens, refresh, userinfo, introspection, revocation.

Framework-free: the app turns HTTP into calls here and ``OAuthError``/``BearerError`` into
responses. State lives in the :class:`StateStore` under these keys:

    session:{sid}        login session (pin, level, amr, auth_time[, ext])   session TTL
                         (the namespace is the profile's: a broker keeps its own)
    code:{code}          authorization request + login, single use            code TTL
    code_used:{code}     grant id issued from a redeemed code (reuse → revoke)  refresh TTL
    grant:{gid}          one authorization grant (the refresh-token family)    refresh TTL
    at:{sha256(token)}   access token → grant, citizen and its claims           access TTL
    rt:{token}           refresh token → grant, client, scopes                  refresh TTL
    rt_used:{token}      a rotated refresh token (reuse → revoke the family)    refresh TTL
    consent:{pin}:{cid}  scopes the citizen granted to a client (consents.py)   none
    consents:{pin}       index of the clients with a consent                   none

An access token granted the scope ``access_log`` also carries the citizen's PIN and the
gateway's access log in its audience (``citizen_token.py``).

Several providers (one per surface: ``profiles.py``) share one state store; every code, token
and refresh token records its issuer, and a surface refuses those of another.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any, NoReturn

import jwt

from sim06.mock_registry.store import CitizenStore
from sim06.services.common.settings import Settings
from sim06.services.identity import claims as claim_sets, pkce
from sim06.services.identity.accounts import AMR, Account, Accounts, LoginRefused, acr_for
from sim06.services.identity.authorize import AuthRequest
from sim06.services.identity.citizen_token import ACCESS_LOG_AUDIENCE, ACCESS_LOG_SCOPE, PIN_CLAIM
from sim06.services.identity.clients import Client, ClientRegistry
from sim06.services.identity.consents import Consents
from sim06.services.identity.errors import BearerError, OAuthError
from sim06.services.identity.profiles import TokenProfile
from sim06.services.identity.signing import IdentityKeys, at_hash
from sim06.services.identity.state import StateStore
from sim06.services.identity.subject import SubjectMaker

__all__ = ["Provider"]

AT_TYPE = "at+jwt"  # RFC 9068 §2.1


def _token() -> str:
    return secrets.token_urlsafe(32)


def _digest(token: str) -> str:
    # Tokens are looked up by hash: the state store never holds a usable bearer token.
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


class Provider:
    """Everything the endpoints do, over a state store, keys and the population store."""

    def __init__(
        self,
        settings: Settings,
        issuer: str,
        store: CitizenStore,
        state: StateStore,
        keys: IdentityKeys,
        subjects: SubjectMaker,
        registry: ClientRegistry,
        profile: TokenProfile | None = None,
    ) -> None:
        self.settings = settings
        self.profile = profile or TokenProfile()
        self.issuer = issuer
        self.store = store
        self.state = state
        self.keys = keys
        self.subjects = subjects
        self.registry = registry
        self.accounts = Accounts(store)
        self.consents = Consents(state)

    # --- sessions and consent -------------------------------------------------------------

    def new_session(self, account: Account, level: int, amr: list[str] | None = None) -> str:
        """Start a login session at ``level``; its id is the ``sid`` claim and the cookie."""
        return self.start_session(account.pin, level, amr)

    def start_session(
        self,
        pin: str,
        level: int,
        amr: list[str] | None = None,
        ext: dict[str, Any] | None = None,
    ) -> str:
        """Start a login session of ``pin``; ``ext``: what a broker learnt from its identity
        provider (released by its profile instead of database reads)."""
        sid = _token()
        record: dict[str, Any] = {
            "pin": pin,
            "level": level,
            "amr": amr or AMR[level],
            "auth_time": int(time.time()),
        }
        if ext is not None:
            record["ext"] = ext
        self.state.put(self._session_key(sid), record, self.settings.identity_session_ttl)
        return sid

    def _session_key(self, sid: str) -> str:
        return f"{self.profile.session_namespace}:{sid}"

    def session(self, sid: str | None) -> dict[str, Any] | None:
        """The live session ``sid``, or None."""
        return None if not sid else self.state.get(self._session_key(sid))

    def end_session(self, sid: str | None) -> None:
        """Log out (RP-initiated logout)."""
        if sid:
            self.state.delete(self._session_key(sid))

    def consented(self, pin: str, client_id: str, scopes: tuple[str, ...]) -> bool:
        """True if the citizen already granted every scope to the client."""
        return self.consents.given(pin, client_id, scopes)

    def remember_consent(self, pin: str, client_id: str, scopes: tuple[str, ...]) -> None:
        """Remember the consent (until revoked)."""
        self.consents.remember(pin, client_id, scopes)

    def subject(self, client: Client, pin: str) -> str:
        """``sub`` for this client: public or pairwise (client setting, else the default)."""
        kind = client.subject_type or (
            "pairwise" if self.settings.identity_pairwise_subject else "public"
        )
        sub = self.subjects.subject(pin, client.sector if kind == "pairwise" else None)
        return self.profile.subject(sub)

    # --- authorization code ---------------------------------------------------------------

    def issue_code(self, request: AuthRequest, sid: str, session: dict[str, Any]) -> str:
        """A single-use code bound to client, redirect URI, PKCE challenge and the login."""
        code = _token()
        profile = self.profile
        self.state.put(
            f"code:{code}",
            {
                "iss": self.issuer,
                "client_id": request.client.client_id,
                "redirect_uri": request.redirect_uri,
                "challenge": request.code_challenge,
                "scopes": list(dict.fromkeys((*request.scopes, *profile.default_scopes))),
                "nonce": request.nonce,
                "claims": request.claims,
                "acr": acr_for(session["level"], request.loa_style or profile.loa_acr),
                "level": session["level"],
                "amr": session["amr"],
                "auth_time": session["auth_time"],
                "pin": session["pin"],
                "sid": sid,
                "ext": session.get("ext"),
            },
            self.settings.identity_code_ttl,
        )
        return code

    def exchange_code(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        """RFC 6749 §4.1.3: code → tokens, with every binding checked."""
        code = form.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is missing")
        grant = self.state.take(f"code:{code}")
        if grant is None:
            used = self.state.take(f"code_used:{code}")
            if used is not None:  # RFC 6749 §4.1.2: revoke what the code produced
                self.revoke_grant(used["gid"])
            raise OAuthError("invalid_grant", "the code is invalid, expired or already used")
        if grant.get("iss", self.issuer) != self.issuer:
            raise OAuthError("invalid_grant", "the code was issued by another issuer")
        if grant["client_id"] != client.client_id:
            raise OAuthError("invalid_grant", "the code was issued to another client")
        if form.get("redirect_uri") != grant["redirect_uri"]:
            raise OAuthError("invalid_grant", "redirect_uri does not match the authorization")
        verifier = form.get("code_verifier")
        if grant["challenge"] is None:  # a client registered without require_pkce sent none
            if verifier:  # RFC 9700 §2.1.1: a verifier without a challenge is a downgrade
                raise OAuthError("invalid_grant", "code_verifier sent, but no code_challenge was")
        elif not verifier:
            raise OAuthError("invalid_request", "code_verifier is missing (PKCE)")
        elif not pkce.verify(verifier, grant["challenge"]):
            raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge")
        gid = _token()
        ttl = self.settings.identity_refresh_token_ttl
        self.state.put(f"grant:{gid}", {"client_id": client.client_id}, ttl)
        self.state.put(f"code_used:{code}", {"gid": gid}, ttl)
        grant["gid"] = gid
        return self._tokens(client, grant, id_token=True)

    # --- tokens ---------------------------------------------------------------------------

    def _tokens(self, client: Client, grant: dict[str, Any], *, id_token: bool) -> dict[str, Any]:
        settings = self.settings
        profile = self.profile
        now = int(time.time())
        sub = self.subject(client, grant["pin"])
        access_ttl = settings.identity_access_token_ttl
        access_claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": profile.access_audience(self.issuer),
            "client_id": client.client_id,
            "scope": " ".join(grant["scopes"]),
            "exp": now + access_ttl,
            "iat": now,
            "jti": _token(),
            "auth_time": grant["auth_time"],
            "acr": grant["acr"],
            "sid": grant["sid"],
        }
        if ACCESS_LOG_SCOPE in grant["scopes"]:  # readable by the gateway's access log
            access_claims["aud"] = [self.issuer, ACCESS_LOG_AUDIENCE]
            access_claims[PIN_CLAIM] = grant["pin"]
        profile.access_claims(self, access_claims, grant, client)
        access, kid = self.keys.sign_kid(access_claims, typ=profile.access_typ)
        userinfo_extra = claim_sets.claims_request_names(grant.get("claims"), "userinfo")
        self.state.put(
            f"at:{_digest(access)}",
            {"gid": grant["gid"], "pin": grant["pin"], "extra": userinfo_extra,
             "kid": kid, "claims": access_claims, "ext": grant.get("ext")},
            access_ttl,
        )  # fmt: skip
        response: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": access_ttl,
            "scope": " ".join(grant["scopes"]),
        }
        if id_token:
            response["id_token"] = self._id_token(client, grant, sub, access, now)
        if "refresh_token" in client.grant_types:
            refresh = _token()
            record = {k: grant.get(k) for k in ("gid", "pin", "scopes", "acr", "level", "amr",
                                                "auth_time", "sid", "claims", "ext")}  # fmt: skip
            record["client_id"] = client.client_id
            record["iss"] = self.issuer
            self.state.put(f"rt:{refresh}", record, settings.identity_refresh_token_ttl)
            response["refresh_token"] = refresh
        profile.token_response(self, response, grant)
        return response

    def _id_token(
        self, client: Client, grant: dict[str, Any], sub: str, access: str, now: int
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": now + self.settings.identity_id_token_ttl,
            "iat": now,
            "auth_time": grant["auth_time"],
            "acr": grant["acr"],
            "amr": grant["amr"],
            "sid": grant["sid"],
            "at_hash": at_hash(access, self.keys.alg),
        }
        if grant.get("nonce") is not None:
            claims["nonce"] = grant["nonce"]
        wanted = claim_sets.claims_request_names(grant.get("claims"), "id_token")
        if wanted and self.profile.local_accounts:
            account = self._account(grant["pin"])
            extra = claim_sets.release(account.record, wanted, sub=sub, level=grant["level"])
            claims.update({k: v for k, v in extra.items() if k not in claims})
        self.profile.id_claims(self, claims, grant, client)
        return self.keys.sign(claims)

    def _account(self, pin: str) -> Account:
        try:
            return self.accounts.find(pin)
        except LoginRefused:
            # The account changed since login (locked, died): its tokens no longer work.
            raise OAuthError("invalid_grant", "the account can no longer be used") from None

    def refresh(self, client: Client, form: dict[str, str]) -> dict[str, Any]:
        """RFC 6749 §6 with rotation; a rotated token used again revokes its family."""
        token = form.get("refresh_token")
        if not token:
            raise OAuthError("invalid_request", "refresh_token is missing")
        record = self.state.take(f"rt:{token}")
        ttl = self.settings.identity_refresh_token_ttl
        if record is None:
            used = self.state.get(f"rt_used:{token}")
            if used is not None:  # RFC 9700 §4.14.2: refresh token reuse → revoke the family
                self.revoke_grant(used["gid"])
            raise OAuthError("invalid_grant", "the refresh token is invalid, expired or used")
        if record["client_id"] != client.client_id:
            raise OAuthError("invalid_grant", "the refresh token was issued to another client")
        if record.get("iss", self.issuer) != self.issuer:
            raise OAuthError("invalid_grant", "the refresh token was issued by another issuer")
        self.state.put(f"rt_used:{token}", {"gid": record["gid"]}, ttl)
        if self.state.get(f"grant:{record['gid']}") is None:
            raise OAuthError("invalid_grant", "the grant was revoked")
        if "scope" in form:  # RFC 6749 §6: a narrower scope only
            asked = tuple(dict.fromkeys(form["scope"].split()))
            if not set(asked) <= set(record["scopes"]):
                raise OAuthError("invalid_scope", "scope exceeds the original grant")
            record["scopes"] = list(asked)
        if self.profile.local_accounts:
            self._account(record["pin"])
        record.setdefault("nonce", None)
        return self._tokens(client, record, id_token="openid" in record["scopes"])

    def revoke_grant(self, gid: str) -> None:
        """Revoke a grant: its access and refresh tokens stop working."""
        self.state.delete(f"grant:{gid}")

    # --- resource side --------------------------------------------------------------------

    def access_token(self, token: str) -> dict[str, Any]:
        """Claims of a live access token, or :class:`BearerError` invalid_token.

        A token is live when the exact string was issued here (found by its hash), has not
        expired, its signing key is still published and its grant is not revoked. Matching
        the issued bytes is as strong as checking the signature and costs a hash instead of
        a JWT parse and an RSA verification per request; anything else is verified in full,
        only to tell why it is refused.
        """
        link = self.state.get(f"at:{_digest(token)}")
        if link is None:
            self._refusal(token)
        claims: dict[str, Any] = dict(link["claims"])
        if claims["iss"] != self.issuer:
            raise BearerError("invalid_token", "the access token was issued by another issuer")
        if claims["exp"] <= time.time():
            raise BearerError("invalid_token", "the access token has expired")
        if not self.keys.live(link["kid"]) or not self._grant_live(link["gid"]):
            raise BearerError("invalid_token", "the access token was revoked")
        claims["_pin"] = link["pin"]
        claims["_extra"] = link.get("extra") or []
        claims["_ext"] = link.get("ext")
        claims["_digest"] = _digest(token)
        return claims

    def _refusal(self, token: str) -> NoReturn:
        try:
            audience = self.profile.access_audience(self.issuer)
            typ = self.profile.access_typ
            self.keys.verify(
                token, audience=audience if isinstance(audience, str) else audience[0],
                issuer=self.issuer, typ=typ,
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise BearerError("invalid_token", "the access token has expired") from None
        except jwt.PyJWTError:
            raise BearerError("invalid_token", "the access token is invalid") from None
        raise BearerError("invalid_token", "the access token was revoked")

    def userinfo(self, token: str) -> dict[str, Any]:
        """OIDC Core §5.3: claims by scope (and ``claims.userinfo`` at authorization)."""
        claims = self.access_token(token)
        scopes = claims.get("scope", "").split()
        if "openid" not in scopes:
            raise BearerError("insufficient_scope", "the token lacks the openid scope", status=403)
        answer = self.profile.userinfo(self, claims)
        if answer is not None:
            return answer
        try:
            account = self.accounts.find(claims["_pin"])
        except LoginRefused:
            raise BearerError("invalid_token", "the account can no longer be used") from None
        names = self.profile.userinfo_claims(claim_sets.requested(scopes, claims["_extra"]))
        info = claim_sets.release(account.record, names, sub=claims["sub"], level=_level(claims))
        return {"sub": claims["sub"], **info}

    def introspect(self, client: Client, token: str) -> dict[str, Any]:
        """RFC 7662 §2.2; a client sees only its own tokens (others are reported inactive)."""
        record = self.state.get(f"rt:{token}")
        if record is not None:
            if (
                record["client_id"] != client.client_id
                or record.get("iss", self.issuer) != self.issuer
                or not self._grant_live(record["gid"])
            ):
                return {"active": False}
            return {
                "active": True,
                "token_type": "refresh_token",
                "client_id": record["client_id"],
                "scope": " ".join(record["scopes"]),
                "sub": self.subject(client, record["pin"]),
                "iss": self.issuer,
                "acr": record["acr"],
            }
        try:
            claims = self.access_token(token)
        except BearerError:
            return {"active": False}
        if claims["client_id"] != client.client_id:
            return {"active": False}
        for private in ("_pin", "_extra", "_ext", "_digest"):
            claims.pop(private)
        return {"active": True, "token_type": "access_token", **claims}

    def revoke(self, client: Client, token: str) -> None:
        """RFC 7009 §2.1: revoking a refresh token revokes its grant; unknown tokens are fine."""
        record = self.state.get(f"rt:{token}")
        if record is not None:
            if record["client_id"] == client.client_id:
                self.state.delete(f"rt:{token}")
                self.revoke_grant(record["gid"])
            return
        try:
            claims = self.access_token(token)
        except BearerError:
            return
        if claims["client_id"] == client.client_id:
            self.state.delete(f"at:{claims['_digest']}")

    def _grant_live(self, gid: str) -> bool:
        return self.state.get(f"grant:{gid}") is not None


def _level(claims: dict[str, Any]) -> int:
    acr = str(claims.get("acr", "1"))
    return 2 if acr.endswith("2") else 1
