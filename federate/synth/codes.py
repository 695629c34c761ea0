"""The shared schema's code lists, typed for the simulator. The schema package is loaded by
name, as the registry loads it (it installs inside ``federate`` and is never imported
statically), so the simulator draws from the very lists ingest checks against."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Protocol, cast

from federate.adapters import registry


class Analyte(Protocol):
    @property
    def unit(self) -> str: ...
    @property
    def factors(self) -> Mapping[str, float]: ...


class MsfcReference(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def t25fw_mean(self) -> float: ...
    @property
    def t25fw_sd(self) -> float: ...
    @property
    def nhpt_inverse_mean(self) -> float: ...
    @property
    def nhpt_inverse_sd(self) -> float: ...
    @property
    def pasat_mean(self) -> float: ...
    @property
    def pasat_sd(self) -> float: ...


_lists = importlib.import_module(registry.SCHEMA_REF.partition(":")[0] + ".codelists")

VISIT_WINDOWS = cast(Mapping[str, tuple[int, int]], _lists.VISIT_WINDOWS)
EDSS_SCORES = cast(tuple[float, ...], _lists.EDSS_SCORES)
MEDDRA_SOC = cast(Mapping[str, str], _lists.MEDDRA_SOC)
ATC_CROSSWALK = cast(Mapping[str, str], _lists.ATC_CROSSWALK)
LAB_ANALYTES = cast(Mapping[str, Analyte], _lists.LAB_ANALYTES)
MSFC_TASK_FORCE = cast(MsfcReference, _lists.MSFC_TASK_FORCE)
