"""The model servers (ai-estate:inference): the pure decisions, every bad input the loader refuses,
and the servers, staging Jobs, scaling, access and monitoring in both plans."""

from __future__ import annotations

import re
from typing import Any

import pytest

from components.inference.gpu_pods import FUSE_CACHE, GCSFUSE, GPU
from stacks import serving
from stacks.config_inference import SERVERS_WORKLOAD, STAGING_WORKLOAD, ServerConfig
from stacks.machines import allocatable
from stacks.naming import bucket_name
from tests.conftest import config_problems, stack_cfg
from tests.upstream import crd_problems
from tools.plan import Plan

REV = "0123456789abcdef0123456789abcdef01234567"


def server(**fields: Any) -> ServerConfig:
    base: dict[str, Any] = {
        "runtime": "vllm",
        "pool": "gpu",
        "model": {"repository": "org/model", "revision": REV, "sizeGb": 3, "attentionHeads": 12},
    }
    return ServerConfig.model_validate({**base, **fields})


# ---------------------------------------------------------------- pure decisions
def test_vllm_flags_follow_the_config() -> None:
    s = server(
        gpus=2,
        gpuMemoryFraction=0.5,
        context=8192,
        concurrency=16,
        adapters={"sql": {"repository": "o/a", "revision": REV}},
    )
    args = serving.vllm_args("chat", s)
    assert args[0] == serving.MODEL_DIR
    pairs = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
    assert pairs["--tensor-parallel-size"] == "2" and pairs["--gpu-memory-utilization"] == "0.50"
    assert pairs["--max-model-len"] == "8192" and pairs["--max-num-seqs"] == "16"
    assert pairs["--served-model-name"] == "chat" and pairs["--port"] == str(serving.PORTS["vllm"])
    assert "--enable-lora" in args and f"sql={serving.ADAPTERS_DIR}/sql" in args


def test_llamacpp_gets_one_kv_pool_for_all_its_slots() -> None:
    s = server(
        runtime="llamacpp",
        concurrency=4,
        context=4096,
        model={"repository": "o/m", "revision": REV, "file": "m.gguf", "sizeGb": 2},
    )
    args = serving.llamacpp_args("rwkv", s)
    pairs = {a: args[i + 1] for i, a in enumerate(args[:-1]) if a.startswith("--")}
    assert pairs["--model"] == f"{serving.MODEL_DIR}/m.gguf" and pairs["--parallel"] == "4"
    assert pairs["--ctx-size"] == str(4 * 4096) and pairs["--api-key-file"] == serving.API_KEY_FILE
    assert "--metrics" in args and pairs["--n-gpu-layers"] == "999" and pairs["--host"] == "0.0.0.0"


def test_the_fuse_mount_reads_only_the_revision_as_the_server() -> None:
    s = server()
    prefix = serving.model_prefix(s.model)
    assert prefix == f"models/org/model/{REV}"
    cache = serving.file_cache_bytes(s)
    assert (
        cache == 3 * 2**30
        and serving.file_cache_bytes(server(model={**s.model.model_dump(by_alias=True), "sizeGb": 3.3})) == 4 * 2**30
    )
    options = serving.mount_options(prefix, 2000, 2000, cache_bytes=cache).split(",")
    assert f"only-dir={prefix}" in options and "uid=2000" in options and "gid=2000" in options
    assert "file-cache:enable-parallel-downloads:true" in options and "file-cache:max-size-mb:3072" in options
    assert "metadata-cache:ttl-secs:-1" in options
    writable = serving.mount_options(prefix, 2000, 2000).split(",")
    assert not any(o.startswith("file-cache") for o in writable)
    # The sidecar pays for the in-memory cache.
    assert serving.sidecar_memory(s) == cache + serving.CACHE_HEADROOM + serving.FUSE.overhead


def test_a_new_revision_is_a_new_staging_job() -> None:
    a, b = server().model, server(model={"repository": "org/model", "revision": "f" * 40, "sizeGb": 3}).model
    assert serving.stage_name("chat", a) != serving.stage_name("chat", b)
    long = serving.stage_name("a" * 40, a, "lora-" + "b" * 30)
    assert len(long) <= 63 and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", long)


def test_gpu_machine_shapes_allocate_less_than_they_have() -> None:
    cpus, memory = allocatable("a2-highgpu-1g") or (0, 0)
    assert 11 < cpus < 12 and 75 * 2**30 < memory < 85 * 2**30
    cpus, memory = allocatable("g2-standard-8") or (0, 0)
    assert 7 < cpus < 8 and 26 * 2**30 < memory < 32 * 2**30


