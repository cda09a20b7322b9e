"""Civil-status events on the population database: the write path's domain core (no HTTP).

An event is a fact with a request id: a birth (đăng ký khai sinh), a death (khai tử), a
residence change (thường trú / tạm trú / tạm vắng), a marriage (kết hôn) or divorce (ly hôn), a
correction (cải chính hộ tịch). :func:`decide` reads the current records through a
:class:`Ledger` (the store's open transaction) and returns a :class:`Decision`: the records to
write, the change-feed item and the answer. The store applies a decision atomically; the seeded
population is never touched (events live in an overlay).

    EventRefused            a refusal with a stable code of contracts/errors.yaml
"""

from sim06.mock_registry.events.apply import decide
from sim06.mock_registry.events.errors import EventRefused
from sim06.mock_registry.events.ledger import Ledger
from sim06.mock_registry.events.model import (
    EVENT_TYPES,
    Birth,
    BirthResidence,
    Correction,
    Death,
    Decision,
    Divorce,
    Event,
    EventContext,
    Marriage,
    ResidenceChange,
)

__all__ = [
    "EVENT_TYPES",
    "Birth",
    "BirthResidence",
    "Correction",
    "Death",
    "Decision",
    "Divorce",
    "Event",
    "EventContext",
    "EventRefused",
    "Ledger",
    "Marriage",
    "ResidenceChange",
    "decide",
]
