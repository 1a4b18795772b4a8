"""Where the Hydra configs live, and the resolvers they use.

The project root is the folder holding ``conf/`` (the package is installed editable from
``src/``); every path in the configs is resolved from it, never from Hydra's run directory.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from hydra.core.override_parser.overrides_parser import OverridesParser
from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"

OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)


def unique_stamp(time_format: str) -> str:
    """The time in ``time_format`` and a random suffix: a run, sweep or recipe directory named by
    it is its own even when other processes start in the same second. Registered with
    ``use_cache``, as Hydra's ``now`` is: a config (and a multirun's jobs, whose configs Hydra
    gives the same cache) reads one value."""
    return f"{datetime.now().strftime(time_format)}_{secrets.token_hex(3)}"


OmegaConf.register_new_resolver("unique_stamp", unique_stamp, use_cache=True, replace=True)


def bptt_for_cell(cell: str) -> str:
    """The engine a cell trains with unless told otherwise: the hand-written BPTT is the
    vanilla RNN's; the gated cells run on autograd."""
    return "manual" if cell == "vanilla" else "autograd"


OmegaConf.register_new_resolver("bptt_for_cell", bptt_for_cell, replace=True)


def override_keys(overrides: Sequence[str]) -> list[str]:
    """The config key (or group) each override sets: ``+model.x=1`` -> ``model.x``."""
    return [o.key_or_group for o in OverridesParser.create().parse_overrides(list(overrides))]
