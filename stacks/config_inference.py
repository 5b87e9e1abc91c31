"""`ai-estate:inference`: the model servers, a map keyed by server name.

A server serves one base model (LoRA adapters on it allowed, with vLLM) with one runtime: vLLM's
OpenAI-compatible server, or llama.cpp's server for a GGUF file. Its weights are staged into the
`models` bucket from a Hugging Face repository at an exact commit and read back through the Cloud
Storage FUSE CSI driver. It runs on a GPU node pool, scales on its own queue, and only the cells it
lists may call it.

The rules between a server and the rest of the config (the pool and its GPUs, the model's size
against their memory, tensor parallelism, the image's CUDA against the pool's driver, the callers)
are in `stacks.rules_inference`; the tables they read are in `stacks.serving`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from stacks.base import Model, Name
from stacks.config_namespaces import Quantity

Runtime = Literal["vllm", "llamacpp"]
Repository = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$")]
Revision = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
RepoFile = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")]
Argument = Annotated[str, Field(pattern=r"^--[a-z][a-z0-9-]*(=\S+)?$|^[^-\s]\S*$")]

# The identity.workloads entries the layer runs as: the servers (read the bucket) and the staging
# Jobs (write it). Their namespace is the servers'.
SERVERS_WORKLOAD = "inference"
STAGING_WORKLOAD = "model-staging"
IMAGES = {"vllm": "vllm", "llamacpp": "llama-cpp"}  # runtime -> its registry.images entry


class HubModel(Model):
    """Weights on the Hugging Face Hub, pinned: staged once per revision into the `models` bucket."""

    repository: Repository = Field(description="`<owner>/<name>` on the Hugging Face Hub.")
    revision: Revision = Field(description="The commit to stage (40 hex digits): a new one stages again.")
    file: RepoFile | None = Field(
        None, description="One file of the repository to stage and serve: the `.gguf` file, with llama.cpp."
    )
    size_gb: float = Field(gt=0, le=2000, description="The weights' size on disk in GB (the file's, with `file`).")
    attention_heads: int | None = Field(
        None, ge=1, le=1024, description="config.json `num_attention_heads`: tensor parallelism must divide it."
    )
    max_context: int | None = Field(
        None, ge=128, le=10_485_760, description="config.json `max_position_embeddings`: the longest context."
    )
    gated: bool = Field(
        False, description="The repository needs a token: Secret Manager `<prefix>-huggingface-token`, set by a person."
    )


class Adapter(Model):
    """A LoRA adapter on the server's base model (vLLM), staged like the model."""

    repository: Repository
    revision: Revision
    size_gb: float = Field(0.5, gt=0, le=100)


class Scaling(Model):
    min: int = Field(
        1, ge=1, le=100, description="Replicas at least: a server exports its own queue, so one always runs."
    )
    max: int = Field(2, ge=1, le=100)
    waiting_per_replica: int = Field(
        4, ge=1, le=1000, description="Queued requests per replica above which KEDA adds one (GKE's first signal)."
    )


