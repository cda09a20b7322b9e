"""What the runner fills in by itself: generated parameters and the templates of request bodies
and issued documents.

A parameter marked ``generated`` and left empty gets a value from the run id, so that two runs
do not collide (a child's name) and a repeated run with the same id gets the same one; dates are
relative to today in Vietnam, since the registry refuses events dated after it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sim06.services.procedures.model import Param
from sim06.services.procedures.rules import Facts, resolve

__all__ = ["TemplateError", "generate", "render", "today_in_vietnam"]

VIETNAM = timezone(timedelta(hours=7))
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.-]+)\}")

# Names a generated child's name is picked from (by the run id): common, and given to boys and
# girls alike, so that any pick fits the declared sex.
MIDDLE_NAMES = (
    "Minh", "Gia", "Bảo", "Khánh", "Ngọc", "Thiên", "An", "Hoàng", "Phúc", "Thanh", "Hải",
    "Nhật", "Tuệ", "Hà", "Kim", "Mai", "Quang", "Thái", "Trúc", "Tường", "Vân", "Xuân", "Yên",
    "Bình",
)  # fmt: skip
GIVEN_NAMES = (
    "An", "Anh", "Bình", "Chi", "Dương", "Giang", "Hân", "Khang", "Khôi", "Lam", "Linh",
    "Long", "Mai", "Nam", "Ngân", "Nhi", "Phong", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tú",
    "Vy", "Yến", "Bách", "Châu", "Duy", "Hiếu", "Huy", "Khoa", "Lâm", "My", "Nga", "Phương",
    "Quỳnh", "Tùng", "Uyên", "Việt", "Xuân", "Hòa", "Khuê", "Ly", "Ngọc", "Phúc", "Thư", "Vũ",
    "Ý",
)  # fmt: skip


class TemplateError(ValueError):
    """A ``{path}`` of a body or document template has no value."""


def today_in_vietnam() -> date:
    """Today's date in Vietnam (UTC+7): the registry refuses events dated after it."""
    return datetime.now(VIETNAM).date()


def _pick(options: tuple[str, ...], run_id: str, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{run_id}".encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def generate(param: Param, run_id: str, today: date, name: str) -> str:
    """The value the runner makes for a generated parameter left empty."""
    if param.generated == "date":
        return (today + timedelta(days=param.days)).isoformat()
    if param.generated == "given-name":
        return _pick(GIVEN_NAMES, run_id, name)
    return _pick(MIDDLE_NAMES, run_id, name)


def render(template: Any, facts: Facts) -> Any:
    """A body or document template filled from the facts (see ``Step.body``)."""
    if isinstance(template, dict):
        out = {}
        for key, value in template.items():
            filled = render(value, facts)
            if filled is not None:
                out[key] = filled
        return out
    if isinstance(template, list):
        return [render(item, facts) for item in template]
    if not isinstance(template, str):
        return template
    if template.startswith("$"):
        for path in template[1:].split("|"):
            value = resolve(facts, path)
            if value not in (None, ""):
                return value
        return None

    def fill(match: re.Match[str]) -> str:
        value = resolve(facts, match.group(1))
        if value in (None, ""):
            raise TemplateError(match.group(1))
        return str(value)

    return _PLACEHOLDER.sub(fill, template)
