"""The layers' boundaries: every Kubernetes layer builds with the shared package, and no layer
imports another layer's internals (only the layer object its package exports)."""

from __future__ import annotations

import ast
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parent.parent / "components"
SHARED = {"kube", "common"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append(node.module)
        elif isinstance(node, ast.Import):
            out += [alias.name for alias in node.names]
    return out


def test_no_layer_imports_another_layers_internals() -> None:
    layers = [p.name for p in COMPONENTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    assert {"cloud", "platform", "kube"} <= set(layers)
    bad = []
    for layer in layers:
        for path in (COMPONENTS / layer).rglob("*.py"):
            for module in _imports(path):
                parts = module.split(".")
                if parts[0] != "components" or len(parts) < 2 or parts[1] in SHARED | {layer}:
                    continue
                if len(parts) > 2:  # `components.cloud` (the layer's exports) is fine, its modules are not
                    bad.append(f"{path.relative_to(COMPONENTS)}: {module}")
    assert bad == []


def test_the_shared_package_depends_on_no_layer() -> None:
    for path in (COMPONENTS / "kube").rglob("*.py"):
        layers = {m.split(".")[1] for m in _imports(path) if m.startswith("components.") and m.count(".") >= 1}
        assert layers <= SHARED, path.name
