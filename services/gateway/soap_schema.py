"""The SOAP profile's WSDL 1.1 and XSDs (``services/gateway/wsdl/``): served, published, enforced.

- :func:`wsdl` and :func:`xsd` render them for one route (``/soap/dancu`` or ``/lgsp/dancu``)
  at the address the client called, so toolkits (zeep, svcutil, wsimport, node ``soap``)
  generate clients from ``GET <route>?wsdl`` and fetch the XSDs from ``<route>?xsd=<name>``.
- :func:`documents` is what ``contracts/soap/`` holds (rendered at :data:`DEFAULT_BASE`);
  ``sim06 contract write`` writes it and the contract tests compare it with the code.
- :func:`validate` checks a parsed envelope against the same XSDs (with a stricter envelope
  schema, ``envelope.xsd``), naming the first problem in a ``GATEWAY_SOAP_INVALID`` fault.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template
from typing import Any

from lxml import etree

from sim06.services.common.problems import ProblemError

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
DEFAULT_BASE = "http://127.0.0.1:8000"  # the gateway's default port (settings.gateway_port)
XSD_NAMES = ("dancu.xsd", "congdan.xsd", "qldc.xsd")
_DIRECT_DOC = (
    "Direct profile (domain §6.3, pattern 1): POST the envelope as text/xml; charset=utf-8 "
    'with SOAPAction "". Authentication is HTTP, outside the envelope (WSDL 1.1 cannot express '
    "it; no WS-Security): either Authorization: Bearer &lt;gateway access token&gt; (POST "
    "/oauth/token, client_credentials), or the observed direct scheme, headers Timestamp (ms "
    'since epoch, within 5 minutes) and Authorization: Basic base64(client_id ":" '
    "hex(sha256(url + client_id + timestamp + client_secret))) where url is this service's "
    "address. Optional headers X-Purpose and X-Legal-Basis."
)
_LGSP_DOC = (
    "Through a provincial LGSP (domain §6.3, pattern 2, the observed OpenCPS shape): the "
    "envelope is not POSTed as text/xml but as the data string of a JSON wrapper "
    '(application/json) {"accessToken": "Bearer &lt;gateway access token&gt;", '
    '"lgspAccessToken": the header\'s value, "AuthHash": base64(officer ":" officerKeyPass), '
    '"data": "&lt;the SOAP envelope&gt;"} with header lgspaccesstoken = base64 of JSON '
    "{AccessKey (client_id), SecretKey (client_secret), AppName, PartnerCode (agency code), "
    "PartnerCodeCus}. The answer is SOAP XML as described here. A generated client needs a "
    "transport that wraps the envelope (see the README)."
)
ROUTES: dict[str, tuple[str, str]] = {
    "/soap/dancu": ("DanCuService", _DIRECT_DOC),
    "/lgsp/dancu": ("DanCuLgspService", _LGSP_DOC),
}
# contracts/soap/<file> → (route, what the route serves: "wsdl" or an XSD name)
CONTRACT_FILES: dict[str, tuple[str, str]] = {
    "dancu.wsdl": ("/soap/dancu", "wsdl"),
    "lgsp-dancu.wsdl": ("/lgsp/dancu", "wsdl"),
    **{name: ("/soap/dancu", name) for name in XSD_NAMES},
}
_HOST = re.compile(r"[A-Za-z0-9.\-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def _text(name: str) -> str:
    return files("sim06.services.gateway").joinpath("wsdl", name).read_text("utf-8")


@cache
def _template(name: str) -> Template:
    return Template(_text(name))


def base_url(scheme: str, netloc: str) -> str:
    """``scheme://netloc`` of the request, or :data:`DEFAULT_BASE` if the Host is not a plain
    host[:port] (it is copied into XML attributes, so nothing else may get through)."""
    if scheme in ("http", "https") and _HOST.fullmatch(netloc):
        return f"{scheme}://{netloc}"
    return DEFAULT_BASE


def wsdl(route: str, base: str = DEFAULT_BASE) -> bytes:
    """The WSDL of ``route`` with its address at ``base``."""
    service, documentation = ROUTES[route]
    text = _template("profile.wsdl").substitute(
        address=base + route, service=service, documentation=documentation
    )
    return text.encode("utf-8")


def xsd(name: str, route: str, base: str = DEFAULT_BASE) -> bytes:
    """The XSD ``name`` (one of :data:`XSD_NAMES`) as served on ``route``; KeyError if unknown."""
    if name not in XSD_NAMES or route not in ROUTES:
        raise KeyError(name)
    return _template(name).substitute(address=base + route).encode("utf-8")


def documents(base: str = DEFAULT_BASE) -> dict[str, bytes]:
    """``contracts/soap/`` file name → content, rendered at ``base``."""
    return {
        file: wsdl(route, base) if what == "wsdl" else xsd(what, route, base)
        for file, (route, what) in CONTRACT_FILES.items()
    }


def write_documents(directory: Path) -> list[Path]:
    """Regenerate ``contracts/soap/``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in documents().items():
        path = directory / name
        path.write_bytes(content)
        paths.append(path)
    return paths


