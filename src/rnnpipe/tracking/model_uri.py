"""``models:/<name>/<version>`` and ``models:/<name>@<alias>``: the one parser of registered-model
URIs, for every entry point that takes one (rnnpipe-compare, rnnpipe-promote)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(/(?P<version>\d+)|@(?P<alias>[\w-]+))")


@dataclass(frozen=True)
class ModelUri:
    name: str
    version: str | None  # exactly one of version and alias is set
    alias: str | None


def parse_model_uri(text: str) -> ModelUri | None:
    """The registered model a URI names, or None when ``text`` is not a models:/ URI."""
    match = MODEL_URI.fullmatch(text)
    return ModelUri(match["name"], match["version"], match["alias"]) if match else None
