"""Run names that stay unique under a fixed seed.

MLflow draws its own names (``capable-auk-759``) from Python's ``random``, which
``L.seed_everything`` has just reset, so every run with the same seed got the same name. These
come from the clock and the operating system's randomness, which no seed touches.
"""

from __future__ import annotations

import secrets
from datetime import datetime


def unique_run_name(prefix: str) -> str:
    """``<prefix>-<yyyymmdd-HHMMSS>-<4 hex>``, e.g. ``sentiment-20261201-121530-3fa2``."""
    return f"{prefix}-{datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
