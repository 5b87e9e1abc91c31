"""AI inference and the sandbox for generated code (`ai-estate:inference`, `ai-estate:sandbox`)."""

from components.inference.build import InferenceLayer, build_inference

__all__ = ["InferenceLayer", "build_inference"]