class ServerConfig(Model):
    runtime: Runtime
    model: HubModel
    adapters: dict[Name, Adapter] = Field({}, description="LoRA adapters served beside the base model (vLLM).")
    pool: Name = Field(description="The cluster.nodePools entry with GPUs the server runs on.")
    gpus: int = Field(1, ge=1, le=16, description="GPUs per replica (vLLM's tensor parallelism spans them).")
    tensor_parallel: int | None = Field(
        None, ge=1, le=16, description="vLLM --tensor-parallel-size; the replica's GPU count when absent."
    )
    gpu_memory_fraction: float | None = Field(
        None,
        ge=0.05,
        le=0.95,
        description="The share of each GPU's memory the server may take (vLLM --gpu-memory-utilization); "
        "required on a time-shared pool, where GPU memory is not isolated.",
    )
    context: int = Field(4096, ge=256, le=1_048_576, description="Tokens per sequence (llama.cpp: per slot).")
    concurrency: int = Field(
        8, ge=1, le=1024, description="Sequences at once: vLLM --max-num-seqs, llama.cpp --parallel slots."
    )
    cpu: Quantity = "4"
    memory: Quantity = Field("16Gi", description="The server container's memory (requests = limits).")
    shared_memory: Quantity = Field("2Gi", description="/dev/shm, a memory-backed volume (PyTorch, NCCL).")
    load_seconds: int = Field(
        900,
        ge=60,
        le=7200,
        description="How long loading may take before the startup probe gives up (README: cold start).",
    )
    callers: list[Name] = Field([], description="The cells that may call the server; every other caller is denied.")
    scaling: Scaling = Scaling()
    time_to_first_token_seconds: float = Field(
        5.0, gt=0, le=600, description="vLLM: the p95 time to first token above which an alert fires."
    )
    cuda: Annotated[str, Field(pattern=r"^\d+\.\d+$")] | None = Field(
        None, description="The image's CUDA version; from stacks.serving's table for the pinned tag when absent."
    )
    args: list[Argument] = Field([], description="Further runtime flags, appended as given.")


InferenceConfig = dict[Name, ServerConfig]

# Sized for L4 in dev (a quarter of a time-shared 24 GB GPU each) and A100 40GB in prod. Revisions,
# sizes and heads are the Hugging Face repositories' at those commits (README, "Inference").
_RWKV = {
    # RWKV-7 (a recurrent, attention-free architecture llama.cpp runs on CUDA), 8-bit: 1,693,646,240 bytes.
    "repository": "Mungert/rwkv7-1.5B-world-GGUF",
    "revision": "c8a25c8d349fdf76837c68bfc73c0b953f41b3ce",
    "file": "rwkv7-1.5B-world-q8_0.gguf",
    "sizeGb": 1.7,
}
_QWEN_SMALL = {
    "repository": "Qwen/Qwen2.5-1.5B-Instruct",
    "revision": "989aa7980e4cf806f80c7fef2b1adb7bc71aa306",
    "sizeGb": 3.1,
    "attentionHeads": 12,
    "maxContext": 32768,
}
_QWEN_7B = {
    "repository": "Qwen/Qwen2.5-7B-Instruct",
    "revision": "a09a35458c702b33eeacc393d103063234e8bc28",
    "sizeGb": 15.3,
    "attentionHeads": 28,
    "maxContext": 32768,
}
_CALLERS = ["ai-service"]

DEFAULTS: dict[str, dict[str, Any]] = {
    "dev": {
        "inference": {
            "rwkv": {
                "runtime": "llamacpp",
                "model": _RWKV,
                "pool": "gpu",
                "gpuMemoryFraction": 0.25,
                "context": 4096,
                "concurrency": 4,
                "cpu": "2",
                "memory": "6Gi",
                "loadSeconds": 600,
                "callers": _CALLERS,
            },
            "chat": {
                "runtime": "vllm",
                "model": _QWEN_SMALL,
                "pool": "gpu",
                "gpuMemoryFraction": 0.25,
                "context": 8192,
                "concurrency": 8,
                "cpu": "2",
                "memory": "10Gi",
                "loadSeconds": 900,
                "callers": _CALLERS,
            },
        }
    },
    "prod": {
        "inference": {
            # The L4 pool is not shared in prod: the GGUF server has its GPU to itself.
            "rwkv": {
                "runtime": "llamacpp",
                "model": _RWKV,
                "pool": "gpu",
                "context": 8192,
                "concurrency": 8,
                "cpu": "4",
                "memory": "8Gi",
                "loadSeconds": 600,
                "callers": _CALLERS,
                "scaling": {"min": 1, "max": 4},
            },
            "chat": {
                "runtime": "vllm",
                "model": _QWEN_7B,
                "pool": "gpu-large",
                "context": 16384,
                "concurrency": 32,
                "cpu": "8",
                "memory": "48Gi",
                "loadSeconds": 1200,
                "callers": _CALLERS,
                "scaling": {"min": 1, "max": 2},
            },
        }
    },
}
