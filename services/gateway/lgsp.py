"""SOAP through a provincial LGSP: the JSON wrapper observed in an OpenCPS adapter (domain §6.3).

Observed shape [P] (an integrator's code, not an official specification)::

    POST <LGSP url>
    lgspaccesstoken: base64(JSON {AccessKey, SecretKey, AppName, PartnerCode, PartnerCodeCus})
    Content-Type: application/json

    {"accessToken": "Bearer <OAuth access token>",
     "lgspAccessToken": "<the same base64 string>",
     "AuthHash": base64(officerKeyName ":" officerKeyPass),
     "data": "<the SOAP envelope, as a string>"}

and the LGSP answers SOAP XML. sim06 serves it at ``POST /lgsp/dancu``. The mapping of these
fields onto sim06's agencies is **sim06's own** (the real LGSP account model is not public):

- ``AccessKey`` / ``SecretKey`` are the agency's ``client_id`` / ``client_secret``;
  ``PartnerCode``, when sent, must be the agency code (QCVN 102:2016); ``AppName`` and
  ``PartnerCodeCus`` are free text. The header may be omitted if ``lgspAccessToken`` is in the
  body; when both are sent they must be equal.
- ``accessToken`` is a gateway access token of the same agency (``POST /oauth/token``); it is
  checked like any other (expiry, signature, RFC 8705 certificate binding).
- ``AuthHash`` authenticates the officer: ``officerKeyName`` is the officer code (``MaCanBo``)
  and ``officerKeyPass`` is, for the DEMO-ONLY agencies, derived from the agency secret by
  :func:`officer_key_pass` (``hex(HMAC-SHA256(client_secret, "sim06/lgsp-officer/v1|" +
  officer))[:32]``). An envelope whose ``MaCanBo`` names another officer is refused (``005``); an
  empty ``MaCanBo`` is filled from ``AuthHash``.

Failures are SOAP Faults like the direct profile's (the LGSP's own error bodies are [U]):
wrong ``SecretKey``, a missing or foreign access token, or a wrong ``AuthHash`` is a 401
``GATEWAY_UNAUTHENTICATED``; a malformed wrapper or a ``data`` that is not a safe SOAP document
(DTD, entities, over :data:`MAX_ENVELOPE` bytes) a 400 ``GATEWAY_SOAP_FAULT``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

import orjson

from sim06.services.common.problems import ProblemError
from sim06.services.gateway.agencies import Agency, AgencySpec
from sim06.services.gateway.exchange import Gateway
from sim06.services.gateway.oauth import AccessToken, TokenError
from sim06.services.gateway.soap import SoapCall

PATH = "/lgsp/dancu"
MAX_ENVELOPE = 256 * 1024  # the observed lookups are a few hundred bytes
MAX_TOKEN_HEADER = 4096
OFFICER_KEY_CONTEXT = b"sim06/lgsp-officer/v1|"

DESCRIPTION = (
    "The JSON wrapper an OpenCPS adapter sends to a provincial LGSP (observed shape, not an "
    "official specification): header `lgspaccesstoken` = base64 of JSON {AccessKey (client_id), "
    "SecretKey (client_secret), AppName, PartnerCode (agency code), PartnerCodeCus}; body "
    "{accessToken: 'Bearer <gateway token>', lgspAccessToken, AuthHash: base64(officer ':' "
    "officerKeyPass), data: '<SOAP envelope>'}. Answers SOAP XML like /soap/dancu."
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["accessToken", "AuthHash", "data"],
    "properties": {
        "accessToken": {"type": "string", "description": "'Bearer ' + a gateway access token"},
        "lgspAccessToken": {"type": "string", "description": "Same value as the header"},
        "AuthHash": {"type": "string", "description": "base64(officerKeyName:officerKeyPass)"},
        "data": {"type": "string", "maxLength": MAX_ENVELOPE, "description": "SOAP envelope"},
    },
}


def officer_key_pass(spec: AgencySpec, officer: str) -> str | None:
    """The DEMO-ONLY key pass of ``officer`` (None for an agency without a client secret).

    Derived, not stored, so the demo agencies need no extra secret in agencies.yaml: anyone
    holding the agency secret can compute it, as an agency administers its own officers.
    """
    if spec.client_secret is None:
        return None
    mac = hmac.new(spec.client_secret.encode(), OFFICER_KEY_CONTEXT + officer.encode(), "sha256")
    return mac.hexdigest()[:32]


def auth_hash(spec: AgencySpec, officer: str) -> str:
    """The ``AuthHash`` value for ``officer`` of ``spec`` (for clients, tests and the README)."""
    return base64.b64encode(f"{officer}:{officer_key_pass(spec, officer)}".encode()).decode()


def lgsp_access_token(spec: AgencySpec, app_name: str = "sim06-demo") -> str:
    """The ``lgspaccesstoken`` header value of ``spec`` (DEMO-ONLY: it carries the secret)."""
    doc = {"AccessKey": spec.client_id, "SecretKey": spec.client_secret, "AppName": app_name,
           "PartnerCode": spec.code, "PartnerCodeCus": spec.code}  # fmt: skip
    return base64.b64encode(orjson.dumps(doc)).decode()


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise TokenError(f"{what} is not base64.") from None


class LgspRequest:
    """One wrapped request: :meth:`unwrap` reads the JSON, :meth:`authenticate` the caller."""

    def __init__(self, gateway: Gateway, headers: Mapping[str, str]) -> None:
        self.gateway = gateway
        self.headers = headers
        self.body: dict[str, Any] = {}

    def unwrap(self, raw: bytes) -> bytes:
        """The SOAP envelope of the ``data`` field; ``GATEWAY_SOAP_FAULT`` if malformed."""
        media = (self.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise ProblemError("GATEWAY_SOAP_FAULT", "Send the LGSP wrapper as application/json.")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ProblemError(
                "GATEWAY_SOAP_FAULT", "The LGSP wrapper is not valid JSON."
            ) from None
        if not isinstance(body, dict):
            raise ProblemError("GATEWAY_SOAP_FAULT", "The LGSP wrapper must be a JSON object.")
        bad = [k for k in ("accessToken", "lgspAccessToken", "AuthHash", "data")
               if k in body and not isinstance(body[k], str)]  # fmt: skip
        if bad:
            raise ProblemError("GATEWAY_SOAP_FAULT", f"Must be strings: {bad}.")
        data = body.get("data")
        if not data:
            raise ProblemError("GATEWAY_SOAP_FAULT", "data (the SOAP envelope) is required.")
        envelope: bytes = data.encode("utf-8")
        if len(envelope) > MAX_ENVELOPE:
            raise ProblemError("GATEWAY_SOAP_FAULT", f"data is larger than {MAX_ENVELOPE} bytes.")
        self.body = body
        return envelope

    def authenticate(self, call: SoapCall) -> tuple[AccessToken, Agency]:
        """Check the LGSP account, the access token and the officer hash (module docstring)."""
        agency = self._account()
        access = self.body.get("accessToken") or ""
        if access and access[:7].lower() != "bearer ":
            access = f"Bearer {access}"  # adapters differ on the prefix; the token is the same
        token, token_agency = self.gateway.authenticate(access or None)
        if token_agency.code != agency.code:
            raise TokenError("The access token belongs to another agency than the LGSP account.")
        officer = self._officer(agency)
        named = call.values.get("MaCanBo", "")
        if not named:
            call.values["MaCanBo"] = officer
        elif named != officer:
            raise ProblemError(
                "005", f"MaCanBo {named} is not the officer authenticated by AuthHash ({officer})."
            )
        return token, agency

    def _account(self) -> Agency:
        header = (self.headers.get("lgspaccesstoken") or "").strip()
        in_body = (self.body.get("lgspAccessToken") or "").strip()
        if header and in_body and header != in_body:
            raise TokenError("The lgspaccesstoken header and body field differ.")
        value = header or in_body
        if not value:
            raise TokenError("The lgspaccesstoken header is required.")
        if len(value) > MAX_TOKEN_HEADER:
            raise TokenError("lgspaccesstoken is too long.")
        try:
            doc = orjson.loads(_b64(value, "lgspaccesstoken"))
        except orjson.JSONDecodeError:
            doc = None
        if not isinstance(doc, dict) or not all(
            isinstance(doc.get(k), str) for k in ("AccessKey", "SecretKey")
        ):
            raise TokenError("lgspaccesstoken must be base64 JSON with AccessKey and SecretKey.")
        agency = self.gateway.agencies.by_client(doc["AccessKey"])
        expected = agency.spec.client_secret if agency is not None else None
        # Compare even for unknown keys so timing does not reveal which AccessKeys exist.
        ok = hmac.compare_digest(
            (expected or secrets.token_hex(16)).encode(), str(doc["SecretKey"]).encode()
        )
        if agency is None or expected is None or not ok:
            raise TokenError("Unknown AccessKey or wrong SecretKey.")
        partner = doc.get("PartnerCode")
        if partner and partner != agency.code:
            raise ProblemError(
                "GATEWAY_CLIENT_MISMATCH",
                f"PartnerCode {str(partner)[:64]} is not the agency of this AccessKey "
                f"({agency.code}).",
            )
        return agency

    def _officer(self, agency: Agency) -> str:
        value = self.body.get("AuthHash") or ""
        if not value:
            raise TokenError("AuthHash (base64 officerKeyName:officerKeyPass) is required.")
        try:
            name, password = _b64(value[:1024], "AuthHash").decode("utf-8").split(":", 1)
        except (UnicodeDecodeError, ValueError):
            raise TokenError("AuthHash must be base64 of officerKeyName:officerKeyPass.") from None
        expected = officer_key_pass(agency.spec, name) or secrets.token_hex(16)
        # Compare digests so the comparison time does not depend on the length sent.
        if not name or not hmac.compare_digest(
            hashlib.sha256(expected.encode()).digest(), hashlib.sha256(password.encode()).digest()
        ):
            raise TokenError("Wrong officer credentials (AuthHash).")
        return name
