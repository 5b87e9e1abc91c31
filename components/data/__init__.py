"""The data layer: the estate's messaging on top of the cloud and platform layers (Pub/Sub for
asynchronous messaging)."""

from components.data.build import DataLayer, build_data
from components.data.harbor_pull import PULL_SECRET

__all__ = ["PULL_SECRET", "DataLayer", "build_data"]
