"""Typed Helm values: one small model per chart, holding exactly what the estate sets.

Helm ignores a values key a chart does not read, so every key lives in a pydantic model
(`extra="forbid"`) and tests check the dumped keys against the chart's upstream defaults.
"""
