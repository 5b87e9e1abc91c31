"""Rules that span fields or areas. Each problem names its exact camelCase key path.

What the Google APIs would refuse, and least-privilege rules, are in `stacks.service_rules`.
"""

from __future__ import annotations

import ipaddress
import re

from pydantic.alias_generators import to_snake

from stacks import gpu as gputable
from stacks import images
from stacks.base import ACCOUNT_ID_MAX
from stacks.cidr import CidrPlanError, overlaps, plan_cidrs
from stacks.config_automation import check as check_automation
from stacks.config_harbor import check as check_harbor
from stacks.config_kafka import check as check_kafka
from stacks.config_observability import check as check_observability
from stacks.config_sandbox import check as check_sandbox
from stacks.config_telemetry import check as check_telemetry
from stacks.model import EstateConfig
from stacks.naming import workload_account_id
from stacks.problem import Problem
from stacks.rules_cells import check_cells
from stacks.rules_inference import check_inference
from stacks.rules_platform import check_platform
from stacks.rules_pubsub import check_pubsub
from stacks.service_rules import check_gpu_quota, check_secrets, check_services

_BASIC_ROLES = {"roles/owner", "roles/editor", "roles/viewer"}
_IMPERSONATION_ROLES = {"roles/iam.serviceAccountUser", "roles/iam.serviceAccountTokenCreator"}


def check(cfg: EstateConfig) -> list[Problem]:
    problems: list[Problem] = []
    problems += _check_region_and_zones(cfg)
    problems += _check_pools(cfg)
    problems += check_gpu_quota(cfg)
    problems += _check_network(cfg)
    problems += _check_prod(cfg)
    problems += _check_references(cfg)
    problems += _check_images(cfg)
    problems += check_secrets(cfg)
    problems += check_services(cfg)
    problems += check_platform(cfg)
    problems += check_pubsub(cfg.pubsub, cfg.identity.workloads, cfg.namespaces)
    kafka_image = cfg.registry.images.get("strimzi-kafka")
    problems += check_kafka(
        cfg.kafka, cfg.environment, cfg.namespaces, cfg.identity.workloads, kafka_image.tag if kafka_image else None
    )
    problems += check_harbor(cfg.harbor, cfg)
    problems += check_cells(cfg)
    problems += check_sandbox(cfg)
    problems += check_inference(cfg)
    problems += check_automation(cfg.automation, cfg)
    problems += check_observability(cfg.observability, cfg.environment, cfg.namespaces, cfg.mesh.hosts)
    o = cfg.observability
    if o.enabled:
        problems += check_telemetry(
            o.logs,
            o.traces,
            o.collectors,
            environment=cfg.environment,
            namespace=o.namespace,
            buckets=cfg.storage.buckets,
            workloads=cfg.identity.workloads,
            namespaces=cfg.namespaces,
            exporters=o.exporters,
        )
    return problems


def _check_region_and_zones(cfg: EstateConfig) -> list[Problem]:
    out = []
    for i, zone in enumerate(cfg.cluster.zones):
        if not zone.startswith(cfg.region + "-") or len(zone) != len(cfg.region) + 2:
            out.append(
                Problem(
                    f"cluster.zones[{i}]", zone, f"must be a zone of gcp:region {cfg.region!r} (e.g. {cfg.region}-a)"
                )
            )
    if len(set(cfg.cluster.zones)) != len(cfg.cluster.zones):
        out.append(Problem("cluster.zones", cfg.cluster.zones, "must not repeat a zone"))
    if not cfg.cluster.regional and len(cfg.cluster.zones) != 1:
        out.append(
            Problem("cluster.zones", cfg.cluster.zones, "a zonal cluster (regional: false) takes exactly one zone")
        )
    return out


