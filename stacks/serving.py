"""Pure decisions for the model servers, tested without mocks: what each GPU offers, which CUDA the
pinned serving images carry and which the pools' drivers run, how much of a GPU a model may take,
the runtimes' command lines, the weights' place in the bucket and the FUSE mount that reads them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from stacks.config_inference import Adapter, HubModel, ServerConfig
from stacks.gpu import A100_40GB, A100_80GB, H100_80GB, L4, T4

GIB: Final = 2**30

# Memory of one GPU, GB (Compute Engine's GPU pages).
GPU_MEMORY_GB: Final[dict[str, int]] = {L4: 24, T4: 16, A100_40GB: 40, A100_80GB: 80, H100_80GB: 80}

# The weights may take this share of what a server may use; the rest holds the KV cache and the
# activations (vLLM allocates its KV cache from what the weights leave of --gpu-memory-utilization).
VLLM_WEIGHTS_SHARE: Final = 0.8
# llama.cpp offloads the whole GGUF file plus a small KV/recurrent state and compute buffers.
LLAMACPP_WEIGHTS_SHARE: Final = 0.9
VLLM_DEFAULT_FRACTION: Final = 0.9  # vLLM's own default for --gpu-memory-utilization

PORTS: Final = {"vllm": 8000, "llamacpp": 8080}
PORT_NAME: Final = "http"
MODEL_DIR: Final = "/models"
ADAPTERS_DIR: Final = "/adapters"
API_KEY_DIR: Final = "/var/run/secrets/inference"
API_KEY_FILE: Final = f"{API_KEY_DIR}/api-key"
# Queue metrics each runtime exports, that KEDA scales on and the dashboards show.
QUEUE_METRIC: Final = {"vllm": "vllm:num_requests_waiting", "llamacpp": "llamacpp:requests_deferred"}
SERVER_LABEL: Final = "estate.io/server"  # on every pod of a server; Prometheus keeps it as estate_io_server
SERVER_SERIES_LABEL: Final = "estate_io_server"


# ---------------------------------------------------------------- CUDA and drivers
# The CUDA version each pinned serving image is built with (its Dockerfile's CUDA_VERSION at the
# tag): vLLM's default images moved to CUDA 13 (`-cu129` tags keep 12.9); llama.cpp's `server-cuda`
# images are CUDA 12.8 (`server-cuda13` ones 13.x). A tag outside the table needs `cuda` set.
IMAGE_CUDA: Final[dict[tuple[str, str], str]] = {
    ("docker.io/vllm/vllm-openai", "v0.31.0"): "13.0",
    ("docker.io/vllm/vllm-openai", "v0.30.0-cu129"): "12.9",
    ("ghcr.io/ggml-org/llama.cpp", "server-cuda-b11347"): "12.8",
}

# The NVIDIA driver branch GKE installs for `gpuDriverVersion` on the release channels' current
# versions: DEFAULT stays on the R535 long-term branch, LATEST installs R580 (CUDA 13 needs 580.65
# or later). GKE moves these with its versions: check `nvidia-smi` on a node after an upgrade.
# The newest CUDA each branch runs is NVIDIA's table ("CUDA Toolkit and corresponding driver
# versions"); the images' forward-compatibility libraries are not relied on.
GKE_DRIVER_BRANCH: Final[dict[str, int]] = {"DEFAULT": 535, "LATEST": 580}
BRANCH_CUDA: Final[dict[int, str]] = {535: "12.2", 550: "12.4", 560: "12.6", 570: "12.8", 575: "12.9", 580: "13.0"}


def version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


def image_cuda(image: str, tag: str) -> str | None:
    return IMAGE_CUDA.get((image, tag))


def driver_cuda(driver_version: str) -> tuple[int, str] | None:
    """(driver branch, newest CUDA it runs) for a pool's `gpuDriverVersion`."""
    branch = GKE_DRIVER_BRANCH.get(driver_version)
    return (branch, BRANCH_CUDA[branch]) if branch is not None else None


# ---------------------------------------------------------------- GPU memory
def memory_fraction(server: ServerConfig) -> float:
    """The share of each GPU the server may take: its own, else all of it (vLLM's default share)."""
    if server.gpu_memory_fraction is not None:
        return server.gpu_memory_fraction
    return VLLM_DEFAULT_FRACTION if server.runtime == "vllm" else 1.0


def weights_budget_gb(server: ServerConfig, gpu_type: str) -> float:
    """GB the weights may take on the replica's GPUs."""
    share = VLLM_WEIGHTS_SHARE if server.runtime == "vllm" else LLAMACPP_WEIGHTS_SHARE
    return server.gpus * GPU_MEMORY_GB[gpu_type] * memory_fraction(server) * share


def weights_gb(server: ServerConfig) -> float:
    return server.model.size_gb + sum(a.size_gb for a in server.adapters.values())


