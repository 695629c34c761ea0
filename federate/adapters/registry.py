"""The registered sites: an explicit list, so a misspelt name fails with a suggestion."""

from __future__ import annotations

import difflib
import importlib
from functools import cache
from typing import cast

from federate.adapters.declaration import SiteAdapter
from federate.errors import UsageError
from federate.schema import Schema

# site name -> "module:attribute", installed under federate.site_adapters
SITES: dict[str, str] = {
    "italy": "federate.site_adapters.italy:ITALY",
    "sweden": "federate.site_adapters.sweden:SWEDEN",
    "uk": "federate.site_adapters.uk:UK",
    "spain": "federate.site_adapters.spain:SPAIN",
    "denmark": "federate.site_adapters.denmark:DENMARK",
    "france": "federate.site_adapters.france:FRANCE",
}
SCHEMA_REF = "federate.schemas:MESEMS_V1"


def _load(ref: str) -> object:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


@cache
def schema() -> Schema:
    return cast(Schema, _load(SCHEMA_REF))


def site_names() -> list[str]:
    return list(SITES)


@cache
def adapter(name: str) -> SiteAdapter:
    if name not in SITES:
        hint = difflib.get_close_matches(name.lower(), SITES, n=1)
        suggestion = f" Did you mean {hint[0]!r}?" if hint else ""
        raise UsageError(
            f"unknown site {name!r}.{suggestion} Registered: {', '.join(SITES)}",
            code="unknown-site",
        )
    loaded = _load(SITES[name])
    if not isinstance(loaded, SiteAdapter) or loaded.name != name:
        raise TypeError(f"{SITES[name]} is not the SiteAdapter for {name!r}")
    return loaded


def adapters() -> list[SiteAdapter]:
    return [adapter(name) for name in SITES]
