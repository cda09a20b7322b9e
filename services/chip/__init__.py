"""Chip identity card service: reader simulation, C06-style verification, card QR code."""

from services.chip.app import create_app, create_router
from services.chip.service import ChipService

__all__ = ["ChipService", "create_app", "create_router"]
