"""Who may act as the CI service accounts, and with which roles: pure decisions, tested without mocks.

GitHub Actions' OIDC tokens carry `repository`, `ref`, `event_name` and, in a job that names a
GitHub environment, `environment`. The provider admits tokens of ONE repository only; the
service accounts are then bound to narrower sets of its tokens.
"""

from __future__ import annotations

ISSUER = "https://token.actions.githubusercontent.com"
BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
NO_ENVIRONMENT = "none"

# The environment claim is absent outside environment jobs; mapping it to "none" keeps the
# attribute defined, so a binding on "<ref>@prod" can only match a job in environment prod.
ATTRIBUTE_MAPPING = {
    "google.subject": "assertion.sub",
    "attribute.repository": "assertion.repository",
    "attribute.event_name": "assertion.event_name",
    "attribute.ref": "assertion.ref",
    "attribute.ref_environment": (
        f"assertion.ref + '@' + (has(assertion.environment) ? assertion.environment : '{NO_ENVIRONMENT}')"
    ),
}


def attribute_condition(repository: str) -> str:
    """Admit tokens of exactly this repository (never an owner-wide or wildcard match)."""
    if repository.count("/") != 1 or any(c in repository for c in "\"'*\\ "):
        raise ValueError(f"repository must be owner/name, got {repository!r}")
    return f'assertion.repository == "{repository}"'


def previewer_members(pool_name: str, branch: str) -> list[str]:
    """Pull requests of the repository (fork PRs get no OIDC token from GitHub at all), and `branch`
    outside any environment: the merge workflow previews prod there and saves the plan the
    reviewers approve."""
    return [
        f"principalSet://iam.googleapis.com/{pool_name}/attribute.event_name/pull_request",
        f"principalSet://iam.googleapis.com/{pool_name}/attribute.ref_environment/refs/heads/{branch}@{NO_ENVIRONMENT}",
    ]


def deployer_member(pool_name: str, branch: str, environment: str | None) -> str:
    """Jobs on `branch`, and inside GitHub environment `environment` when one is given (else outside any)."""
    return (
        f"principalSet://iam.googleapis.com/{pool_name}/attribute.ref_environment/"
        f"refs/heads/{branch}@{environment or NO_ENVIRONMENT}"
    )


# Read-only predefined roles, enough for `pulumi preview --refresh` of every resource type the
# estate manages. Secret payloads, object data beyond the state and keys stay out of reach.
PREVIEWER_ROLES = {
    "roles/browser": "read the project and its metadata",
    "roles/serviceusage.serviceUsageViewer": "read which APIs are enabled (projects.Service)",
    "roles/compute.viewer": "read VPC, subnets, firewall, router/NAT, addresses",
    "roles/container.viewer": "read the GKE cluster, node pools, and Kubernetes objects (not Secret data)",
    "roles/cloudsql.viewer": "read Cloud SQL instances, databases and users",
    "roles/redis.viewer": "read Memorystore instances (without the AUTH string)",
    "roles/cloudkms.viewer": "read key rings and keys (no use of them)",
    "roles/artifactregistry.reader": "read repositories and resolve image digests",
    "roles/secretmanager.viewer": "read secret metadata (never payloads)",
    "roles/iam.securityReviewer": "read IAM policies on project, buckets, keys, service accounts",
    "roles/iam.serviceAccountViewer": "read service accounts",
    "roles/storage.bucketViewer": "read bucket settings (not objects)",
}

# Predefined admin roles for exactly the services the estate creates; never a basic role.
DEPLOYER_ROLES = {
    "roles/serviceusage.serviceUsageAdmin": "enable the estate's APIs",
    "roles/compute.networkAdmin": "VPC, subnets, router/NAT, addresses, Private Service Access range",
    "roles/compute.securityAdmin": "firewall rules and SSL policies",
    "roles/servicenetworking.networksAdmin": "the Private Service Access peering",
    "roles/container.admin": "the GKE cluster, node pools and Kubernetes objects in it",
    "roles/cloudsql.admin": "Cloud SQL instance, databases and users",
    "roles/redis.admin": "Memorystore for Redis",
    "roles/storage.admin": "the estate's buckets and their IAM",
    "roles/cloudkms.admin": "the estate's key ring, keys and key IAM",
    "roles/cloudkms.cryptoKeyEncrypterDecrypter": "CMEK use at creation where the API checks the caller",
    "roles/artifactregistry.admin": "registry caches, our image repository and its IAM",
    "roles/secretmanager.admin": "generated credentials in Secret Manager",
    "roles/iam.serviceAccountAdmin": "node and workload service accounts and their Workload Identity bindings",
    "roles/iam.serviceAccountUser": "attach the node service accounts to node pools (GKE checks actAs)",
    "roles/resourcemanager.projectIamAdmin": "the project-level grants of node and workload accounts",
}


def check_roles(roles: dict[str, str]) -> list[str]:
    """Problems with a role table: basic roles, or a role without its reason."""
    problems = [f"{r} is a basic role" for r in roles if r in BASIC_ROLES]
    problems += [f"{r} has no justification" for r, why in roles.items() if not why.strip()]
    return problems
