"""federate: pool a multicentre trial's national exports into one validated schema."""

__version__ = "0.1.0"
