"""The bootstrap program: APIs first, then the state store and the CI identities."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from bootstrap.config import KEYS, NAMESPACE, BootstrapConfig, BootstrapConfigError, load
from bootstrap.federation import (
    ATTRIBUTE_MAPPING,
    DEPLOYER_ROLES,
    ISSUER,
    PREVIEWER_ROLES,
    attribute_condition,
    deployer_member,
    previewer_members,
)
from components.common import child

APIS = (
    "cloudresourcemanager.googleapis.com",
    "serviceusage.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "sts.googleapis.com",
    "cloudkms.googleapis.com",
    "storage.googleapis.com",
)
KEY_ROTATION = "7776000s"  # 90 days


class Apis(pulumi.ComponentResource):
    services: list[gcp.projects.Service]

    def __init__(self, name: str, project: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:bootstrap:Apis", name, None, opts)
        self.services = [
            gcp.projects.Service(
                f"{name}-{api.split('.')[0]}",
                gcp.projects.ServiceArgs(project=project, service=api, disable_on_destroy=False),
                opts=child(self),
            )
            for api in APIS
        ]
        self.register_outputs({"apis": list(APIS)})


@dataclass(frozen=True)
class StateStoreArgs:
    cfg: BootstrapConfig
    depends_on: Sequence[pulumi.Resource]


class StateStore(pulumi.ComponentResource):
    """The stacks' state bucket (CMEK, versioned, soft delete) and the KMS key of their secrets provider."""

    bucket: gcp.storage.Bucket
    secrets_key: gcp.kms.CryptoKey
    secrets_provider: pulumi.Output[str]

    def __init__(self, name: str, args: StateStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:bootstrap:StateStore", name, None, opts)
        cfg = args.cfg
        ring = gcp.kms.KeyRing(
            f"{name}-ring",
            gcp.kms.KeyRingArgs(name="ai-estate-pulumi", location=cfg.region, project=cfg.project),
            opts=child(self, depends_on=args.depends_on, protect=True),
        )
        keys = {
            role: gcp.kms.CryptoKey(
                f"{name}-{role}-key",
                gcp.kms.CryptoKeyArgs(
                    name=f"pulumi-{role}", key_ring=ring.id, rotation_period=KEY_ROTATION, purpose="ENCRYPT_DECRYPT"
                ),
                opts=child(self, protect=True),
            )
            for role in ("state", "secrets")
        }
        self.secrets_key = keys["secrets"]
        agent = gcp.storage.get_project_service_account_output(project=cfg.project)
        agent_grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-state-key-storage-agent",
            gcp.kms.CryptoKeyIAMMemberArgs(
                crypto_key_id=keys["state"].id,
                role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
                member=agent.member,
            ),
            opts=child(self),
        )
        st = gcp.storage
        self.bucket = st.Bucket(
            f"{name}-bucket",
            st.BucketArgs(
                name=cfg.bucket,
                project=cfg.project,
                location=cfg.region,
                storage_class="STANDARD",
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                versioning=st.BucketVersioningArgs(enabled=True),
                encryption=st.BucketEncryptionArgs(default_kms_key_name=keys["state"].id),
                soft_delete_policy=st.BucketSoftDeletePolicyArgs(retention_duration_seconds=cfg.softDeleteDays * 86400),
                force_destroy=False,
                # Checkpoints are rewritten on every update: keep the last versions, not all of them.
                lifecycle_rules=[
                    st.BucketLifecycleRuleArgs(
                        action=st.BucketLifecycleRuleActionArgs(type="Delete"),
                        condition=st.BucketLifecycleRuleConditionArgs(num_newer_versions=20, with_state="ARCHIVED"),
                    )
                ],
                labels={"app": "ai-estate", "component": "pulumi-state", "managed-by": "pulumi"},
            ),
            opts=child(self, depends_on=[agent_grant], protect=True),
        )
        self.secrets_provider = pulumi.Output.concat("gcpkms://", self.secrets_key.id)
        self.register_outputs({"bucket": self.bucket.name, "secretsProvider": self.secrets_provider})


@dataclass(frozen=True)
class GithubCiArgs:
    cfg: BootstrapConfig
    state: StateStore
    depends_on: Sequence[pulumi.Resource]