def test_the_driver_table_says_which_cuda_runs() -> None:
    assert serving.driver_cuda("DEFAULT") == (535, "12.2") and serving.driver_cuda("LATEST") == (580, "13.0")
    assert serving.version("13.0") > serving.version("12.9")


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("inference", "expected"),
    [
        ({"chat": {"pool": "system"}}, "inference.chat.pool = 'system': that pool has no GPUs"),
        ({"chat": {"pool": "nope"}}, "inference.chat.pool = 'nope': not a cluster.nodePools entry"),
        ({"chat": {"gpus": 2}}, "inference.chat.gpus = 2: pool gpu's nodes carry 1 nvidia-l4 each"),
        ({"chat": {"tensorParallel": 2}}, "inference.chat.tensorParallel = 2: must equal the replica's GPUs (1)"),
        ({"chat": {"model": {"sizeGb": 30}}}, "inference.chat.model.sizeGb = 30.0: too large"),
        (
            {"rwkv": {"model": {"file": "model.safetensors"}}},
            "inference.rwkv.model.file = 'model.safetensors': llama.cpp serves one GGUF",
        ),
        (
            {"chat": {"gpuMemoryFraction": None}},
            "inference.chat.gpuMemoryFraction = None: required: pool gpu time-shares",
        ),
        ({"chat": {"gpuMemoryFraction": 0.5}}, "inference.chat.gpuMemoryFraction = 0.5: at most 0.25"),
        ({"chat": {"context": 65536}}, "inference.chat.context = 65536: above the model's longest context (32768)"),
        ({"chat": {"callers": ["nobody"]}}, "inference.chat.callers[0] = 'nobody': not a cell"),
        ({"chat": {"memory": "40Gi"}}, "inference.chat.memory = '40Gi': with the FUSE sidecar"),
        ({"chat": {"scaling": {"min": 3, "max": 2}}}, "inference.chat.scaling.min = 3: above scaling.max (2)"),
        ({"rwkv": {"tensorParallel": 1}}, "inference.rwkv.tensorParallel = 1: vLLM only"),
        ({"chat": {"sharedMemory": "10Gi"}}, "inference.chat.sharedMemory = '10Gi': /dev/shm is memory"),
    ],
)
def test_bad_servers_name_their_key(inference: dict[str, Any], expected: str) -> None:
    problems = config_problems("dev", inference=inference)
    assert any(p.startswith(expected) for p in problems), problems


def test_servers_at_their_maximum_fit_the_quota_and_the_pool() -> None:
    problems = config_problems("dev", inference={"chat": {"scaling": {"max": 8}}})
    assert any(
        p.startswith("namespaces.inference.quota.gpus = 8: the model servers may use 12 GPUs") for p in problems
    ), problems
    assert any(
        p.startswith("cluster.nodePools.gpu.maxNodes = 2: servers chat, rwkv may use 12 GPUs") and "x 4 shares" in p
        for p in problems
    ), problems


def test_tensor_parallelism_must_divide_the_heads() -> None:
    pools = {
        "gpu-eight": {
            "machineType": "a2-highgpu-8g",
            "minNodes": 0,
            "maxNodes": 1,
            "gpu": {"type": "nvidia-tesla-a100", "count": 8, "driverVersion": "LATEST"},
        }
    }
    cluster = {**_cluster("prod"), "nodePools": pools}
    problems = config_problems(
        "prod", cluster=cluster, inference={"chat": {"pool": "gpu-eight", "gpus": 8, "memory": "200Gi"}}
    )
    assert any(
        p.startswith("inference.chat.tensorParallel = 8: must divide the model's 28 attention heads") for p in problems
    ), problems


def test_an_image_whose_cuda_the_driver_cannot_run_is_refused() -> None:
    cluster = _cluster("dev")
    cluster["nodePools"] = {"gpu": {"gpu": {"type": "nvidia-l4", "driverVersion": "DEFAULT"}}}
    problems = config_problems("dev", cluster=cluster)
    assert any(
        p.startswith("cluster.nodePools.gpu.gpu.driverVersion = 'DEFAULT': GKE installs driver R535")
        and "CUDA 13.0" in p
        for p in problems
    ), problems


def test_an_image_tag_of_unknown_cuda_needs_it_said() -> None:
    images = {"vllm": {"image": "docker.io/vllm/vllm-openai", "tag": "v9.9.9"}}
    problems = config_problems("dev", registry={"images": images})
    assert any(
        p.startswith("inference.chat.cuda = None: the CUDA version of docker.io/vllm/vllm-openai:v9.9.9")
        for p in problems
    )
    assert config_problems_or_none("dev", registry={"images": images}, inference={"chat": {"cuda": "12.8"}})


def test_a_gated_model_needs_its_token_listed_for_staging() -> None:
    problems = config_problems("dev", inference={"chat": {"model": {"gated": True}}})
    assert any(
        p.startswith(f"identity.workloads.{STAGING_WORKLOAD}.secrets") and "huggingface-token" in p for p in problems
    )


