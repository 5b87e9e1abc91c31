"""The offline plan of a git ref against the working tree's: what a merge would change.

    python -m tools.diff --stack dev --base origin/main [--markdown] [--out build/diff-dev.md]
    python -m tools.diff --base-plan old.json --head-plan new.json     # two plan files

The base plan is built in a temporary `git worktree` of BASE with this interpreter. Resources
are matched by URN: added, removed, changed (property by property; secrets are already masked
as "[secret]" in the plan). Changes to inputs the resource's `ignoreChanges` names are left out,
as the engine leaves them out. A change is a replacement where the program declares it
(`replaceOnChanges`), where the resource's provider changes, and where the provider itself
replaces on a changed input: REPLACE_ON and its neighbours below hold those fields for every
provider type the estate registers, taken from the providers' sources. A changed type the tables
do not know is an "update (replacement unknown: <type> not in the table)", never a plain update.
LOUD warnings: a stateful or protected resource removed or replaced, a stateful resource changed
in place or with its replacement unknown, and any change of `protect`. Bad input (an unknown
stack, a stack file that does not parse, a BASE that is not a commit here) stops with one line
on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stacks.stackfile import StackFileError, read
from tools.plan import SECRET_SIG, SECRET_VALUE
from tools.planfile import ROOT, PlanBuildError, PlanFile, build_plan, plan_path, short_type

# Types whose deletion or replacement loses data or identity that cannot be recreated.
STATEFUL_TYPES = {
    "gcp:storage/bucket:Bucket",
    "gcp:sql/databaseInstance:DatabaseInstance",
    "gcp:sql/database:Database",
    "gcp:redis/instance:Instance",
    "gcp:kms/keyRing:KeyRing",
    "gcp:kms/cryptoKey:CryptoKey",
    "gcp:container/cluster:Cluster",
    "gcp:artifactregistry/repository:Repository",
    "gcp:secretmanager/secret:Secret",
    "gcp:secretmanager/secretVersion:SecretVersion",
    "gcp:compute/disk:Disk",
    "gcp:compute/regionDisk:RegionDisk",
    "gcp:compute/address:Address",
    "gcp:compute/globalAddress:GlobalAddress",
    "gcp:filestore/instance:Instance",
    # Retained and unacknowledged messages go with them.
    "gcp:pubsub/topic:Topic",
    "gcp:pubsub/subscription:Subscription",
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool",
    "random:index/randomPassword:RandomPassword",
    # A new token key invalidates every registry token; a new project is an empty one.
    "tls:index/privateKey:PrivateKey",
    "harbor:index/project:Project",
    "kubernetes:core/v1:PersistentVolumeClaim",
    "kubernetes:core/v1:PersistentVolume",
    "kubernetes:apps/v1:StatefulSet",
}

# ---------------------------------------------------------------- what the providers replace on
# Input paths (camelCase as the plan records them, list indices dropped) whose change makes the
# provider delete the resource and create it anew; a path covers everything below it.
#
# GCP. pulumi-gcp bridges terraform-provider-google-beta: each path is a `ForceNew: true` field of
# the resource's schema in google-beta v7.45.0 (google-beta/services/<service>/resource_<name>.go,
# and services/container/node_config.go for nodeConfig), the upstream that pulumi-gcp v9.35.0 pins,
# named as the installed pulumi_gcp names it (a test resolves every path through the SDK's input
# types). The IAM member types have no Update at all (google-beta/tpgiamresource/
# resource_iam_member.go: Create, Read, Delete), so any input change replaces them ("*"). Not
# ForceNew, so changed in place: e.g. Cloud SQL `databaseVersion` (major version upgrades run in
# place), a bucket's `storageClass`, a node pool's `nodeConfig.machineType` and `diskSizeGb`.
# The node configuration a cluster's default pool and a node pool share (node_config.go): ForceNew in both.
NODE_CONFIG_REPLACES = (
    "nodeConfig.advancedMachineFeatures.enableNestedVirtualization "
    "nodeConfig.advancedMachineFeatures.threadsPerCore nodeConfig.bootDiskKmsKey "
    "nodeConfig.confidentialNodes.confidentialInstanceType nodeConfig.enableConfidentialStorage "
    "nodeConfig.ephemeralStorageConfig nodeConfig.ephemeralStorageLocalSsdConfig nodeConfig.flexStart "
    "nodeConfig.guestAccelerators nodeConfig.hostMaintenancePolicy nodeConfig.localNvmeSsdBlockConfig "
    "nodeConfig.localSsdCount nodeConfig.localSsdEncryptionMode nodeConfig.maxRunDuration "
    "nodeConfig.metadata nodeConfig.minCpuPlatform nodeConfig.nodeGroup nodeConfig.oauthScopes "
    "nodeConfig.preemptible nodeConfig.reservationAffinity nodeConfig.secondaryBootDisks "
    "nodeConfig.serviceAccount nodeConfig.shieldedInstanceConfig "
    "nodeConfig.soleTenantConfig.nodeAffinities nodeConfig.spot"
)

REPLACE_ON: dict[str, tuple[str, ...]] = {
    type_: tuple(paths.split())
    for type_, paths in {
        "gcp:artifactregistry/repository:Repository": (
            "format kmsKeyName location mavenConfig.allowSnapshotOverwrites mavenConfig.versionPolicy mode "
            "project remoteRepositoryConfig.aptRepository remoteRepositoryConfig.commonRepository "
            "remoteRepositoryConfig.description remoteRepositoryConfig.dockerRepository "
            "remoteRepositoryConfig.mavenRepository remoteRepositoryConfig.noCache "
            "remoteRepositoryConfig.npmRepository remoteRepositoryConfig.pythonRepository "
            "remoteRepositoryConfig.yumRepository repositoryId"
        ),
        "gcp:binaryauthorization/attestor:Attestor": "attestationAuthorityNote.noteReference name project",
        "gcp:binaryauthorization/policy:Policy": "project",
        "gcp:cloudquota/sQuotaPreference:SQuotaPreference": "parent",
        "gcp:compute/address:Address": (
            "address addressType description ipCollection ipVersion ipv6EndpointType name network networkTier "
            "prefixLength project purpose region subnetwork"
        ),
        "gcp:compute/firewall:Firewall": "direction name project",
        "gcp:compute/globalAddress:GlobalAddress": (
            "address addressType description ipVersion name network prefixLength project purpose"
        ),
        "gcp:compute/network:Network": (
            "autoCreateSubnetworks description internalIpv6Range name networkProfile params project"
        ),
        "gcp:compute/router:Router": "encryptedInterconnectRouter name nccGateway network project region",
        "gcp:compute/routerNat:RouterNat": "endpointTypes initialNatIps name project region router type",
        "gcp:compute/subnetwork:Subnetwork": (
            "description externalIpv6Prefix internalIpv6Prefix name network params project region "
            "reservedInternalRange resolveSubnetMask"
        ),
        "gcp:container/cluster:Cluster": (
            "clusterAutoscaling.autoProvisioningDefaults.bootDiskKmsKey clusterIpv4Cidr confidentialNodes "
            "datapathProvider dataplaneOptimizationMode defaultMaxPodsPerNode description enableAutopilot "
            "enableKubernetesAlpha enableTpu initialNodeCount ipAllocationPolicy.clusterIpv4CidrBlock "
            "ipAllocationPolicy.clusterSecondaryRangeName ipAllocationPolicy.servicesIpv4CidrBlock "
            "ipAllocationPolicy.servicesSecondaryRangeName location masterAuth.clientCertificateConfig name "
            "network networkingMode nodePools privateClusterConfig.masterIpv4CidrBlock "
            "privateClusterConfig.privateEndpointSubnetwork project subnetwork tpuConfig.enabled "
            "tpuConfig.useServiceNetworking userManagedKeysConfig.aggregationCa userManagedKeysConfig.clusterCa "
            "userManagedKeysConfig.etcdApiCa userManagedKeysConfig.etcdPeerCa " + NODE_CONFIG_REPLACES
        ),
        "gcp:container/nodePool:NodePool": (
            "cluster initialNodeCount location maxPodsPerNode name namePrefix "
            "networkConfig.acceleratorNetworkProfile networkConfig.additionalNodeNetworkConfigs "
            "networkConfig.additionalPodNetworkConfigs networkConfig.createPodRange "
            "networkConfig.podIpv4CidrBlock networkConfig.podRange networkConfig.subnetwork "
            "placementPolicy.policyName project queuedProvisioning " + NODE_CONFIG_REPLACES
        ),
        "gcp:containeranalysis/note:Note": "name project",
        "gcp:dns/managedZone:ManagedZone": "dnsName name project reverseLookup visibility",
        "gcp:dns/recordSet:RecordSet": "managedZone name project routingPolicy.healthCheck",
        "gcp:gkebackup/backupPlan:BackupPlan": "cluster location name project",
        "gcp:kms/cryptoKey:CryptoKey": (
            "cryptoKeyBackend destroyScheduledDuration importOnly keyRing name purpose versionTemplate.protectionLevel"
        ),
        "gcp:kms/keyRing:KeyRing": "location name project",
        "gcp:projects/iAMCustomRole:IAMCustomRole": "project roleId",
        "gcp:projects/service:Service": "project service",
        "gcp:projects/serviceIdentity:ServiceIdentity": "project service",
        "gcp:pubsub/schema:Schema": "name project",
        "gcp:pubsub/subscription:Subscription": "enableMessageOrdering filter name project tags topic",
        "gcp:pubsub/topic:Topic": "name project tags",
        "gcp:redis/instance:Instance": (
            "alternativeLocationId authorizedNetwork connectMode customerManagedKey locationId name project "
            "region reservedIpRange tier transitEncryptionMode"
        ),
        "gcp:secretmanager/secret:Secret": (
            "project replication.auto replication.userManaged.replicas.location secretId tags"
        ),
        "gcp:secretmanager/secretVersion:SecretVersion": (
            "isSecretDataBase64 project secret secretData secretDataWoVersion"
        ),
        "gcp:serviceaccount/account:Account": "accountId project",
        "gcp:servicenetworking/connection:Connection": "network service",
        "gcp:sql/database:Database": "instance name project",
        "gcp:sql/databaseInstance:DatabaseInstance": (
            "encryptionKeyName masterInstanceName replicaConfiguration.cascadableReplica name project region "
            "replicaConfiguration.caCertificate replicaConfiguration.clientCertificate "
            "replicaConfiguration.clientKey replicaConfiguration.connectRetryInterval "
            "replicaConfiguration.dumpFilePath replicaConfiguration.failoverTarget "
            "replicaConfiguration.masterHeartbeatPeriod replicaConfiguration.password "
            "replicaConfiguration.sslCipher replicaConfiguration.username "
            "replicaConfiguration.verifyServerCertificate settings.collation"
        ),
        "gcp:sql/user:User": "host instance name project type",
        "gcp:storage/bucket:Bucket": (
            "customPlacementConfig.dataLocations enableObjectRetention hierarchicalNamespace location name project"
        ),
    }.items()
}
# Blocks marked ForceNew whose own fields mostly change in place: adding or removing the block
# replaces the resource (the SDK applies a list's ForceNew to its count); a change inside it
# replaces only where REPLACE_ON names the field.
REPLACE_ON_PRESENCE: dict[str, tuple[str, ...]] = {
    type_: tuple(paths.split())
    for type_, paths in {
        "gcp:artifactregistry/repository:Repository": "remoteRepositoryConfig",
        "gcp:compute/firewall:Firewall": "params",
        "gcp:compute/router:Router": "params",
        "gcp:container/cluster:Cluster": (
            "ipAllocationPolicy ipAllocationPolicy.podCidrOverprovisionConfig nodeConfig "
            "nodeConfig.advancedMachineFeatures nodeConfig.sandboxConfig nodeConfig.soleTenantConfig"
        ),
        "gcp:container/nodePool:NodePool": (
            "networkConfig.podCidrOverprovisionConfig nodeConfig nodeConfig.advancedMachineFeatures "
            "nodeConfig.sandboxConfig nodeConfig.soleTenantConfig placementPolicy"
        ),
        "gcp:dns/managedZone:ManagedZone": "serviceDirectoryConfig",
        "gcp:secretmanager/secret:Secret": "replication replication.userManaged replication.userManaged.replicas",
    }.items()
}
EVERY_INPUT = ("*",)
REPLACE_ON.update(
    {
        # Terraform IAM members: no Update (see above).
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": EVERY_INPUT,
        "gcp:containeranalysis/noteIamMember:NoteIamMember": EVERY_INPUT,
        "gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember": EVERY_INPUT,
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": EVERY_INPUT,
        "gcp:projects/iAMMember:IAMMember": EVERY_INPUT,
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": EVERY_INPUT,
        "gcp:pubsub/topicIAMMember:TopicIAMMember": EVERY_INPUT,
        "gcp:secretmanager/secretIamMember:SecretIamMember": EVERY_INPUT,
        "gcp:serviceaccount/iAMMember:IAMMember": EVERY_INPUT,
        "gcp:storage/bucketIAMMember:BucketIAMMember": EVERY_INPUT,
        # terraform-provider-random (internal/provider/resource_id.go, resource_password.go): every
        # argument RequiresReplace. A new RandomId renames the key ring and the SQL instance with it.
        "random:index/randomId:RandomId": EVERY_INPUT,
        "random:index/randomPassword:RandomPassword": EVERY_INPUT,
        # pulumiverse-time bridges terraform-provider-time: time_sleep's `triggers` RequiresReplace, its
        # durations update in place (internal/provider/resource_time_sleep.go).
        "time:index/sleep:Sleep": ("triggers",),
        # pulumi-tls bridges terraform-provider-tls (internal/provider/resource_private_key.go,
        # resource_self_signed_cert.go): every argument the estate sets RequiresReplace.
        "tls:index/privateKey:PrivateKey": ("algorithm", "rsaBits", "ecdsaCurve"),
        "tls:index/selfSignedCert:SelfSignedCert": (
            "privateKeyPem",
            "subject",
            "validityPeriodHours",
            "allowedUses",
            "dnsNames",
            "ipAddresses",
            "uris",
            "isCaCertificate",
        ),
        # pulumiverse-harbor bridges goharbor/terraform-provider-harbor (provider/resource_*.go, the
        # `ForceNew: true` fields): a renamed project or robot is a new one.
        "harbor:index/project:Project": ("name", "registryId"),
        "harbor:index/robotAccount:RobotAccount": ("name", "level"),
        "harbor:index/immutableTagRule:ImmutableTagRule": ("projectId",),
        "harbor:index/retentionPolicy:RetentionPolicy": ("scope",),
        "harbor:index/projectWebhook:ProjectWebhook": ("name",),
    }
)


def _shrinks(old: Any, new: Any, _inputs: dict[str, Any]) -> bool | None:
    """ForceNewIfChange("ip_cidr_range", IsShrinkageIpCidr): replaced unless the new range holds the old."""
    try:
        before, after = ipaddress.ip_network(old), ipaddress.ip_network(new)
    except (TypeError, ValueError):
        return None
    return not (before.network_address in after and before.broadcast_address in after)


def _redis_downgrade(old: Any, new: Any, _inputs: dict[str, Any]) -> bool | None:
    """ForceNewIfChange("redis_version", isRedisVersionDecreasing)."""
    versions = [re.fullmatch(r"REDIS_(\d+)_(\d+)", str(v)) for v in (old, new)]
    if old is None or new is None:
        return False
    if not all(versions):
        return None
    (a, b) = ((int(m[1]), int(m[2])) for m in versions if m)
    return b < a


def _turned_off(old: Any, new: Any, _inputs: dict[str, Any]) -> bool | None:
    """True that becomes false or unset (isPolicyLocked, isBeenEnabled, autoUpgradeEnabledCustomizeDiff)."""
    return old is True and new is not True


def _unset(old: Any, new: Any, _inputs: dict[str, Any]) -> bool | None:
    """privateNetworkCustomizeDiff: replaced when the private network goes from set to unset."""
    return old not in (None, "") and new in (None, "")


def _disk_shrinks(old: Any, new: Any, inputs: dict[str, Any]) -> bool | None:
    """diskSizeCutomizeDiff: a smaller disk with autoresize off replaces; with it on the diff is dropped."""
    if not isinstance(old, int) or not isinstance(new, int):
        return False
    return new < old and _get(inputs, "settings.diskAutoresize") is False


def _api_removed(old: Any, new: Any, _inputs: dict[str, Any]) -> bool | None:
    """enable_k8s_beta_apis: an API once enabled cannot be disabled in place."""
    if not isinstance(old, list):
        return False
    return any(api not in (new or []) for api in old)


def _with_autopilot(old: Any, new: Any, inputs: dict[str, Any]) -> bool | None:
    """containerClusterAutopilotCustomizeDiff: the additive VPC scope domain of an Autopilot cluster."""
    return _get(inputs, "enableAutopilot") is True


Condition = Callable[[Any, Any, dict[str, Any]], "bool | None"]
# Fields the provider replaces on only in some changes (its CustomizeDiff functions, same files):
# (condition on the old and new value and the new inputs, the condition in words).
REPLACE_IF: dict[str, dict[str, tuple[Condition, str]]] = {
    "gcp:compute/subnetwork:Subnetwork": {"ipCidrRange": (_shrinks, "when the new range does not hold the old one")},
    "gcp:redis/instance:Instance": {"redisVersion": (_redis_downgrade, "when the version goes down")},
    "gcp:storage/bucket:Bucket": {"retentionPolicy.isLocked": (_turned_off, "when a locked policy is unlocked")},
    "gcp:sql/databaseInstance:DatabaseInstance": {
        "settings.diskSize": (_disk_shrinks, "when the disk shrinks with settings.diskAutoresize false"),
        "settings.ipConfiguration.privateNetwork": (_unset, "when the private network is removed"),
        "settings.autoUpgradeEnabled": (_turned_off, "when it is turned off"),
    },
    "gcp:container/cluster:Cluster": {
        "enableL4IlbSubsetting": (_turned_off, "when it is turned off"),
        "enableFqdnNetworkPolicy": (_turned_off, "when it is turned off"),
        "enableK8sBetaApis.enabledApis": (_api_removed, "when an enabled API is removed"),
        "dnsConfig.additiveVpcScopeDnsDomain": (_with_autopilot, "on an Autopilot cluster"),
    },
}

# Kubernetes: pulumi-kubernetes replaces every object whose metadata.name or metadata.namespace
# changes, and per kind on the fields of provider/pkg/provider/diff.go (`forceNewProperties`), by
# group/version/kind. Kinds not listed there replace on the metadata only, custom resources
# included. (diff.go spells DaemonSet "Daemonset", so its selector rule never applies; the API
# server refuses a changed DaemonSet selector instead, which no offline diff can see.)
KUBERNETES_METADATA = ("metadata.name", "metadata.namespace")
_CONTAINER = tuple(
    f"spec.{containers}.{field}"
    for containers in ("containers", "initContainers")
    for field in [
        "args",
        "command",
        "env",
        "image",
        "imagePullPolicy",
        "lifecycle",
        "livenessProbe",
        "ports",
        "readinessProbe",
        "resources",
        "securityContext",
        "stdin",
        "stdinOnce",
        "terminationMessagePath",
        "terminationMessagePolicy",
        "tty",
        "volumeDevices",
        "volumeMounts",
        "workingDir",
    ]
)
_POD = (
    "affinity automountServiceAccountToken dnsConfig dnsPolicy enableServiceLinks hostAliases hostIPC hostNetwork "
    "hostPID hostname imagePullSecrets nodeName nodeSelector overhead preemptionPolicy priority priorityClassName "
    "readinessGates restartPolicy runtimeClassName schedulerName securityContext serviceAccount serviceAccountName "
    "shareProcessNamespace subdomain terminationGracePeriodSeconds volumes"
)
_VOLUME_SOURCES = (
    "awsElasticBlockStore azureDisk azureFile cephfs cinder csi fc flexVolume flocker gcePersistentDisk glusterfs "
    "hostPath iscsi local nfs photonPersistentDisk portworxVolume quobyte rbd scaleIO storageos vsphereVolume"
)
KUBERNETES_REPLACE_ON: dict[str, tuple[str, ...]] = {
    "apps/v1:Deployment": ("spec.selector",),
    "apps/v1:StatefulSet": tuple(
        f"spec.{f}"
        for f in ["podManagementPolicy", "revisionHistoryLimit", "selector", "serviceName", "volumeClaimTemplates"]
    ),
    "batch/v1:Job": ("spec.completions", "spec.parallelism", "spec.selector", "spec.template"),
    "core/v1:ConfigMap": ("binaryData", "data"),
    "core/v1:PersistentVolume": tuple(f"spec.{s}" for s in _VOLUME_SOURCES.split()),
    "core/v1:PersistentVolumeClaim": ("spec",),
    "core/v1:Pod": (*(f"spec.{s}" for s in _POD.split()), *_CONTAINER),
    "core/v1:ResourceQuota": ("spec.scopes",),
    "core/v1:Secret": ("type", "stringData", "data"),
    "core/v1:Service": ("spec.clusterIP",),
    "policy/v1beta1:PodDisruptionBudget": ("spec",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}


def replace_fields(type_: str) -> tuple[str, ...] | None:
    """The input paths `type_` is replaced on, or None when the table does not know the type."""
    if type_.startswith("kubernetes:") and type_.count(":") == 2:
        return KUBERNETES_METADATA + KUBERNETES_REPLACE_ON.get(type_.split(":", 1)[1], ())
    return REPLACE_ON.get(type_)


OPTION_KEYS = (
    "protect",
    "ignoreChanges",
    "deleteBeforeReplace",
    "retainOnDelete",
    "replaceOnChanges",
    "customTimeouts",
)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": [1]}} -> {"a.b[0]": 1}; a masked secret stays one leaf."""
    if _is_secret(value):
        return {prefix: "[secret]"}
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def _plain(path: str) -> str:
    """A flattened path or a property path as patterns compare it: `a.b[0].c`, `a["b"]` -> `a.b.c`, `a.b`."""
    path = re.sub(r'\[\s*"([^"]*)"\s*\]', r".\1", path)
    return re.sub(r"\[(\d+|\*)\]", "", path).strip(".")