# ---------------------------------------------------------------- the bucket
def model_prefix(model: HubModel | Adapter, kind: str = "models") -> str:
    """Where a revision lives in the `models` bucket: `models/<owner>/<name>/<revision>`."""
    return f"{kind}/{model.repository}/{model.revision}"


def stage_name(server: str, model: HubModel | Adapter, kind: str = "model") -> str:
    """The staging Job's name: a new revision is a new Job (a Job's template cannot change)."""
    return f"stage-{server}-{kind}-{model.revision[:10]}"[:63].rstrip("-")


def file_cache_bytes(server: ServerConfig) -> int:
    """The FUSE file cache holds the weights once (parallel downloads need it), rounded up to a GiB."""
    return math.ceil(weights_gb(server) * 1e9 / GIB) * GIB


def gib(n: int) -> str:
    return f"{math.ceil(n / GIB)}Gi"


@dataclass(frozen=True)
class FuseSidecar:
    """The GCS FUSE sidecar's resources (its pod annotations). A memory-backed cache is charged to
    the sidecar, which writes it: its memory limit covers the cache plus its own working set."""

    cpu_request: str = "500m"
    cpu_limit: str = "2"  # parallel downloads while the weights load, idle afterwards
    overhead: int = GIB
    ephemeral_storage: str = "1Gi"  # its temp directory only: the cache is in memory


FUSE = FuseSidecar()
CACHE_HEADROOM: Final = GIB  # the cache volume's size above gcsfuse's own cache limit


def sidecar_memory(server: ServerConfig) -> int:
    return file_cache_bytes(server) + CACHE_HEADROOM + FUSE.overhead


# Google's serving sample for GCS FUSE (gcsfuse samples/gke-csi-yaml/gpu): metadata cached for good
# (a revision's files never change), the file cache fed by parallel downloads and used for the
# random reads safetensors and GGUF loaders make.
SERVING_OPTIONS: Final = (
    "implicit-dirs",
    "metadata-cache:negative-ttl-secs:0",
    "metadata-cache:ttl-secs:-1",
    "metadata-cache:stat-cache-max-size-mb:-1",
    "file-cache:cache-file-for-range-read:true",
    "file-cache:enable-parallel-downloads:true",
    "read_ahead_kb=1024",
)


def mount_options(prefix: str, uid: int, gid: int, *, cache_bytes: int | None = None) -> str:
    """The CSI volume's mountOptions: only `prefix`, as the pod's user; read-tuned when a cache is given."""
    opts = [f"only-dir={prefix}", f"uid={uid}", f"gid={gid}", "file-mode=440", "dir-mode=550"]
    if cache_bytes is None:
        return ",".join([f"only-dir={prefix}", "implicit-dirs", f"uid={uid}", f"gid={gid}"])
    opts += [*SERVING_OPTIONS, f"file-cache:max-size-mb:{cache_bytes // 2**20}"]
    return ",".join(opts)


# ---------------------------------------------------------------- command lines
def vllm_args(name: str, server: ServerConfig) -> list[str]:
    out = [
        MODEL_DIR,
        "--served-model-name",
        name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORTS["vllm"]),
        "--tensor-parallel-size",
        str(server.tensor_parallel or server.gpus),
        "--gpu-memory-utilization",
        f"{memory_fraction(server):.2f}",
        "--max-model-len",
        str(server.context),
        "--max-num-seqs",
        str(server.concurrency),
    ]
    if server.adapters:
        out += ["--enable-lora", "--max-loras", str(len(server.adapters)), "--lora-modules"]
        out += [f"{a}={ADAPTERS_DIR}/{a}" for a in sorted(server.adapters)]
    return out + list(server.args)


def llamacpp_args(name: str, server: ServerConfig) -> list[str]:
    model_file = server.model.file or ""
    out = [
        "--model",
        f"{MODEL_DIR}/{model_file}",
        "--alias",
        name,
        "--host",
        "0.0.0.0",
        "--port",
        str(PORTS["llamacpp"]),
        "--n-gpu-layers",
        "999",  # every layer on the GPU
        "--parallel",
        str(server.concurrency),
        # One KV pool serves every slot: the context is the slots' total.
        "--ctx-size",
        str(server.concurrency * server.context),
        "--metrics",
        "--api-key-file",
        API_KEY_FILE,
        "--no-webui",
    ]
    return out + list(server.args)


def runtime_args(name: str, server: ServerConfig) -> list[str]:
    return vllm_args(name, server) if server.runtime == "vllm" else llamacpp_args(name, server)


def queue_query(name: str, server: ServerConfig, namespace: str) -> str:
    """The server's queue over its replicas, as KEDA asks Prometheus."""
    metric = QUEUE_METRIC[server.runtime]
    return f'sum({metric}{{namespace="{namespace}",{SERVER_SERIES_LABEL}="{name}"}})'