def _cluster(stack: str) -> dict[str, Any]:
    import json

    from tools.plan import stack_config

    value: dict[str, Any] = json.loads(stack_config(stack)["ai-estate:cluster"])
    return value


def config_problems_or_none(stack: str, **areas: Any) -> bool:
    """True when the config loads without a problem."""
    from stacks.load import load
    from tests.conftest import config_with

    load(stack, config_with(stack, **areas))
    return True


# ---------------------------------------------------------------- the plans
def _objects(plan: Plan, typ: str, namespace: str) -> dict[str, dict[str, Any]]:
    return {
        r["inputs"]["metadata"]["name"]: r["inputs"]
        for r in plan.by_type(typ)
        if r["inputs"]["metadata"].get("namespace") == namespace
    }


def test_each_server_runs_on_its_gpu_pool_from_the_staged_weights(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.identity.workloads[SERVERS_WORKLOAD].namespace
    deployments = _objects(plan, "kubernetes:apps/v1:Deployment", ns)
    jobs = _objects(plan, "kubernetes:batch/v1:Job", ns)
    assert {s.runtime for s in cfg.inference.values()} == {"vllm", "llamacpp"}
    for name, s in cfg.inference.items():
        pod = deployments[name]["spec"]["template"]
        spec = pod["spec"]
        (c,) = spec["containers"]
        res = c["resources"]
        assert res["requests"] == res["limits"] and res["limits"][GPU] == str(s.gpus)
        assert spec["nodeSelector"] == {"estate.io/pool": s.pool}
        assert {"key": GPU, "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
        assert c["args"] == serving.runtime_args(name, s)
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["HF_HUB_OFFLINE"] == "1" and env["HOME"].startswith("/home/")
        assert c["securityContext"]["runAsNonRoot"] is True and c["securityContext"]["readOnlyRootFilesystem"] is True
        # The startup probe waits out a load; the others are short.
        startup = c["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= s.load_seconds - 10
        assert c["readinessProbe"]["failureThreshold"] <= 3 and c["livenessProbe"]["httpGet"]["path"] == "/health"
        volumes = {v["name"]: v for v in spec["volumes"]}
        weights = volumes["weights"]["csi"]
        assert weights["driver"] == GCSFUSE and weights["readOnly"] is True
        assert weights["volumeAttributes"]["bucketName"] == bucket_name(cfg.project, "models")
        assert f"only-dir={serving.model_prefix(s.model)}" in weights["volumeAttributes"]["mountOptions"]
        assert volumes[FUSE_CACHE]["emptyDir"]["medium"] == "Memory"
        assert volumes["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": s.shared_memory}
        annotations = pod["metadata"]["annotations"]
        assert annotations["gke-gcsfuse/volumes"] == "true"
        assert annotations["gke-gcsfuse/memory-limit"] == serving.gib(serving.sidecar_memory(s))
        # Its weights are staged by a Job pinned to the revision, writing through FUSE.
        job = jobs[serving.stage_name(name, s.model)]
        env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["REPOSITORY"] == s.model.repository and env["REVISION"] == s.model.revision
        assert env.get("FILE") == s.model.file
        (bucket,) = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == "bucket"]
        assert bucket["csi"]["readOnly"] is False
        assert (
            job["spec"]["template"]["spec"]["serviceAccountName"]
            == cfg.identity.workloads[STAGING_WORKLOAD].service_account
        )


def test_servers_wait_for_their_weights(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    jobs = {r["inputs"]["metadata"]["name"]: r["urn"] for r in plan.by_type("kubernetes:batch/v1:Job")}
    for name, s in cfg.inference.items():
        (deployment,) = [
            r
            for r in plan.by_type("kubernetes:apps/v1:Deployment")
            if r["urn"].endswith(f"estate-{plan.stack}-server-{name}-deployment")
        ]
        assert jobs[serving.stage_name(name, s.model)] in deployment["dependencies"]


def test_servers_scale_on_their_queue_and_admit_only_their_callers(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    ns = cfg.identity.workloads[SERVERS_WORKLOAD].namespace
    scaled = _objects(plan, "kubernetes:keda.sh/v1alpha1:ScaledObject", ns)
    policies = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", ns)
    monitors = _objects(plan, "kubernetes:monitoring.coreos.com/v1:PodMonitor", ns)
    for name, s in cfg.inference.items():
        so = scaled[name]
        assert crd_problems(so) == []
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "prometheus" and serving.QUEUE_METRIC[s.runtime] in trigger["metadata"]["query"]
        assert so["spec"]["minReplicaCount"] >= 1
        authz = policies[f"server-{name}"]
        assert crd_problems(authz) == []
        principals = authz["spec"]["rules"][0]["from"][0]["source"]["principals"]
        assert principals == [f"cluster.local/ns/{cfg.cells[c].namespace}/sa/{c}" for c in sorted(s.callers)]
        assert authz["spec"]["rules"][0]["to"][0]["operation"]["ports"] == [str(serving.PORTS[s.runtime])]
        monitor = monitors[f"server-{name}"]
        assert crd_problems(monitor) == [] and monitor["spec"]["podTargetLabels"] == [serving.SERVER_LABEL]
        endpoint = monitor["spec"]["podMetricsEndpoints"][0]
        assert ("authorization" in endpoint) == (s.runtime == "llamacpp")
        for caller in s.callers:
            out = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", cfg.cells[caller].namespace)
            assert f"cell-{caller}-to-server-{name}" in out
    # KEDA's operator reads Prometheus as a mesh identity, for its calls out only.
    (rule,) = _objects(plan, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", ns).values()
    assert crd_problems(rule) == [] and {g["name"] for g in rule["spec"]["groups"]} == {
        f"server-{n}" for n in cfg.inference
    }


def test_gpu_pools_stream_their_images_and_run_the_drivers_the_images_need(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    for r in plan.by_type("gcp:container/nodePool:NodePool"):
        pool = cfg.cluster.node_pools[r["inputs"]["name"]]
        node = r["inputs"]["nodeConfig"]
        assert bool(node.get("gcfsConfig", {}).get("enabled")) == (pool.gpu is not None)
    services = {r["inputs"]["service"] for r in plan.by_type("gcp:projects/service:Service")}
    assert "containerfilesystem.googleapis.com" in services


def _gated_config() -> dict[str, str]:
    from tests.conftest import config_with

    cfg = stack_cfg("dev")
    workloads = cfg.model_dump(by_alias=True)["identity"]["workloads"]
    staging = workloads[STAGING_WORKLOAD]
    workloads[STAGING_WORKLOAD] = {**staging, "secrets": [*staging["secrets"], "huggingface-token"]}
    return config_with("dev", inference={"chat": {"model": {"gated": True}}}, identity={"workloads": workloads})


def test_a_gated_model_stages_with_the_token_a_person_set() -> None:
    from tools.plan import run_plan

    cfg = stack_cfg("dev")
    plan = run_plan("dev", config=_gated_config())
    assert plan.error is None, plan.error
    job = _objects(plan, "kubernetes:batch/v1:Job", "inference")[
        serving.stage_name("chat", cfg.inference["chat"].model)
    ]
    (token,) = [e for e in job["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "HF_TOKEN"]
    assert token["valueFrom"]["secretKeyRef"]["name"] == "huggingface-token"
    # The namespace's sync identity may read that secret, which the program does not manage.
    grants = {
        (g["inputs"]["member"], g["inputs"]["secretId"])
        for g in plan.by_type("gcp:secretmanager/secretIamMember:SecretIamMember")
    }
    assert any(
        m.startswith("serviceAccount:dev-sync-inference@") and s == f"{cfg.prefix}-huggingface-token" for m, s in grants
    )
    assert not [
        s
        for s in plan.by_type("gcp:secretmanager/secret:Secret")
        if s["inputs"]["secretId"].endswith("huggingface-token")
    ]


def test_a_gated_model_without_its_token_stops_before_any_resource() -> None:
    from tools.plan import run_plan

    cfg = stack_cfg("dev")
    secret = f"{cfg.prefix}-huggingface-token"
    plan = run_plan("dev", config=_gated_config(), missing_secrets=frozenset({secret}))
    assert plan.error is not None and plan.error.startswith(
        f"inference.chat.model.gated = true: Secret Manager secret {secret} has no version"
    )
    assert f"gcloud secrets versions add {secret} --data-file=-" in plan.error
    assert not [r for r in plan.resources if r["type"].startswith("kubernetes:")]


def test_keda_reads_the_queues_from_prometheus_as_a_mesh_identity(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    (chart,) = [r["inputs"] for r in plan.by_type("kubernetes:helm.sh/v4:Chart") if r["name"].endswith("-keda-chart")]
    values = chart["values"]
    assert values["podLabels"]["keda"] == {"istio.io/dataplane-mode": "ambient"}
    # Out through ztunnel with its identity; in, the metrics API server still calls it from outside the mesh.
    assert values["podAnnotations"]["keda"] == {"ambient.istio.io/bypass-inbound-capture": "true"}
    ns = cfg.observability.namespace
    allow = _objects(plan, "kubernetes:security.istio.io/v1:AuthorizationPolicy", ns)["allow-keda"]
    assert allow["spec"]["rules"][0]["from"][0]["source"]["principals"] == ["cluster.local/ns/keda/sa/keda-operator"]
    assert allow["spec"]["rules"][0]["to"][0]["operation"]["ports"] == ["9090"]
    out = _objects(plan, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "keda")["allow-prometheus"]
    assert out["spec"]["podSelector"] == {"matchLabels": {"app": "keda-operator"}}
