"""Death registration (đăng ký khai tử) and what follows from it through the linked procedure:
the permanent residence deleted (xóa đăng ký thường trú), the card revoked, the VNeID account
locked, the household given a new head, the spouse widowed."""

from __future__ import annotations

from datetime import date

from sim06.mock_registry import card_history
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.households import remove_member
from sim06.mock_registry.events.model import Death
from sim06.mock_registry.events.residence import close_residence
from sim06.mock_registry.events.workspace import Workspace, commune_or_refuse


def register_death(ws: Workspace, death: Death) -> None:
    """Decide a death: refuse it, or stage the deceased's, household's and spouse's records."""
    record = ws.living(death.pin, "/pin")
    ws.not_future(death.date_of_death, "/date_of_death")
    born = date.fromisoformat(record["date_of_birth"] or f"{record['birth_year']}-01-01")
    if death.date_of_death < born:
        raise EventRefused(
            "EVENT_DEATH_BEFORE_BIRTH",
            f"The date of death {death.date_of_death.isoformat()} is before the birth "
            f"({born.isoformat()}).",
            pointer="/date_of_death",
            rule="after_birth",
        )
    commune = (
        commune_or_refuse(death.registration_commune_code, "/registration_commune_code")
        if death.registration_commune_code
        else None
    )
    household_id = record["household"]["id"] if record["household"] else None
    new_head = remove_member(ws, record, ws.today)
    close_residence(record, death.date_of_death, "death")
    record["status"] = "deceased"
    record["date_of_death"] = death.date_of_death.isoformat()
    record["place_of_death"] = death.place_of_death
    record["death_registration"] = {
        "number": death.registration_reference,
        "date": ws.today.isoformat(),
        "commune_code": commune.code if commune else None,
        "commune_name": commune.name if commune else None,
        "registered_by": ws.ctx.actor,
    }
    if record["id_card"] is not None:
        record["id_card"] = {**record["id_card"], "status": "revoked"}
    if record.get("card_history"):
        record["card_history"] = card_history.revoke_current(record["card_history"])
    if record["eid"]["level"]:
        record["eid"] = {**record["eid"], "status": "locked"}
    spouse_ref = record["spouse"]
    if spouse_ref is not None and spouse_ref["pin"]:
        spouse = ws.find(spouse_ref["pin"])
        if spouse is not None and spouse["status"] == "alive":
            spouse["marital_status"] = "widowed"
            spouse["spouse"] = None
            ws.put(spouse)
    ws.decision.subject = death.pin
    ws.put(record)
    ws.decision.result = {
        "pin": death.pin,
        "household": None if household_id is None else {"id": household_id, "head_pin": new_head},
    }
