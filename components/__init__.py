"""Typed ComponentResources of the estate, one module each."""
