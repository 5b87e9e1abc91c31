"""Which Google API serves each resource type: the table every layer extends.

A resource created before its API is enabled fails with SERVICE_DISABLED on the first
`up` of an empty project. The whole-stack test walks the plan and fails for any `gcp:`
resource type missing from TYPE_API, or whose resource does not wait for that API's
`projects.Service`. A layer that adds a resource type adds its row here (and its API to
APIS when it is new), then hands its components `Services.for_types(...)`.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

RESOURCE_MANAGER: Final = "cloudresourcemanager.googleapis.com"
CONTAINER_FILESYSTEM: Final = "containerfilesystem.googleapis.com"

APIS: Final = (
    "artifactregistry.googleapis.com",
    "binaryauthorization.googleapis.com",
    "cloudkms.googleapis.com",
    "cloudquotas.googleapis.com",
    RESOURCE_MANAGER,
    "compute.googleapis.com",
    "container.googleapis.com",
    "containeranalysis.googleapis.com",
    # Image streaming on the GPU pools (a node pool's gcfs_config) reads images through it.
    CONTAINER_FILESYSTEM,
    "dns.googleapis.com",
    "gkebackup.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "redis.googleapis.com",
    "secretmanager.googleapis.com",
    "servicenetworking.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
    # Workload Identity token exchange (External Secrets' referent authentication, cert-manager).
    "sts.googleapis.com",
)

# Pulumi type token -> the API whose enablement it needs. Project-level IAM goes through
# Resource Manager (getIamPolicy/setIamPolicy on the project), not IAM.
TYPE_API: Final = MappingProxyType(
    {
        "gcp:projects/iAMMember:IAMMember": RESOURCE_MANAGER,
        "gcp:cloudquota/sQuotaPreference:SQuotaPreference": "cloudquotas.googleapis.com",
        "gcp:kms/keyRing:KeyRing": "cloudkms.googleapis.com",
        "gcp:kms/cryptoKey:CryptoKey": "cloudkms.googleapis.com",
        "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": "cloudkms.googleapis.com",
        "gcp:compute/network:Network": "compute.googleapis.com",
        "gcp:compute/subnetwork:Subnetwork": "compute.googleapis.com",
        "gcp:compute/router:Router": "compute.googleapis.com",
        "gcp:compute/routerNat:RouterNat": "compute.googleapis.com",
        "gcp:compute/globalAddress:GlobalAddress": "compute.googleapis.com",
        "gcp:compute/firewall:Firewall": "compute.googleapis.com",
        "gcp:servicenetworking/connection:Connection": "servicenetworking.googleapis.com",
        "gcp:artifactregistry/repository:Repository": "artifactregistry.googleapis.com",
        "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": "artifactregistry.googleapis.com",
        "gcp:container/cluster:Cluster": "container.googleapis.com",
        "gcp:container/nodePool:NodePool": "container.googleapis.com",
        "gcp:serviceaccount/account:Account": "iam.googleapis.com",
        "gcp:serviceaccount/iAMMember:IAMMember": "iam.googleapis.com",
        "gcp:storage/bucket:Bucket": "storage.googleapis.com",
        "gcp:storage/bucketIAMMember:BucketIAMMember": "storage.googleapis.com",
        "gcp:secretmanager/secret:Secret": "secretmanager.googleapis.com",
        "gcp:secretmanager/secretVersion:SecretVersion": "secretmanager.googleapis.com",
        "gcp:secretmanager/secretIamMember:SecretIamMember": "secretmanager.googleapis.com",
        "gcp:sql/databaseInstance:DatabaseInstance": "sqladmin.googleapis.com",
        "gcp:sql/database:Database": "sqladmin.googleapis.com",
        "gcp:sql/user:User": "sqladmin.googleapis.com",
        "gcp:redis/instance:Instance": "redis.googleapis.com",
        # the platform layer
        "gcp:projects/iAMCustomRole:IAMCustomRole": "iam.googleapis.com",
        "gcp:compute/address:Address": "compute.googleapis.com",
        "gcp:dns/managedZone:ManagedZone": "dns.googleapis.com",
        "gcp:dns/recordSet:RecordSet": "dns.googleapis.com",
        "gcp:dns/dnsManagedZoneIamMember:DnsManagedZoneIamMember": "dns.googleapis.com",
        "gcp:binaryauthorization/attestor:Attestor": "binaryauthorization.googleapis.com",
        "gcp:binaryauthorization/policy:Policy": "binaryauthorization.googleapis.com",
        "gcp:containeranalysis/note:Note": "containeranalysis.googleapis.com",
        "gcp:containeranalysis/noteIamMember:NoteIamMember": "containeranalysis.googleapis.com",
        "gcp:gkebackup/backupPlan:BackupPlan": "gkebackup.googleapis.com",
        # the data layer
        "gcp:pubsub/schema:Schema": "pubsub.googleapis.com",
        "gcp:pubsub/topic:Topic": "pubsub.googleapis.com",
        "gcp:pubsub/topicIAMMember:TopicIAMMember": "pubsub.googleapis.com",
        "gcp:pubsub/subscription:Subscription": "pubsub.googleapis.com",
        "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember": "pubsub.googleapis.com",
    }
)

# Types that call no Google API: they need no Service (random values and keys made locally, the
# pause, Kubernetes, and Harbor's own API).
NO_API_PACKAGES: Final = ("random:", "tls:", "time:", "kubernetes:", "harbor:", "pulumi:providers:")
SERVICE: Final = "gcp:projects/service:Service"
# A service agent exists only once its own API is on, whatever API creates it.
SERVICE_IDENTITY: Final = "gcp:projects/serviceIdentity:ServiceIdentity"


def api_for(type_: str, inputs: dict[str, object] | None = None) -> str | None:
    """The API a resource needs; None when it calls no Google API. KeyError for an unknown gcp type.

    Enabling an API goes through Service Usage, which every project has on from the start.
    """
    if type_.startswith(NO_API_PACKAGES) or type_ == SERVICE:
        return None
    if type_ == SERVICE_IDENTITY:
        return str((inputs or {})["service"])
    return TYPE_API[type_]