class GithubCi(pulumi.ComponentResource):
    """Workload Identity Federation for this repository's workflows and the two CI service accounts."""

    provider_name: pulumi.Output[str]
    previewer: gcp.serviceaccount.Account
    deployer: gcp.serviceaccount.Account

    def __init__(self, name: str, args: GithubCiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:bootstrap:GithubCi", name, None, opts)
        cfg = args.cfg
        iam = gcp.iam
        pool = iam.WorkloadIdentityPool(
            f"{name}-pool",
            iam.WorkloadIdentityPoolArgs(
                workload_identity_pool_id="github-actions",
                project=cfg.project,
                display_name="GitHub Actions",
                description=f"CI of {cfg.repository}",
            ),
            opts=child(self, depends_on=args.depends_on),
        )
        provider = iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            iam.WorkloadIdentityPoolProviderArgs(
                workload_identity_pool_id=pool.workload_identity_pool_id,
                workload_identity_pool_provider_id="github",
                project=cfg.project,
                display_name="GitHub OIDC",
                attribute_mapping=ATTRIBUTE_MAPPING,
                attribute_condition=attribute_condition(cfg.repository),
                oidc=iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=ISSUER),
            ),
            opts=child(self),
        )
        self.provider_name = provider.name
        accounts = {}
        for role_name, display in (("previewer", "CI previewer (read-only)"), ("deployer", "CI deployer")):
            accounts[role_name] = gcp.serviceaccount.Account(
                f"{name}-{role_name}",
                gcp.serviceaccount.AccountArgs(account_id=f"ci-{role_name}", project=cfg.project, display_name=display),
                opts=child(self, depends_on=args.depends_on),
            )
        self.previewer, self.deployer = accounts["previewer"], accounts["deployer"]
        pool_name = pool.name
        members = {
            ("previewer", "pull-requests"): pool_name.apply(lambda p: previewer_members(p, cfg.mainBranch)[0]),
            ("previewer", "main"): pool_name.apply(lambda p: previewer_members(p, cfg.mainBranch)[1]),
            ("deployer", "main"): pool_name.apply(lambda p: deployer_member(p, cfg.mainBranch, cfg.deployEnvironment)),
        }
        for (role_name, source), member in members.items():
            gcp.serviceaccount.IAMMember(
                f"{name}-{role_name}-federation-{source}",
                gcp.serviceaccount.IAMMemberArgs(
                    service_account_id=accounts[role_name].name, role="roles/iam.workloadIdentityUser", member=member
                ),
                opts=child(self),
            )
        for role_name, roles in (("previewer", PREVIEWER_ROLES), ("deployer", DEPLOYER_ROLES)):
            for role in sorted(roles):
                gcp.projects.IAMMember(
                    f"{name}-{role_name}-{role.removeprefix('roles/').replace('.', '-')}",
                    gcp.projects.IAMMemberArgs(project=cfg.project, role=role, member=accounts[role_name].member),
                    opts=child(self),
                )
        self._state_access(name, args.state, accounts)
        self.register_outputs(
            {"provider": provider.name, "previewer": self.previewer.email, "deployer": self.deployer.email}
        )

    def _state_access(self, name: str, state: StateStore, accounts: dict[str, gcp.serviceaccount.Account]) -> None:
        st = gcp.storage
        bucket = state.bucket.name
        grants: list[tuple[str, str, str, st.BucketIAMMemberConditionArgs | None]] = [
            ("deployer", "state-rw", "roles/storage.objectUser", None),
            ("previewer", "state-read", "roles/storage.objectViewer", None),
            # A preview takes the DIY backend's lock: writes under .pulumi/locks/ only.
            (
                "previewer",
                "state-locks",
                "roles/storage.objectUser",
                st.BucketIAMMemberConditionArgs(
                    title="pulumi-locks-only",
                    expression=bucket.apply(
                        lambda b: f'resource.name.startsWith("projects/_/buckets/{b}/objects/.pulumi/locks/")'
                    ),
                ),
            ),
        ]
        for who, what, role, condition in grants:
            st.BucketIAMMember(
                f"{name}-{who}-{what}",
                st.BucketIAMMemberArgs(bucket=bucket, role=role, member=accounts[who].member, condition=condition),
                opts=child(self),
            )
        for who, role in (
            ("deployer", "roles/cloudkms.cryptoKeyEncrypterDecrypter"),
            # `preview --save-plan` encrypts the plan's secret values with the stack's key.
            ("previewer", "roles/cloudkms.cryptoKeyEncrypterDecrypter"),
        ):
            gcp.kms.CryptoKeyIAMMember(
                f"{name}-{who}-secrets-key",
                gcp.kms.CryptoKeyIAMMemberArgs(
                    crypto_key_id=state.secrets_key.id, role=role, member=accounts[who].member
                ),
                opts=child(self),
            )


def main() -> None:
    stack = pulumi.get_stack()
    gcp_config, own = pulumi.Config("gcp"), pulumi.Config(NAMESPACE)
    raw = {"gcp:project": gcp_config.get("project"), "gcp:region": gcp_config.get("region")}
    raw.update({f"{NAMESPACE}:{key}": own.get(key) for key in KEYS})
    try:
        cfg = load(raw, stack)
    except BootstrapConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    apis = Apis("bootstrap-apis", cfg.project)
    state = StateStore("bootstrap-state", StateStoreArgs(cfg=cfg, depends_on=[apis]))
    ci = GithubCi("bootstrap-ci", GithubCiArgs(cfg=cfg, state=state, depends_on=[apis]))
    pulumi.export("stateBucket", pulumi.Output.concat("gs://", state.bucket.name))
    pulumi.export("secretsProvider", state.secrets_provider)
    pulumi.export("workloadIdentityProvider", ci.provider_name)
    pulumi.export("previewerServiceAccount", ci.previewer.email)
    pulumi.export("deployerServiceAccount", ci.deployer.email)