def check_documents(directory: Path) -> list[str]:
    """Differences between ``contracts/soap/`` and the code (empty = none)."""
    problems = []
    for name, content in documents().items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing (run `sim06 contract write`)")
        elif path.read_bytes() != content:
            problems.append(
                f"{path}: differs from the served document (run `sim06 contract write`)"
            )
    return problems


class _PackageResolver(etree.Resolver):
    """Schema imports come from the package, never from the network: ``…?xsd=<name>`` and
    relative names map to ``services/gateway/wsdl/<name>``."""

    def resolve(self, system_url: str | None, _public_id: str | None, context: Any) -> Any:
        name = (system_url or "").rsplit("?xsd=", 1)[-1].rsplit("/", 1)[-1]
        if name in (*XSD_NAMES, "envelope.xsd"):
            return self.resolve_string(xsd(name, "/soap/dancu") if name != "envelope.xsd"
                                       else _text(name), context)  # fmt: skip
        return None


def safe_parser() -> etree.XMLParser:
    """An XML parser with no network, no entity expansion, no DTD loading, bounded depth."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
        dtd_validation=False, remove_comments=True, remove_pis=True, collect_ids=False,
    )  # fmt: skip


def schema_parser() -> etree.XMLParser:
    """:func:`safe_parser` for schema documents: their imports are read from the package."""
    parser = safe_parser()
    parser.resolvers.add(_PackageResolver())
    return parser


@cache
def _schema() -> etree.XMLSchema:
    root = etree.fromstring(_text("envelope.xsd").encode("utf-8"), schema_parser())
    return etree.XMLSchema(root)


_UNEXPECTED = re.compile(r"Element '(?:\{([^}]*)\})?([^']*)': This element is not expected\.")
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")


def _explain(message: str, root: etree._Element) -> str:
    """libxml2's message, prefixed with the kind of problem a client should fix."""
    unexpected = _UNEXPECTED.search(message)
    if unexpected is None:
        if "Missing child element" in message:
            kind = "missing element"
        elif "is not allowed" in message or "Character content" in message:
            kind = "unexpected content"
        elif "is not a valid value" in message or "facet" in message:
            kind = "wrong type or value"
        else:
            kind = "invalid structure"
        return f"{kind}: {message}"
    namespace, local = unexpected.group(1) or "", unexpected.group(2)
    expected = _EXPECTED.search(message)
    wanted = re.findall(r"\{([^}]*)\}([A-Za-z0-9_]+)", expected.group(1)) if expected else []
    tag = f"{{{namespace}}}{local}" if namespace else local
    found = list(root.iter(tag))
    repeated = any(any(s.tag == tag for s in e.itersiblings(preceding=True)) for e in found)
    parent = found[0].getparent() if found else None
    present = set() if parent is None else {child.tag for child in parent}
    # A single expected element absent from the parent: it is missing, not the one that came.
    missing = [f"{{{ns}}}{name}" for ns, name in wanted]
    if local == "Body" and namespace == SOAP_ENV:
        kind = "second Body"
    elif repeated:
        kind = f"duplicated element {local}"
    elif any(name == local and ns != namespace for ns, name in wanted):
        right = next(ns for ns, name in wanted if name == local)
        kind = f"wrong namespace: {local} belongs to {right}, not {namespace or '(no namespace)'}"
    elif parent is not None and parent.tag == f"{{{SOAP_ENV}}}Body" and len(parent) > 1:
        kind = "more than one request in Body"
    elif len(missing) == 1 and missing[0] not in present:
        kind = f"missing element {wanted[0][1]}"
    elif local in _KNOWN_LOCALS:
        kind = f"misplaced element {local} (the schema's order matters)"
    else:
        kind = f"unknown element {tag}"
    return f"{kind}: {message}"


_KNOWN_LOCALS = frozenset(
    ("MaYeuCau MaDichVu MaCanBo SoDinhDanh SoCMND HoVaTen MaDVC MaTichHop MaDonVi TaiKhoan "
     "SoDienThoai NgayThangNamSinh NgayThangNam Nam Header Body").split()
)  # fmt: skip


def validate(root: etree._Element) -> None:
    """``GATEWAY_SOAP_INVALID`` naming the first way ``root`` breaks the profile's schema."""
    schema = _schema()
    if schema.validate(root):
        return
    error = schema.error_log[0]
    detail = _explain(error.message, root)
    raise ProblemError("GATEWAY_SOAP_INVALID", f"line {error.line}: {detail}"[:600])
