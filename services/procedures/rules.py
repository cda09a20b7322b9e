"""Decision rules over the facts a run gathered.

Facts are a tree: ``{step id: the step's JSON answer, "params": {...}, "roles": {...}}``; a path
such as ``mother.spouse.pin`` walks it. A value given as ``"$params.office_commune"`` is read
from the facts too. An absent fact (a skipped step, a null field) is *unknown*, and an unknown
fact fails every test but ``is_null``: a rule never fires on data the run did not get.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sim06.services.procedures.model import Condition, Rule

Facts = dict[str, Any]


def resolve(facts: Facts, path: str) -> Any:
    """The value at ``path`` (dot-separated), or None."""
    node: Any = facts
    for part in path.split("."):
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _value(facts: Facts, given: Any) -> Any:
    if isinstance(given, str) and given.startswith("$"):
        return resolve(facts, given[1:])
    if isinstance(given, list):
        return [_value(facts, g) for g in given]
    return given


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def age_on(value: Any, today: date) -> int | None:
    """Age in whole years on ``today`` of a birth date (or, less precisely, a birth year)."""
    born = _as_date(value)
    if born is not None:
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if isinstance(value, int) and not isinstance(value, bool):
        return today.year - value - 1  # year only: the youngest the person can be
    return None


def holds(cond: Condition, facts: Facts, failed: set[str]) -> bool:
    """Whether ``cond`` holds; ``failed`` are the ids of refused or failed steps."""
    if cond.all is not None:
        return all(holds(c, facts, failed) for c in cond.all)
    if cond.any is not None:
        return any(holds(c, facts, failed) for c in cond.any)
    if cond.not_ is not None:
        return not holds(cond.not_, facts, failed)
    if cond.failed is not None:
        return cond.failed in failed
    assert cond.field is not None
    value = resolve(facts, cond.field)
    if cond.is_null is not None:
        return (value is None) == cond.is_null
    if value is None:
        return False
    given = cond.model_fields_set
    today = _as_date(resolve(facts, "params.date")) or date.today()
    if "equals" in given:
        return bool(value == _value(facts, cond.equals))
    if "not_equals" in given:
        other = _value(facts, cond.not_equals)
        return other is not None and value != other
    if "in_" in given:
        return value in (_value(facts, cond.in_) or [])
    if "not_in" in given:
        return value not in (_value(facts, cond.not_in) or [])
    if "differs_from" in given:
        other = resolve(facts, cond.differs_from or "")
        return other is not None and value != other
    if "age_under" in given or "age_at_least" in given:
        age = age_on(value, today)
        if age is None:
            return False
        return (
            age < cond.age_under if cond.age_under is not None else age >= (cond.age_at_least or 0)
        )
    if "before" in given:
        this, other = _as_date(value), _as_date(resolve(facts, cond.before or ""))
        if this is None or other is None:
            return False
        return this < other - timedelta(days=cond.days)
    raise AssertionError("unreachable: the model guarantees one operator")


def fired(rules: list[Rule], facts: Facts, failed: set[str]) -> list[Rule]:
    """The rules whose condition holds, in catalogue order."""
    return [r for r in rules if holds(r.when, facts, failed)]


__all__ = ["Facts", "age_on", "fired", "holds", "resolve"]
