"""The model servers' rules against the rest of the config, each problem naming its key: the pool
exists and carries GPUs enough, tensor parallelism matches them and divides the model's attention
heads, the model fits their memory, a time-shared pool gets a memory share per server, a GGUF
server names its `.gguf` file, the context fits the model, the image's CUDA runs on the pool's
driver, the replica fits a node, the callers are cells, and the workloads and images exist."""

from __future__ import annotations

from stacks import secret_keys as keys
from stacks import serving
from stacks.config_inference import IMAGES, SERVERS_WORKLOAD, STAGING_WORKLOAD, ServerConfig
from stacks.config_namespaces import quantity
from stacks.gpu import pool_zones
from stacks.machines import allocatable
from stacks.model import EstateConfig, NodePool
from stacks.problem import Problem


def check_inference(cfg: EstateConfig) -> list[Problem]:
    if not cfg.inference:
        return []
    out = _workloads(cfg)
    for name, server in sorted(cfg.inference.items()):
        at = f"inference.{name}"
        pool = cfg.cluster.node_pools.get(server.pool)
        gpu_pools = sorted(n for n, p in cfg.cluster.node_pools.items() if p.gpu is not None)
        if pool is None or pool.gpu is None:
            why = "not a cluster.nodePools entry" if pool is None else "that pool has no GPUs"
            out.append(Problem(f"{at}.pool", server.pool, f"{why}; pools with GPUs: {', '.join(gpu_pools) or 'none'}"))
        else:
            out += _gpus(at, server, pool)
            out += _driver(cfg, at, server, pool)
            out += _fits_node(at, server, pool)
        out += _model(at, server)
        for i, caller in enumerate(server.callers):
            if caller not in cfg.cells:
                out.append(Problem(f"{at}.callers[{i}]", caller, f"not a cell; cells: {', '.join(sorted(cfg.cells))}"))
        if server.scaling.min > server.scaling.max:
            out.append(Problem(f"{at}.scaling.min", server.scaling.min, f"above scaling.max ({server.scaling.max})"))
        image = IMAGES[server.runtime]
        if image not in cfg.registry.images:
            out.append(Problem(f"{at}.runtime", server.runtime, f"needs the registry.images entry {image!r}"))
    return out + _capacity(cfg)


def _capacity(cfg: EstateConfig) -> list[Problem]:
    """The servers at their maximum, each with one replica more while it rolls out, fit the
    namespace's GPU quota and each pool's GPUs (time-shared ones count each share)."""
    out = []
    wl = cfg.identity.workloads.get(SERVERS_WORKLOAD)
    spec = cfg.namespaces.get(wl.namespace) if wl else None
    need = {name: (s.scaling.max + 1) * s.gpus for name, s in cfg.inference.items()}
    if spec is not None and spec.quota.gpus < sum(need.values()):
        out.append(
            Problem(
                f"namespaces.{wl.namespace if wl else ''}.quota.gpus",
                spec.quota.gpus,
                f"the model servers may use {sum(need.values())} GPUs (scaling.max + 1 each while a rollout "
                "surges); raise it or lower their maxima",
            )
        )
    for pool_name, pool in sorted(cfg.cluster.node_pools.items()):
        if pool.gpu is None:
            continue
        on_pool = {n: g for n, g in need.items() if cfg.inference[n].pool == pool_name}
        if not on_pool:
            continue
        zones = pool_zones(pool.zones, pool.gpu.type, cfg.cluster.zones)
        shares = pool.gpu.sharing.max_shared_clients_per_gpu if pool.gpu.sharing else 1
        offered = pool.max_nodes * len(zones) * pool.gpu.count * shares
        if sum(on_pool.values()) > offered:
            out.append(
                Problem(
                    f"cluster.nodePools.{pool_name}.maxNodes",
                    pool.max_nodes,
                    f"servers {', '.join(sorted(on_pool))} may use {sum(on_pool.values())} GPUs (scaling.max + 1 "
                    f"each) and the pool offers {offered} ({len(zones)} zone(s) x {pool.max_nodes} node(s) x "
                    f"{pool.gpu.count} GPU(s){f' x {shares} shares' if shares > 1 else ''})",
                )
            )
    return out


