"""The data layer: the estate's messaging on top of the cloud and platform layers (Pub/Sub for
asynchronous messaging)."""

from components.data.build import DataLayer, build_data

__all__ = ["DataLayer", "build_data"]