def _check_pools(cfg: EstateConfig) -> list[Problem]:
    out = []
    for name, pool in cfg.cluster.node_pools.items():
        at = f"cluster.nodePools.{name}"
        account = f"{cfg.environment}-np-{name}"
        if len(account) > ACCOUNT_ID_MAX:
            out.append(
                Problem(
                    at,
                    name,
                    f"name too long: its node service account {account!r} must be at most {ACCOUNT_ID_MAX} characters",
                )
            )
        if pool.min_nodes > pool.max_nodes:
            out.append(Problem(f"{at}.minNodes", pool.min_nodes, f"must be <= maxNodes ({pool.max_nodes})"))
        zones = gputable.pool_zones(pool.zones, pool.gpu.type if pool.gpu else None, cfg.cluster.zones)
        for i, zone in enumerate(pool.zones or []):
            if zone not in cfg.cluster.zones:
                out.append(Problem(f"{at}.zones[{i}]", zone, f"must be one of the cluster zones {cfg.cluster.zones}"))
        if pool.sandbox and pool.gpu is not None:
            out.append(Problem(f"{at}.gpu", pool.gpu.type, "a GKE Sandbox pool runs generated code, not GPU servers"))
        if pool.sandbox and re.match(r"^e2-(micro|small|medium)$", pool.machine_type):
            out.append(
                Problem(f"{at}.machineType", pool.machine_type, "GKE Sandbox does not run on shared-core e2 types")
            )
        if "nvidia.com/gpu" in pool.taints:
            out.append(
                Problem(
                    f"{at}.taints.nvidia.com/gpu",
                    pool.taints["nvidia.com/gpu"].effect,
                    "GKE adds this taint to GPU pools itself; declare only your own taints",
                )
            )
        family = gputable.machine_family(pool.machine_type)
        carried = gputable.gpus_for_family(family)
        if pool.gpu is None:
            if carried and family != "n1":
                out.append(
                    Problem(
                        f"{at}.gpu",
                        None,
                        f"machine family {family} carries {carried[0]} GPUs: set gpu.type to {carried[0]}",
                    )
                )
            continue
        if pool.gpu.type not in carried:
            out.append(
                Problem(
                    f"{at}.machineType",
                    pool.machine_type,
                    f"gpu.type {pool.gpu.type} needs a machine family in "
                    f"{gputable.families_for_gpu(pool.gpu.type)} (g2<->L4, a2<->A100, a3<->H100)",
                )
            )
        bundled = gputable.bundled_gpu_count(pool.machine_type)
        if bundled is not None and pool.gpu.count != bundled:
            out.append(Problem(f"{at}.gpu.count", pool.gpu.count, f"{pool.machine_type} comes with exactly {bundled}"))
        if cfg.region not in gputable.SUPPORTED_REGIONS:
            out.append(
                Problem(
                    "gcp:region",
                    cfg.region,
                    f"GPU pools need a region in the GPU availability table: {', '.join(gputable.SUPPORTED_REGIONS)}",
                )
            )
            continue
        offered = gputable.zones_offering(pool.gpu.type)
        if not zones:
            options = sorted(z for z in offered if z.startswith(cfg.region + "-"))
            out.append(
                Problem(
                    f"{at}.gpu.type",
                    pool.gpu.type,
                    f"offered in no zone of the cluster {cfg.cluster.zones}; in {cfg.region} it is offered in "
                    f"{options or 'no zone'} (add one to cluster.zones, or choose another GPU type)",
                )
            )
        for zone in zones:
            if zone not in offered:
                options = sorted(z for z in offered if z.startswith(cfg.region + "-"))
                out.append(
                    Problem(
                        f"{at}.gpu.type",
                        pool.gpu.type,
                        f"not offered in zone {zone}; in {cfg.region} it is offered in "
                        f"{options or 'no zone'} (set {at}.zones to those)",
                    )
                )
    return out


def _check_network(cfg: EstateConfig) -> list[Problem]:
    net = cfg.network
    pinned = {role: cidr for role, cidr in net.ranges.model_dump(by_alias=True).items() if cidr}
    out = [
        Problem(f"network.ranges.{b}", pinned[b], f"overlaps network.ranges.{a} ({pinned[a]})")
        for a, b in overlaps(pinned)
    ]
    if out:
        return out
    try:
        plan = plan_cidrs(net.supernet, net.prefixes.model_dump(by_alias=True), pinned)
    except CidrPlanError as exc:
        return [Problem(f"network.prefixes.{exc.role}", getattr(net.prefixes, to_snake(exc.role)), str(exc))]
    vpc = [ipaddress.IPv4Network(c) for c in plan.as_dict().values()]
    for name, cidr in cfg.cluster.authorized_networks.items():
        net_ = ipaddress.IPv4Network(cidr)
        if net_.prefixlen == 0:
            out.append(
                Problem(
                    f"cluster.authorizedNetworks.{name}",
                    cidr,
                    "0.0.0.0/0 is never allowed; name the networks that may reach the control plane",
                )
            )
        elif not net_.is_private:
            out.append(
                Problem(
                    f"cluster.authorizedNetworks.{name}",
                    cidr,
                    "the IP endpoint is private: authorize private ranges only (use the DNS endpoint from outside)",
                )
            )
        elif not any(net_.subnet_of(v) for v in vpc) and any(net_.overlaps(v) for v in vpc):
            out.append(Problem(f"cluster.authorizedNetworks.{name}", cidr, "partially overlaps a VPC range"))
    return out