def _workloads(cfg: EstateConfig) -> list[Problem]:
    out = []
    wl = cfg.identity.workloads
    for key, access in ((SERVERS_WORKLOAD, "reader"), (STAGING_WORKLOAD, "writer")):
        entry = wl.get(key)
        if entry is None or entry.buckets.get("models") not in (access, "writer"):
            out.append(
                Problem(
                    f"identity.workloads.{key}",
                    None if entry is None else entry.buckets,
                    f"the model servers need this workload with buckets: {{models: {access}}}",
                )
            )
    servers, staging = wl.get(SERVERS_WORKLOAD), wl.get(STAGING_WORKLOAD)
    if servers and staging and servers.namespace != staging.namespace:
        out.append(
            Problem(
                f"identity.workloads.{STAGING_WORKLOAD}.namespace",
                staging.namespace,
                f"must be the servers' ({servers.namespace}): the staging Jobs share their secrets",
            )
        )
    gated = sorted(n for n, s in cfg.inference.items() if s.model.gated)
    if gated and staging is not None and keys.HF_TOKEN not in staging.secrets:
        out.append(
            Problem(
                f"identity.workloads.{STAGING_WORKLOAD}.secrets",
                staging.secrets,
                f"add {keys.HF_TOKEN!r}: inference.{gated[0]}.model is gated, its staging Job needs the token",
            )
        )
    if "models" not in cfg.storage.buckets:
        out.append(Problem("storage.buckets.models", None, "the model servers read their weights from this bucket"))
    return out


def _gpus(at: str, server: ServerConfig, pool: NodePool) -> list[Problem]:
    assert pool.gpu is not None
    out = []
    gpu = pool.gpu
    if server.gpus > gpu.count:
        out.append(Problem(f"{at}.gpus", server.gpus, f"pool {server.pool}'s nodes carry {gpu.count} {gpu.type} each"))
    if gpu.sharing is not None:
        if server.gpus > 1:
            out.append(
                Problem(f"{at}.gpus", server.gpus, f"pool {server.pool} time-shares its GPUs: one per container")
            )
        most = round(1 / gpu.sharing.max_shared_clients_per_gpu, 2)
        if server.gpu_memory_fraction is None:
            out.append(
                Problem(
                    f"{at}.gpuMemoryFraction",
                    None,
                    f"required: pool {server.pool} time-shares each GPU between up to "
                    f"{gpu.sharing.max_shared_clients_per_gpu} containers and GPU memory is not isolated; "
                    f"at most {most}, or use a pool without sharing",
                )
            )
        elif server.gpu_memory_fraction > most:
            out.append(
                Problem(
                    f"{at}.gpuMemoryFraction",
                    server.gpu_memory_fraction,
                    f"at most {most}: up to {gpu.sharing.max_shared_clients_per_gpu} containers share each GPU",
                )
            )
    tp = server.tensor_parallel
    if tp is not None and server.runtime == "vllm" and tp != server.gpus:
        out.append(Problem(f"{at}.tensorParallel", tp, f"must equal the replica's GPUs ({server.gpus})"))
    if tp is not None and server.runtime != "vllm":
        out.append(Problem(f"{at}.tensorParallel", tp, "vLLM only; llama.cpp splits layers over the GPUs itself"))
    if tp is not None and tp > gpu.count:
        out.append(Problem(f"{at}.tensorParallel", tp, f"pool {server.pool}'s nodes carry {gpu.count} GPUs"))
    heads = server.model.attention_heads
    size = tp or server.gpus
    if server.runtime == "vllm" and size > 1:
        if heads is None:
            out.append(
                Problem(
                    f"{at}.model.attentionHeads",
                    None,
                    f"required with tensor parallelism ({size}): it must divide them",
                )
            )
        elif heads % size:
            out.append(Problem(f"{at}.tensorParallel", size, f"must divide the model's {heads} attention heads"))
    if gpu.type in serving.GPU_MEMORY_GB:
        budget = serving.weights_budget_gb(server, gpu.type)
        need = serving.weights_gb(server)
        if need > budget:
            share = serving.VLLM_WEIGHTS_SHARE if server.runtime == "vllm" else serving.LLAMACPP_WEIGHTS_SHARE
            out.append(
                Problem(
                    f"{at}.model.sizeGb",
                    server.model.size_gb,
                    f"too large: {server.gpus} x {gpu.type} ({serving.GPU_MEMORY_GB[gpu.type]} GB) x "
                    f"{serving.memory_fraction(server):.2f} of each, of which the weights may take "
                    f"{share:.0%} ({budget:.1f} GB); the rest is KV cache and activations",
                )
            )
    return out


