"""Chip identity card service: reader simulation, C06-style verification, QR code, face match."""

from sim06.services.chip.app import create_app, create_router
from sim06.services.chip.biometrics import FaceMatcher
from sim06.services.chip.service import ChipService

__all__ = ["ChipService", "FaceMatcher", "create_app", "create_router"]