def _check_prod(cfg: EstateConfig) -> list[Problem]:
    if cfg.environment != "prod":
        return []
    out = []
    if len(cfg.cluster.zones) < 3:
        out.append(Problem("cluster.zones", cfg.cluster.zones, "prod needs at least 3 zones"))
    if not cfg.cluster.regional:
        out.append(Problem("cluster.regional", False, "prod needs a regional control plane (true)"))
    if not cfg.cluster.deletion_protection:
        out.append(Problem("cluster.deletionProtection", False, "must be true in prod"))
    if not cfg.database.deletion_protection:
        out.append(Problem("database.deletionProtection", False, "must be true in prod"))
    if cfg.database.availability != "REGIONAL":
        out.append(
            Problem("database.availability", cfg.database.availability, "must be REGIONAL (high availability) in prod")
        )
    if cfg.cache.tier != "STANDARD_HA":
        out.append(Problem("cache.tier", cfg.cache.tier, "must be STANDARD_HA in prod"))
    if cfg.storage.force_destroy:
        out.append(Problem("storage.forceDestroy", True, "must be false in prod: destroy would delete every object"))
    return out


def _check_references(cfg: EstateConfig) -> list[Problem]:
    out = []
    buckets = cfg.storage.buckets
    if cfg.storage.access_log_bucket not in buckets:
        out.append(
            Problem(
                "storage.accessLogBucket",
                cfg.storage.access_log_bucket,
                f"must name a bucket in storage.buckets: {sorted(buckets)}",
            )
        )
    if cfg.database.migration_database not in cfg.database.databases:
        out.append(
            Problem(
                "database.migrationDatabase",
                cfg.database.migration_database,
                f"must name a database in database.databases: {sorted(cfg.database.databases)}",
            )
        )
    if cfg.database.admin_user in cfg.database.users:
        out.append(
            Problem(f"database.users.{cfg.database.admin_user}", "", "is the generated admin user; pick another name")
        )
    for name, user in cfg.database.users.items():
        if user.type == "CLOUD_IAM_SERVICE_ACCOUNT" and user.workload not in cfg.identity.workloads:
            out.append(
                Problem(
                    f"database.users.{name}.workload",
                    user.workload,
                    f"IAM users need a workload from identity.workloads: {sorted(cfg.identity.workloads)}",
                )
            )
    for name, wl in cfg.identity.workloads.items():
        account = workload_account_id(cfg.environment, name)
        if len(account) > ACCOUNT_ID_MAX:
            out.append(
                Problem(
                    f"identity.workloads.{name}",
                    name,
                    f"name too long: its service account {account!r} must be at most {ACCOUNT_ID_MAX} characters",
                )
            )
        for i, role in enumerate(wl.roles):
            if role in _BASIC_ROLES:
                out.append(
                    Problem(
                        f"identity.workloads.{name}.roles[{i}]",
                        role,
                        "basic roles are never granted; use a predefined role",
                    )
                )
            if role in _IMPERSONATION_ROLES:
                out.append(
                    Problem(
                        f"identity.workloads.{name}.roles[{i}]",
                        role,
                        "project-wide impersonation roles are never granted",
                    )
                )
        for bucket in wl.buckets:
            if bucket not in buckets:
                out.append(
                    Problem(
                        f"identity.workloads.{name}.buckets.{bucket}",
                        wl.buckets[bucket],
                        f"must name a bucket in storage.buckets: {sorted(buckets)}",
                    )
                )
    if "db-migrate" not in cfg.identity.workloads:
        out.append(Problem("identity.workloads.db-migrate", None, "is required: the pgvector migration Job runs as it"))
    for key in ("cloud-sql-proxy", "postgres-client"):
        if key not in cfg.registry.images:
            out.append(Problem(f"registry.images.{key}", None, "is required by the pgvector migration Job"))
    return out


def _check_images(cfg: EstateConfig) -> list[Problem]:
    out = []
    for name, img in cfg.registry.images.items():
        try:
            images.resolve(img.image, img.tag, cfg.region, cfg.project)
        except ValueError as exc:
            out.append(Problem(f"registry.images.{name}.image", img.image, str(exc)))
    return out


__all__ = ["Problem", "check"]
