"""Chip identity card service: reader simulation, C06-style verification, QR code, face match."""

from services.chip.app import create_app, create_router
from services.chip.biometrics import FaceMatcher
from services.chip.service import ChipService

__all__ = ["ChipService", "FaceMatcher", "create_app", "create_router"]
