"""Where the Hydra configs live, and the resolvers they use.

The project root is the folder holding ``conf/`` (the package is installed editable from
``src/``); every path in the configs is resolved from it, never from Hydra's run directory.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import OmegaConf

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = PROJECT_ROOT / "conf"

OmegaConf.register_new_resolver("project_root", lambda: str(PROJECT_ROOT), replace=True)
