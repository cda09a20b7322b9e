"""Examples of the gateway contract, from the demo agencies and the registry's own examples.

The callers are the demo agencies of ``examples/agencies.yaml`` (DEMO-ONLY secrets): the commune
(residence, CT07), the police (full records) and the hospital (a few fields). Answers reuse the
registry's examples cut by the agency's grant; SOAP envelopes and LGSP headers are built by the
gateway's own encoders. Tokens have the real shape with a hash in place of the signature.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sim06.services.common import http
from sim06.services.common.keys import public_jwk
from sim06.services.common.openapi_docs import (
    ServiceExamples,
    demo_jwt,
    example_key,
    problem_of,
    validation_problem,
)
from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.gateway import access_log, soap
from sim06.services.gateway.agencies import AgencySpec, compile_agency, load_agencies
from sim06.services.gateway.lgsp import auth_hash, lgsp_access_token
from sim06.services.gateway.oauth import ASSERTION_TYPE, AUDIENCE, ISSUER
from sim06.services.gateway.policy import WRITE_OPERATIONS
from sim06.services.registry import event_examples, event_routes, examples as registry
from sim06.services.registry.schemas import VerifyRequest

__all__ = ["examples"]

JSON = "application/json"
XML = "text/xml"
FORM = "application/x-www-form-urlencoded"
KID = "20260701-9a7be2f4"
NOW = datetime(2026, 7, 1, 1, 15, 42, 318204, tzinfo=UTC)  # 08:15 in Hà Nội on the as-of date
TTL = int(Settings.model_fields["gateway_token_ttl"].default)
LEGAL_BASIS = "Luật Cư trú 2020"
TOKEN_URL = "http://127.0.0.1:8000/oauth/token"

NEW_AGENCY: dict[str, Any] = {
    "code": "000.00.15.H56",
    "name": "People's Committee of Nha Trang ward, Khanh Hoa (demo)",
    "name_vi": "UBND phường Nha Trang, tỉnh Khánh Hòa (demo)",
    "kind": "commune",
    "client_id": "ubnd-nha-trang",
    "client_secret": "demo-only-commune-secret-0099",
    "quota_per_minute": 300,
    "default_procedure": "1.004222.000.00.00.H56",
    "procedures": [
        {
            "code": "1.004222.000.00.00.H56",
            "name": "Xác nhận thông tin về cư trú (CT07)",
            "purposes": {
                "residence": {
                    "description": "Confirm where the citizen lives (replaces the paper CT07).",
                    "grants": {"residence-confirmation": "*", "verify": "*"},
                }
            },
        }
    ],
    "officers": [
        {
            "code": "CB.H56.0001",
            "name": "Lê Thị Minh (cán bộ một cửa)",
            "permissions": ["1.004222.000.00.00.H56"],
        }
    ],
}


def _agencies() -> dict[str, AgencySpec]:
    """The first demo agency of each kind (the commune is ubnd-ba-dinh)."""
    found: dict[str, AgencySpec] = {}
    for spec in load_agencies(None):
        found.setdefault(spec.kind, spec)
    return found


def access_token(spec: AgencySpec, scope: str) -> str:
    """An access token of the gateway's shape for ``spec``."""
    iat = int(NOW.timestamp())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": spec.client_id,
        "client_id": spec.client_id,
        "agency": spec.code,
        "scope": scope,
        "iat": iat,
        "exp": iat + TTL,
        "jti": "k3VtQ0hx9Zr1bM2aYw7pJg",
    }
    return demo_jwt({"alg": "ES256", "kid": KID, "typ": "at+jwt"}, claims)


def _client_assertion(spec: AgencySpec) -> str:
    iat = int(NOW.timestamp())
    claims = {
        "iss": spec.client_id,
        "sub": spec.client_id,
        "aud": TOKEN_URL,
        "iat": iat,
        "exp": iat + 60,
        "jti": "a1f3c9e2-57d4-4b8e-9f06-3c2e8b71d5a4",
    }
    return demo_jwt({"alg": "ES256", "kid": f"{spec.client_id}-2026", "typ": "JWT"}, claims)


