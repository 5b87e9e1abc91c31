"""The inference layer's builder: today the sandbox for generated code (`ai-estate:sandbox`); the
model servers (`ai-estate:inference`) come with the rest of issue 16. Like the others, it reads the
layers below only through their exported objects."""

from __future__ import annotations

from dataclasses import dataclass

from components.cells import CellsLayer
from components.cloud import CloudLayer
from components.inference.sandbox import Sandbox, SandboxArgs
from components.platform import PlatformLayer
from stacks.model import EstateConfig


@dataclass(frozen=True)
class InferenceLayer:
    sandbox: Sandbox | None


def build_inference(cfg: EstateConfig, cloud: CloudLayer, platform: PlatformLayer, cells: CellsLayer) -> InferenceLayer:
    s = cfg.sandbox
    if not s.enabled:
        return InferenceLayer(sandbox=None)
    orchestrator = cfg.cells[s.orchestrator]
    sandbox = Sandbox(
        f"{cfg.prefix}-sandbox",
        SandboxArgs(
            config=s,
            # Each cell runs as its own service account, named after it.
            orchestrator=(orchestrator.namespace, s.orchestrator),
            provider=cloud.kube.provider,
            depends_on=[cloud.pools, platform.guardrails],
        ),
    )
    return InferenceLayer(sandbox=sandbox)