def _under(path: str, pattern: str) -> bool:
    """Whether `path` is at or below `pattern` ("*" is every path; a trailing ".*" covers what is below)."""
    plain, pat = _plain(path), _plain(pattern).removesuffix(".*").removesuffix("*").rstrip(".")
    return pattern == "*" or not pat or plain == pat or plain.startswith(pat + ".")


def _get(inputs: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(inputs, dict) or key not in inputs:
            return None
        inputs = inputs[key]
    return inputs


@dataclass(frozen=True)
class Change:
    path: str
    old: Any
    new: Any


@dataclass
class ResourceDiff:
    urn: str
    type: str
    name: str
    kind: str  # "add" | "remove" | "change" | "replace"
    changes: list[Change] = field(default_factory=list)
    protected: bool = False
    stateful: bool = False
    # "replace": what forces it (input paths, "provider", "replaceOnChanges: <path>")
    replaced_by: list[str] = field(default_factory=list)
    # "change": why the diff cannot tell whether the provider replaces it (None: it can)
    unknown: str | None = None
    # "change": fields that replace the resource only in some changes, with the condition
    maybe: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{short_type(self.type)} {self.name}"

    @property
    def verdict(self) -> str:
        """How the change is applied, in words: the report's per-resource note."""
        if self.kind == "replace":
            return f"replace ({', '.join(self.replaced_by)} forces a new resource)"
        if self.kind != "change":
            return self.kind
        if self.unknown:
            return f"update (replacement unknown: {self.unknown})"
        if self.maybe:
            return f"update in place unless {'; '.join(self.maybe)}"
        return "update in place"


@dataclass
class PlanDiff:
    stack: str
    base: str
    resources: list[ResourceDiff] = field(default_factory=list)

    def of(self, kind: str) -> list[ResourceDiff]:
        return [r for r in self.resources if r.kind == kind]

    @property
    def unknown(self) -> list[ResourceDiff]:
        return [r for r in self.resources if r.kind == "change" and (r.unknown or r.maybe)]

    @property
    def warnings(self) -> list[str]:
        out = []
        for r in self.resources:
            what = " and ".join(w for w, on in (("PROTECTED", r.protected), ("STATEFUL", r.stateful)) if on)
            if r.kind == "remove" and what:
                out.append(f"{what} resource {r.label} would be DELETED")
            elif r.kind == "replace" and what:
                out.append(
                    f"{what} resource {r.label} would be REPLACED (deleted and recreated): "
                    f"{', '.join(r.replaced_by)} forces a new resource"
                )
            elif r.kind == "change" and r.stateful:
                fields = ", ".join(c.path for c in r.changes if not c.path.startswith("options."))
                if fields and r.unknown:
                    out.append(
                        f"STATEFUL resource {r.label} changes ({fields}) and whether the provider replaces it "
                        f"is unknown: {r.unknown}"
                    )
                elif fields and r.maybe:
                    out.append(f"STATEFUL resource {r.label} changes ({fields}): REPLACED if {'; '.join(r.maybe)}")
                elif fields:
                    out.append(f"STATEFUL resource {r.label} changes in place ({fields})")
            for c in r.changes:
                if c.path == "options.protect":
                    out.append(f"`protect` of {r.label} changes: {c.old} -> {c.new}")
        return out


def _view(res: dict[str, Any]) -> dict[str, Any]:
    return {
        "inputs": res["inputs"],
        "options": {k: res["options"].get(k) for k in OPTION_KEYS},
        "parent": res["parent"],
        "provider": res["provider"].rsplit("::", 1)[0] if res.get("provider") else None,
    }


@dataclass(frozen=True)
class _Verdict:
    replaced_by: list[str]
    unknown: str | None
    maybe: list[str]


def classify(old: dict[str, Any], new: dict[str, Any], changes: list[Change]) -> _Verdict:
    """Whether the engine would replace `new` (a changed resource), and what decides it."""
    if not new["custom"]:  # a component has no provider: it is never replaced, only re-run
        return _Verdict([], None, [])
    inputs = [c for c in changes if c.path.startswith("inputs.")]
    declared = set(old["options"].get("replaceOnChanges") or []) | set(new["options"].get("replaceOnChanges") or [])
    by: list[str] = []
    if any(c.path == "provider" for c in changes):
        by.append("provider")  # the engine replaces a resource whose provider changes (step_generator.go)
    by += [f"replaceOnChanges {c.path}" for c in inputs if any(_under(c.path[7:], p) for p in declared)]
    fields = replace_fields(new["type"])
    if fields is None:
        if inputs and not by:
            return _Verdict([], f"{new['type']} not in the table", [])
        return _Verdict(by, None, [])
    by += [c.path for c in inputs if any(_under(c.path[7:], f) for f in fields) and c.path not in by]
    old_paths = {_plain(k[7:]) for k in flatten(_view(old)) if k.startswith("inputs.")}
    new_paths = {_plain(k[7:]) for k in flatten(_view(new)) if k.startswith("inputs.")}
    for block in REPLACE_ON_PRESENCE.get(new["type"], ()):
        had = any(p == block or p.startswith(block + ".") for p in old_paths)
        has = any(p == block or p.startswith(block + ".") for p in new_paths)
        if had != has:
            by.append(f"inputs.{block} ({'added' if has else 'removed'})")
    maybe: list[str] = []
    for path, (condition, words) in REPLACE_IF.get(new["type"], {}).items():
        before, after = _get(old["inputs"], path), _get(new["inputs"], path)
        if before == after:
            continue
        verdict = condition(before, after, new["inputs"])
        if verdict:
            by.append(f"inputs.{path} ({words.removeprefix('when ')})")
        elif verdict is None:
            maybe.append(f"inputs.{path} replaces it {words}")
    return _Verdict(by, None, maybe)


def _ignored(path: str, res: dict[str, Any]) -> bool:
    return path.startswith("inputs.") and any(_under(path[7:], p) for p in res["options"].get("ignoreChanges") or [])


def diff_plans(base: PlanFile, head: PlanFile, base_label: str = "base") -> PlanDiff:
    out = PlanDiff(stack=head.stack, base=base_label)
    old, new = base.by_urn, head.by_urn
    for urn in sorted(set(old) | set(new)):
        if urn not in new:
            r = old[urn]
            out.resources.append(
                ResourceDiff(urn, r["type"], r["name"], "remove", [], bool(r["options"]["protect"]), _stateful(r))
            )
            continue
        r = new[urn]
        if urn not in old:
            out.resources.append(
                ResourceDiff(urn, r["type"], r["name"], "add", [], bool(r["options"]["protect"]), _stateful(r))
            )
            continue
        a, b = flatten(_view(old[urn])), flatten(_view(r))
        changes = [
            Change(k, a.get(k), b.get(k))
            for k in sorted(set(a) | set(b))
            if a.get(k) != b.get(k) and not _ignored(k, r)  # the engine skips ignoreChanges paths
        ]
        if not changes:
            continue
        verdict = classify(old[urn], r, changes)
        protected = bool(old[urn]["options"]["protect"] or r["options"]["protect"])
        kind = "replace" if verdict.replaced_by else "change"
        out.resources.append(
            ResourceDiff(
                urn,
                r["type"],
                r["name"],
                kind,
                changes,
                protected,
                _stateful(r),
                replaced_by=verdict.replaced_by,
                unknown=verdict.unknown,
                maybe=verdict.maybe,
            )
        )
    return out


def _stateful(res: dict[str, Any]) -> bool:
    return res["type"] in STATEFUL_TYPES


def _fmt(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 120 else text[:117] + "..."


def _counts(d: PlanDiff) -> tuple[dict[str, int], int]:
    return {k: len(d.of(k)) for k in ("add", "remove", "change", "replace")}, len(d.unknown)


def render_text(d: PlanDiff) -> str:
    out = [f"offline plan diff, stack {d.stack}: {d.base} -> working tree"]
    counts, unknown = _counts(d)
    out.append(
        f"{counts['add']} to add, {counts['remove']} to remove, {counts['change']} to change, "
        f"{counts['replace']} to replace"
        + (f" ({unknown} of the changes may be replacements: see 'replacement unknown' below)" if unknown else "")
    )
    if d.warnings:
        out += ["", "!" * 72, "!!! WARNING"]
        out += [f"!!!   {w}" for w in d.warnings]
        out += ["!" * 72]
    sign = {"add": "+", "remove": "-", "change": "~", "replace": "+-"}
    for r in d.resources:
        note = f"  {r.verdict}" if r.kind in ("change", "replace") else ""
        out.append(f"{sign[r.kind]:>2} {r.label}{'  [protected]' if r.protected else ''}{note}")
        for c in r.changes:
            out.append(f"      {c.path}: {_fmt(c.old)} => {_fmt(c.new)}")
    if not d.resources:
        out.append("no changes")
    return "\n".join(out)


def render_markdown(d: PlanDiff) -> str:
    counts, unknown = _counts(d)
    out = [
        f"### Offline plan diff: `{d.stack}` ({d.base} → this branch)",
        "",
        f"**{counts['add']}** to add, **{counts['remove']}** to remove, **{counts['change']}** to change, "
        f"**{counts['replace']}** to replace."
        + (f" **{unknown}** of the changes may be replacements (replacement unknown)." if unknown else ""),
    ]
    if d.warnings:
        out += ["", "> [!CAUTION]", "> **Stateful or protected resources affected:**"]
        out += [f"> - :rotating_light: {w}" for w in d.warnings]
    if d.resources:
        out += ["", "| | resource | type | details |", "| --- | --- | --- | --- |"]
        sign = {"add": "➕ add", "remove": "➖ remove", "change": "✏️ change", "replace": "♻️ replace"}
        for r in d.resources:
            details = "; ".join(x for x in (f"{len(r.changes)} properties" if r.changes else "", _md_verdict(r)) if x)
            lock = " 🔒" if r.protected else ""
            out.append(f"| {sign[r.kind]} | `{r.name}`{lock} | `{r.type}` | {details} |")
        changed = [r for r in d.resources if r.changes]
        if changed:
            out += ["", "<details><summary>property changes</summary>", "", "```diff"]
            for r in changed:
                out.append(f"@@ {r.label} @@")
                for c in r.changes:
                    out.append(f"- {c.path}: {_fmt(c.old)}")
                    out.append(f"+ {c.path}: {_fmt(c.new)}")
            out += ["```", "", "</details>"]
    else:
        out += ["", "No changes."]
    out += ["", "<sub>Built offline from the mock-runtime plans; secrets appear as `[secret]`.</sub>"]
    return "\n".join(out)


def _md_verdict(r: ResourceDiff) -> str:
    if r.kind not in ("change", "replace"):
        return ""
    return r.verdict.replace("|", "\\|")


# ---------------------------------------------------------------- building the two plans
class DiffError(Exception):
    """Bad input for the diff; `str()` is the one line the user sees."""


def check_ref(ref: str, cwd: Path = ROOT) -> str:
    """The commit `ref` names in the repository at `cwd`, or DiffError saying what to do."""
    if ref.startswith("-"):
        raise DiffError(f"--base {ref!r}: not a git ref")
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise DiffError("--base needs git, which is not installed here; compare plan files with --base-plan") from None
    if done.returncode != 0:
        hint = " (fetch it first: git fetch origin main)" if ref.startswith("origin/") else ""
        raise DiffError(
            f"--base {ref!r}: no such commit in this repository{hint}; "
            "give a branch, tag or commit, e.g. make diff BASE=HEAD~1"
        )
    return done.stdout.strip()


def base_plan(stack: str, ref: str) -> PlanFile:
    """Build BASE's plan in a temporary worktree (detached, removed afterwards)."""
    commit = check_ref(ref)
    with tempfile.TemporaryDirectory(prefix="estate-base-") as tmp:
        tree = Path(tmp) / "tree"
        added = subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(tree), commit],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        if added.returncode != 0:
            raise DiffError(f"--base {ref!r}: git worktree add failed: {' '.join(added.stderr.split())}")
        try:
            out = Path(tmp) / f"plan-{stack}.json"
            try:
                build_plan(stack, out, cwd=tree)
            except PlanBuildError as exc:
                raise DiffError(f"the plan of {stack} at {ref} failed: {exc.summary}") from None
            return PlanFile.load(out)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)


