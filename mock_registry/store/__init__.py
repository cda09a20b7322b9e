"""Citizen stores: the protocol and its backends."""

from sim06.mock_registry.store.base import CitizenRow, CitizenStore
from sim06.mock_registry.store.sqlite import SQLiteCitizenStore

__all__ = ["CitizenRow", "CitizenStore", "SQLiteCitizenStore"]
