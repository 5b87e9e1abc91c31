"""The application's cells (`ai-estate:cells`): the seeds' services as typed workloads."""

from components.cells.build import CellsLayer, build_cells

__all__ = ["CellsLayer", "build_cells"]
