"""AI inference and the sandbox for generated code (`ai-estate:inference`, `ai-estate:sandbox`)."""

from components.inference.build import InferenceLayer, build_inference, check_token

__all__ = ["InferenceLayer", "build_inference", "check_token"]
