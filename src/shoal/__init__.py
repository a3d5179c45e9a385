"""shoal: open, exact and fast vulnerability assessment for container registries."""

__version__ = "0.1.0"
