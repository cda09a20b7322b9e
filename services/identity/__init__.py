"""VNeID electronic identity provider (OpenID Connect, levels 1 and 2)."""

from sim06.services.identity.app import create_app, issuer_of
from sim06.services.identity.signing import rotate_identity_key
from sim06.services.identity.state import MemoryStateStore, StateStore

__all__ = ["MemoryStateStore", "StateStore", "create_app", "issuer_of", "rotate_identity_key"]