def xac_thuc(request_id: str, officer: str, pin: str, name: str) -> str:
    """The observed XacThucThongTinCongDan envelope (domain §6.3)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:dan="http://dancuquocgia.bca"><soapenv:Header/><soapenv:Body>'
        f"<dan:XacThucThongTinCongDanRequest><dan:MaYeuCau>{request_id}</dan:MaYeuCau>"
        f"<dan:MaDichVu>033</dan:MaDichVu><dan:MaCanBo>{officer}</dan:MaCanBo>"
        f"<dan:SoDinhDanh>{pin}</dan:SoDinhDanh><dan:SoCMND></dan:SoCMND>"
        f"<dan:HoVaTen>{name}</dan:HoVaTen></dan:XacThucThongTinCongDanRequest>"
        "</soapenv:Body></soapenv:Envelope>"
    )


def tra_cuu(request_id: str, spec: AgencySpec, officer: str, pin: str) -> str:
    """The observed TraCuuThongTinCongDan envelope."""
    procedure = spec.procedures[0].code
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:dan="http://dancuquocgia.bca"><soapenv:Body><dan:TraCuuThongTinCongDan>'
        f"<dan:MaYeuCau>{request_id}</dan:MaYeuCau><dan:MaDVC>{procedure}</dan:MaDVC>"
        f"<dan:MaTichHop>037</dan:MaTichHop><dan:MaCanBo>{officer}</dan:MaCanBo>"
        f"<dan:MaDonVi>{spec.code}</dan:MaDonVi><dan:SoDinhDanh>{pin}</dan:SoDinhDanh>"
        "<dan:HoVaTen>NGUYEN VAN AN</dan:HoVaTen><dan:NgayThangNamSinh><dan:Nam>1990</dan:Nam>"
        "</dan:NgayThangNamSinh></dan:TraCuuThongTinCongDan></soapenv:Body></soapenv:Envelope>"
    )


def _lookup_fields(spec: AgencySpec) -> list[str]:
    """The lookup fields granted to the first purpose of ``spec``'s first procedure."""
    procedure = spec.procedures[0]
    purpose = next(iter(procedure.purposes))
    fields = compile_agency(spec).grants[(procedure.code, purpose, "lookup")].fields
    assert fields is not None, "an agency that receives whole records"
    return sorted(fields)


def _soap_answers(hospital: AgencySpec) -> dict[str, str]:
    """The answers of the two observed operations, by the gateway's encoders."""
    verified = ET.Element(f"{{{soap.NS_DAN}}}KetQuaXacThucResponse")
    soap.sub(verified, f"{{{soap.NS_DAN}}}MaYeuCau", "bank-20260701-000417")
    soap.sub(verified, f"{{{soap.NS_DAN}}}TonTai", "true")
    looked_up = ET.Element(f"{{{soap.NS_DAN}}}TraCuuThongTinCongDanResponse")
    record = registry.persona_service().record(registry.ADULT)
    collection = soap.collection(looked_up, "bvbm-20260701-000031", [record])
    soap.congdan(collection, record, frozenset(_lookup_fields(hospital)))
    return {
        "XacThucThongTinCongDan": soap.envelope(verified).decode(),
        "TraCuuThongTinCongDan": soap.envelope(looked_up).decode(),
    }


def _access(
    seq: int,
    spec: AgencySpec,
    officer: str,
    purpose: str,
    operation: str,
    fields: list[str],
    minutes: int,
) -> dict[str, Any]:
    ts = NOW + timedelta(minutes=minutes)
    action, action_vi = access_log.action_labels(operation, spec.code, spec.name, spec.name_vi)
    return {
        "seq": seq,
        "ts": ts.isoformat(timespec="microseconds"),
        "agency": spec.code,
        "officer": officer,
        "procedure": spec.procedures[0].code,
        "purpose": purpose,
        "legal_basis": LEGAL_BASIS if spec.kind == "commune" else "Luật Khám bệnh, chữa bệnh 2023",
        "operation": operation,
        "fields": fields,
        "request_id": f"{spec.client_id}-{ts:%Y%m%d%H%M%S}",
        "agency_name": spec.name,
        "agency_name_vi": spec.name_vi,
        "action": action,
        "action_vi": action_vi,
    }


