"""Request examples of the civil-status events, valid as they stand against the default seed.

They name the personas (``sim06 personas``): the couple Nguyễn Văn An and Trần Thị Bình register
a daughter in Phường Ba Đình; the centenarian Lê Thị Bảy dies; Nguyễn Văn Sơn, who has only a
temporary residence, registers a permanent one and marries Đào Thị Thanh Huyền; the married
couple living apart divorce; the son of the couple has his name corrected. Both the registry's
and the gateway's contracts carry them.
"""

from __future__ import annotations

from typing import Any

BA_DINH = "00004"

REQUESTS: dict[str, dict[str, dict[str, Any]]] = {
    "births": {
        "with_residence": {
            "child": {
                "name": {"family": "Nguyễn", "middle": "Minh", "given": "Anh"},
                "sex": "female",
                "date_of_birth": "2026-11-30",
                "place_of_birth": "Bệnh viện Phụ sản Hà Nội",
            },
            "mother_pin": "001195208733",
            "father_pin": "001090104217",
            "registration_commune_code": BA_DINH,
            "residence": {"with_pin": "001090104217", "relationship": "child"},
        }
    },
    "deaths": {
        "centenarian": {
            "pin": "052123497883",
            "date_of_death": "2026-12-01",
            "place_of_death": "Tại nhà riêng",
            "registration_reference": "KT-00004-2026-0001",
            "registration_commune_code": BA_DINH,
        }
    },
    "residence-changes": {
        "permanent_registration": {
            "pin": "060099308874",
            "kind": "permanent_registration",
            "effective_date": "2026-12-01",
            "commune_code": BA_DINH,
            "detail": "Số 5 Đội Cấn",
        },
        "temporary_registration": {
            "pin": "079078315062",
            "kind": "temporary_registration",
            "effective_date": "2026-12-01",
            "end_date": "2027-11-30",
            "commune_code": BA_DINH,
            "detail": "Số 12 Kim Mã",
        },
    },
    "marriages": {
        "first_marriage": {
            "spouse_a_pin": "060099308874",
            "spouse_b_pin": "001301642018",
            "date_of_marriage": "2026-12-02",
            "registration_reference": "KH-00004-2026-0001",
            "registration_commune_code": BA_DINH,
        }
    },
    "divorces": {
        "court_judgment": {
            "spouse_a_pin": "034091631247",
            "spouse_b_pin": "027193742338",
            "effective_date": "2026-12-01",
            "judgment_reference": "BA-2026-HNGD-117",
        }
    },
    "corrections": {
        "given_name": {
            "pin": "001216531774",
            "reason": "Cải chính tên theo giấy khai sinh",
            "name": {"family": "Nguyễn", "middle": "Minh", "given": "Khoa"},
        }
    },
}


def openapi_examples(kind: str) -> dict[str, dict[str, Any]]:
    """The named examples of one event kind, as OpenAPI ``examples`` entries."""
    return {name: {"value": value} for name, value in REQUESTS[kind].items()}


def answers() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """What the registry answers to each example, and the feed page they make.

    Run on a private in-memory store of the personas at a fixed time (examples must not vary).
    """
    from datetime import UTC, datetime

    import orjson

    from sim06.mock_registry import personas
    from sim06.mock_registry.citizen import record_of, row_of
    from sim06.mock_registry.store import SQLiteCitizenStore
    from sim06.services.common.settings import DEFAULT_AS_OF, Settings
    from sim06.services.registry.events import REQUESTS as MODELS, EventService

    store = SQLiteCitizenStore(":memory:")
    data_as_of = f"{DEFAULT_AS_OF.isoformat()}T00:00:00+07:00"
    store.add(
        [row_of(p, orjson.dumps(record_of(p, data_as_of))) for p in personas.build(DEFAULT_AS_OF)]
    )
    moment = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    events = EventService(Settings.model_construct(), store, clock=lambda: moment)
    out: dict[str, dict[str, Any]] = {}
    for kind, named in REQUESTS.items():
        out[kind] = {}
        for name, body in named.items():
            request = MODELS[kind].model_validate(body)
            committed = events.register(
                kind, request, f"example-{kind}-{name}", actor="000.21.01.H26"
            )
            out[kind][name] = orjson.loads(committed.body)
    feed = orjson.loads(events.feed("0", None, 2))
    store.close()
    return out, feed
