"""API keys the estate generates for its own services: today the key llama.cpp model servers ask
their callers for (`--api-key-file`; Prometheus scrapes them with it too). Generated once and kept
in Secret Manager, from where the platform syncs it into the namespaces whose workloads list it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
import pulumi_random as random

from components.secret_manager import generated_secret
from stacks import secret_keys as keys


@dataclass(frozen=True)
class ApiKeysArgs:
    prefix: str
    region: str
    labels: dict[str, str]
    names: Sequence[str]  # secret keys (stacks.secret_keys) to generate
    protect: bool
    apis: Sequence[pulumi.Resource]


class ApiKeys(pulumi.ComponentResource):
    secrets: dict[str, gcp.secretmanager.Secret]  # by secret key

    def __init__(self, name: str, args: ApiKeysArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:cloud:ApiKeys", name, None, opts)
        self.secrets = {}
        for key in sorted(args.names):
            self.secrets[key] = generated_secret(
                self,
                f"{name}-{key}",
                random.RandomPasswordArgs(length=48, special=False, min_upper=2, min_lower=2, min_numeric=2),
                secret_id=keys.secret_id(args.prefix, key),
                region=args.region,
                labels=args.labels,
                protect=args.protect,
                depends_on=args.apis,
            )
        self.register_outputs({"keys": sorted(self.secrets)})
