"""The shared MESEMS schema. Installed as ``federate.schemas``."""

from .mesems_v1 import MESEMS_V1, VISIT_WEEKS

__all__ = ["MESEMS_V1", "VISIT_WEEKS"]