# Where a problem of the JSON profile arose (profile_json.py): the registry's own codes passed
# through, or the gateway; the HTTP edge (unknown path, method, body size) says neither.
_REGISTRY_CODES = frozenset(
    {"INVALID_PIN", "INVALID_CMND", "CITIZEN_NOT_FOUND", "CITIZEN_NOT_ALIVE", "NO_HOUSEHOLD",
     "BATCH_TOO_LARGE", "PIN_CANCELLED", "NOT_A_CITIZEN", "IDEMPOTENCY_KEY_REUSED",
     "FEED_INVALID_CURSOR",
     "FEED_CURSOR_AHEAD",
     *(code for codes in event_routes.EVENT_CODES.values() for code in codes)}
)  # fmt: skip
_EDGE_CODES = frozenset({"NOT_FOUND", "METHOD_NOT_ALLOWED", "PAYLOAD_TOO_LARGE"})


def _source(operation: str, code: str) -> dict[str, str]:
    if not operation.startswith("registry-") or code in _EDGE_CODES:
        return {}
    return {"source": "registry" if code in _REGISTRY_CODES else "gateway"}


def _event_responses() -> dict[str, dict[str, dict[str, Any]]]:
    """The registry's real answers to the event examples, as the gateway forwards them (the
    writers' grants are "*"), and the first page of the feed."""
    answers, feed = event_examples.answers()
    out: dict[str, dict[str, dict[str, Any]]] = {
        f"registry-{operation}": {"201": {JSON: answers[kind]}, "200": {JSON: answers[kind]}}
        for operation, kind in WRITE_OPERATIONS.items()
    }
    out["registry-changes"] = {"200": {JSON: {"first-two-events": feed}}}
    return out


def _problems(commune: AgencySpec) -> dict[str, ProblemError]:
    """The gateway's refusals, worded as exchange.py words them, for the demo commune."""
    code = commune.code
    ct07, birth = (p.code for p in commune.procedures[:2])
    missing = [{"parameter": "x-madvc", "in": "header", "rule": "required",
                "reason": "x-madvc is required"}]  # fmt: skip
    quota = commune.quota_per_minute
    return {
        "GATEWAY_UNAUTHENTICATED": ProblemError(
            "GATEWAY_UNAUTHENTICATED", "A Bearer access token from /oauth/token is required."
        ),
        "GATEWAY_MISSING_HEADER": ProblemError(
            "GATEWAY_MISSING_HEADER",
            "Every exchange names the client agency, request id (MaYeuCau), procedure (MaDVC), "
            "officer (MaCanBo), purpose and legal basis.",
            errors=missing,
        ),
        "GATEWAY_CLIENT_MISMATCH": ProblemError(
            "GATEWAY_CLIENT_MISMATCH",
            f"X-Road-Client 000.00.12.H30 is not the agency of the token ({code}).",
        ),
        "004": ProblemError("004", f"Procedure BYT.KCB.001 is not licensed for agency {code}."),
        "005": ProblemError("005", f"Officer CB.H26.0002 may not run procedure {birth}."),
        "GATEWAY_PURPOSE_NOT_ALLOWED": ProblemError(
            "GATEWAY_PURPOSE_NOT_ALLOWED",
            f"Purpose 'investigation' is not licensed for {ct07}; licensed: ['residence'].",
        ),
        "GATEWAY_FORBIDDEN_FIELD": ProblemError(
            "GATEWAY_FORBIDDEN_FIELD", "Not granted for purpose 'residence': ['phone']."
        ),
        "GATEWAY_INSUFFICIENT_SCOPE": ProblemError(
            "GATEWAY_INSUFFICIENT_SCOPE", "The access token lacks the scope registry:household."
        ),
        "GATEWAY_REQUEST_REPLAYED": ProblemError(
            "GATEWAY_REQUEST_REPLAYED", "MaYeuCau ubnd-ba-dinh-20260701-000123 was already used."
        ),
        "GATEWAY_QUOTA_EXCEEDED": ProblemError(
            "GATEWAY_QUOTA_EXCEEDED",
            f"Quota of {quota} requests per minute used; retry in 12 s.",
        ),
        "GATEWAY_UPSTREAM_UNAVAILABLE": ProblemError(
            "GATEWAY_UPSTREAM_UNAVAILABLE", "The population registry cannot be reached."
        ),
        "GATEWAY_UPSTREAM_TIMEOUT": ProblemError(
            "GATEWAY_UPSTREAM_TIMEOUT", "The population registry did not answer in time."
        ),
        "GATEWAY_NOT_OWN_RECORD": ProblemError(
            "GATEWAY_NOT_OWN_RECORD", "The citizen token is for another citizen's PIN."
        ),
        "GATEWAY_ADMIN_UNAUTHORIZED": ProblemError(
            "GATEWAY_ADMIN_UNAUTHORIZED",
            "Send 'Authorization: Bearer <SIM06_GATEWAY_ADMIN_TOKEN>'.",
        ),
        "GATEWAY_AGENCY_EXISTS": ProblemError(
            "GATEWAY_AGENCY_EXISTS",
            f"agency {code} / client {commune.client_id} already exists",
        ),
    }