def _driver(cfg: EstateConfig, at: str, server: ServerConfig, pool: NodePool) -> list[Problem]:
    assert pool.gpu is not None
    img = cfg.registry.images.get(IMAGES[server.runtime])
    if img is None:
        return []
    cuda = server.cuda or serving.image_cuda(img.image, img.tag)
    if cuda is None:
        return [
            Problem(
                f"{at}.cuda",
                None,
                f"the CUDA version of {img.image}:{img.tag} is not in stacks.serving.IMAGE_CUDA; set it "
                "(the image's CUDA_VERSION)",
            )
        ]
    driver = serving.driver_cuda(pool.gpu.driver_version)
    if driver is None:
        return []
    branch, newest = driver
    if serving.version(cuda) > serving.version(newest):
        return [
            Problem(
                f"cluster.nodePools.{server.pool}.gpu.driverVersion",
                pool.gpu.driver_version,
                f"GKE installs driver R{branch} for it, which runs CUDA {newest} at most; server {at} "
                f"runs CUDA {cuda} ({img.image}:{img.tag}): use a driver version whose branch runs it",
            )
        ]
    return []


def _fits_node(at: str, server: ServerConfig, pool: NodePool) -> list[Problem]:
    node = allocatable(pool.machine_type)
    if node is None:
        return []
    cores, memory = node
    pod_memory = quantity(server.memory) + serving.sidecar_memory(server)
    out = []
    if quantity(server.shared_memory) >= quantity(server.memory):
        out.append(
            Problem(
                f"{at}.sharedMemory",
                server.shared_memory,
                f"/dev/shm is memory the server's own limit pays for: below memory ({server.memory})",
            )
        )
    if quantity(server.cpu) + quantity(serving.FUSE.cpu_request) > cores:
        out.append(
            Problem(
                f"{at}.cpu",
                server.cpu,
                f"with the FUSE sidecar's {serving.FUSE.cpu_request}, above what a {pool.machine_type} node "
                f"allocates to pods ({cores:.2f} cores)",
            )
        )
    if pod_memory > memory:
        out.append(
            Problem(
                f"{at}.memory",
                server.memory,
                f"with the FUSE sidecar and its in-memory cache of the weights ({pod_memory / 2**30:.1f}Gi in all), "
                f"above what a {pool.machine_type} node allocates to pods ({memory / 2**30:.1f}Gi)",
            )
        )
    return out


def _model(at: str, server: ServerConfig) -> list[Problem]:
    out = []
    model = server.model
    if server.runtime == "llamacpp":
        if model.file is None or not model.file.endswith(".gguf"):
            out.append(Problem(f"{at}.model.file", model.file, "llama.cpp serves one GGUF file: name its .gguf file"))
        if server.adapters:
            out.append(Problem(f"{at}.adapters", sorted(server.adapters), "LoRA adapters are served by vLLM here"))
    elif model.file is not None:
        out.append(Problem(f"{at}.model.file", model.file, "vLLM serves the whole repository; leave file out"))
    if model.max_context is not None and server.context > model.max_context:
        out.append(Problem(f"{at}.context", server.context, f"above the model's longest context ({model.max_context})"))
    if server.runtime == "llamacpp" and server.context * server.concurrency > 1_048_576:
        out.append(
            Problem(
                f"{at}.concurrency",
                server.concurrency,
                f"slots x context ({server.concurrency} x {server.context}) above llama.cpp's 1,048,576 tokens",
            )
        )
    return out