def _diff(args: argparse.Namespace) -> str:
    if not (args.base_plan and args.head_plan):
        try:
            read(args.stack)  # an unknown stack or a broken stack file: say so before building anything
        except StackFileError as exc:
            raise DiffError(str(exc)) from None
    if args.base_plan:
        base, label = PlanFile.load(args.base_plan), args.base_plan.name
    else:
        base, label = base_plan(args.stack, args.base), args.base
    if args.head_plan:
        head = PlanFile.load(args.head_plan)
    else:
        try:
            build_plan(args.stack, plan_path(args.stack))
        except PlanBuildError as exc:
            raise DiffError(f"the plan of {args.stack} in the working tree failed: {exc.summary}") from None
        head = PlanFile.load(plan_path(args.stack))
    result = diff_plans(base, head, label)
    return render_markdown(result) if args.markdown else render_text(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--base", default="origin/main", help="git ref to compare against")
    parser.add_argument("--base-plan", type=Path, help="compare this plan file instead of building BASE")
    parser.add_argument("--head-plan", type=Path, help="plan file of the new side (default: build it)")
    parser.add_argument("--markdown", action="store_true", help="Markdown for a PR comment")
    parser.add_argument("--out", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    try:
        text = _diff(args)
    except DiffError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, ValueError, KeyError) as exc:  # an unreadable or malformed plan file
        print(f"error: cannot read the plans: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