@cache
def examples() -> ServiceExamples:
    """The gateway's examples (built once)."""
    by_kind = _agencies()
    commune, hospital = by_kind["commune"], by_kind["hospital"]
    commune_scope = "registry:lookup registry:residence"
    service = registry.persona_service()
    adult = registry.ADULT
    lookup_fields = _lookup_fields(commune)
    record = service.record(adult)
    hospital_fields = _lookup_fields(hospital)
    envelope = tra_cuu("bvbm-20260701-000031", hospital, "CB.G14.0007", adult)
    answers = _soap_answers(hospital)
    specs = load_agencies(None)
    return ServiceExamples(
        requests={
            "oauth-token": {
                FORM: {
                    "client_secret_basic": {
                        "grant_type": "client_credentials",
                        "scope": "registry:lookup registry:residence",
                    },
                    "private_key_jwt": {
                        "grant_type": "client_credentials",
                        "client_assertion_type": ASSERTION_TYPE,
                        "client_assertion": _client_assertion(commune),
                    },
                    "tls_client_auth": {
                        "grant_type": "client_credentials",
                        "client_id": commune.client_id,
                    },
                }
            },
            "soap-dancu": {
                XML: {
                    "XacThucThongTinCongDan": xac_thuc(
                        "bank-20260701-000417", "BANK.EKYC.SYSTEM", adult, "NGUYEN VAN AN"
                    ),
                    "TraCuuThongTinCongDan": envelope,
                }
            },
            "soap-lgsp-dancu": {
                JSON: {
                    "TraCuuThongTinCongDan": {
                        "accessToken": "Bearer " + access_token(hospital, "registry:lookup"),
                        "lgspAccessToken": lgsp_access_token(hospital),
                        "AuthHash": auth_hash(hospital, "CB.G14.0007"),
                        "data": envelope,
                    }
                }
            },
            "admin-add-agency": {JSON: {"commune": NEW_AGENCY}},
        },
        responses={
            **_event_responses(),
            "oauth-token": {
                "200": {
                    JSON: {
                        "commune": {
                            "access_token": access_token(commune, commune_scope),
                            "token_type": "Bearer",
                            "expires_in": TTL,
                            "scope": commune_scope,
                        }
                    }
                },
                "400": {
                    JSON: {
                        "invalid_request": {
                            "error": "invalid_request",
                            "error_description": "grant_type is required.",
                        },
                        "unsupported_grant_type": {
                            "error": "unsupported_grant_type",
                            "error_description": "Only client_credentials is supported here.",
                        },
                        "invalid_scope": {
                            "error": "invalid_scope",
                            "error_description": "Not granted to this agency: "
                            "['citizen:access-log'].",
                        },
                    }
                },
                "401": {
                    JSON: {
                        "invalid_client": {
                            "error": "invalid_client",
                            "error_description": "Unknown client or wrong secret.",
                        },
                        "expired_assertion": {
                            "error": "invalid_client",
                            "error_description": "The client assertion expired.",
                        },
                    }
                },
            },
            "keys-jwks": {
                "200": {
                    "application/jwk-set+json": {
                        "gateway": {"keys": [public_jwk(example_key("gateway"), KID, "ES256")]}
                    }
                }
            },
            "health-live": {"200": {JSON: {"live": {"status": "ok"}}}},
            "registry-lookup": {
                "200": {
                    JSON: {
                        "residence": {k: v for k, v in record.items() if k in lookup_fields},
                        "investigation": record,
                    }
                }
            },
            "registry-verify": {
                "200": {
                    JSON: {
                        name: service.verify(VerifyRequest.model_validate(body))
                        for name, body in registry.VERIFY_REQUESTS.items()
                    }
                }
            },
            "registry-verify-batch": {
                "200": {
                    JSON: {"mixed": service.verify_batch(registry.verify_batch_request()["items"])}
                }
            },
            "registry-household": {"200": {JSON: {"residence": service.household(adult)}}},
            "registry-residence-confirmation": {
                "200": {JSON: {"residence": service.residence_confirmation(adult)}}
            },
            "soap-dancu": {"200": {XML: answers}},
            "soap-lgsp-dancu": {
                "200": {XML: {"TraCuuThongTinCongDan": answers["TraCuuThongTinCongDan"]}}
            },
            "citizens-access-log": {
                "200": {
                    JSON: {
                        "adult-level2": {
                            "pin": adult,
                            "count": 2,
                            "accesses": [
                                _access(
                                    1841,
                                    commune,
                                    "CB.H26.0002",
                                    "residence",
                                    "lookup",
                                    lookup_fields,
                                    0,
                                ),
                                _access(
                                    1907,
                                    hospital,
                                    "CB.G14.0007",
                                    "patient-admission",
                                    "lookup",
                                    hospital_fields,
                                    95,
                                ),
                            ],
                        }
                    }
                }
            },
            "admin-list-agencies": {
                "200": {JSON: {"demo": {"count": len(specs), "data": [s.public() for s in specs]}}}
            },
            "admin-add-agency": {
                "201": {JSON: {"commune": AgencySpec.model_validate(NEW_AGENCY).public()}}
            },
            "admin-verify-audit": {
                "200": {
                    JSON: {
                        "intact": {"ok": True, "records": 1907, "index": None, "problem": None},
                        "altered": {
                            "ok": False,
                            "records": 1907,
                            "index": 1841,
                            "problem": "record 1841 was altered",
                        },
                    }
                }
            },
        },
        operation_problems={
            "registry-lookup": {
                "VALIDATION_FAILED": ProblemError(
                    "VALIDATION_FAILED",
                    "fields lists top-level fields of the citizen record, comma-separated.",
                    errors=[
                        {
                            "parameter": "fields",
                            "in": "query",
                            "rule": "enum",
                            "reason": "unknown fields ['photo']",
                        }
                    ],
                )
            },
            **{
                op: {
                    "MALFORMED_BODY": ProblemError("MALFORMED_BODY", http.NOT_JSON),
                    "UNSUPPORTED_MEDIA_TYPE": ProblemError(
                        "UNSUPPORTED_MEDIA_TYPE", http.SEND_JSON
                    ),
                    "VALIDATION_FAILED": ProblemError(
                        "VALIDATION_FAILED", "The request body must be a JSON object."
                    ),
                }
                for op in ("registry-verify", "registry-verify-batch")
            },
            "citizens-access-log": {
                "VALIDATION_FAILED": problem_of(lambda: access_log._instant("hôm qua", "since"))
            },
            "admin-add-agency": {
                "VALIDATION_FAILED": validation_problem(
                    AgencySpec, {k: v for k, v in NEW_AGENCY.items() if k != "client_id"}
                )
            },
        },
        problems={**registry.examples().problems, **_problems(commune)},
        problem_paths=registry.examples().problem_paths,
        problem_members=_source,
        path_values={"pin": adult},
    )
