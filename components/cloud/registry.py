"""Artifact Registry: a pull-through cache per upstream plus our own repository, and
every configured image resolved to `our-registry/...@sha256:...`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import pulumi
import pulumi_docker as docker
import pulumi_gcp as gcp

from components.common import child
from stacks import images
from stacks.model import Image

ar = gcp.artifactregistry


def _pin(ref: images.ImageRef, region: str, project: str, digest: str | None) -> str:
    if not digest:
        raise pulumi.RunError(f"no digest found for {ref.lookup}: does that tag exist upstream?")
    return images.pinned(ref, region, project, digest)


def remote_config(upstream: str) -> ar.RepositoryRemoteRepositoryConfigArgs:
    """Docker Hub through its preset; any other upstream through `common_repository`
    (`docker_repository.custom_repository` is deprecated in its favour)."""
    if upstream == images.DOCKER_HUB:
        return ar.RepositoryRemoteRepositoryConfigArgs(
            description=upstream,
            docker_repository=ar.RepositoryRemoteRepositoryConfigDockerRepositoryArgs(public_repository=upstream),
        )
    return ar.RepositoryRemoteRepositoryConfigArgs(
        description=upstream,
        common_repository=ar.RepositoryRemoteRepositoryConfigCommonRepositoryArgs(uri=upstream),
    )


@dataclass(frozen=True)
class RegistryArgs:
    project: str
    region: str
    labels: dict[str, str]
    images: Mapping[str, Image]
    keep_versions: int
    protect: bool
    depends_on: Sequence[pulumi.Resource] = field(default=())


class Registry(pulumi.ComponentResource):
    repositories: dict[str, ar.Repository]
    images: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: RegistryArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("estate:registry:Registry", name, None, opts)
        self.repositories = {}
        deps = list(args.depends_on)
        upstreams = images.remote_repositories(img.image for img in args.images.values())
        for repo_id, upstream in upstreams.items():
            self.repositories[repo_id] = ar.Repository(
                f"{name}-{repo_id}",
                ar.RepositoryArgs(
                    repository_id=repo_id,
                    location=args.region,
                    format="DOCKER",
                    mode="REMOTE_REPOSITORY",
                    description=f"Pull-through cache of {upstream}",
                    labels=args.labels,
                    remote_repository_config=remote_config(upstream),
                ),
                opts=child(self, depends_on=deps),
            )
        self.repositories[images.OWN_REPOSITORY] = ar.Repository(
            f"{name}-{images.OWN_REPOSITORY}",
            ar.RepositoryArgs(
                repository_id=images.OWN_REPOSITORY,
                location=args.region,
                format="DOCKER",
                mode="STANDARD_REPOSITORY",
                description="The estate's own images, cosign-signed by CI",
                labels=args.labels,
                docker_config=ar.RepositoryDockerConfigArgs(immutable_tags=True),
                cleanup_policy_dry_run=False,
                cleanup_policies=[
                    ar.RepositoryCleanupPolicyArgs(
                        id="keep-recent",
                        action="KEEP",
                        most_recent_versions=ar.RepositoryCleanupPolicyMostRecentVersionsArgs(
                            keep_count=args.keep_versions
                        ),
                    ),
                    ar.RepositoryCleanupPolicyArgs(
                        id="delete-untagged",
                        action="DELETE",
                        condition=ar.RepositoryCleanupPolicyConditionArgs(tag_state="UNTAGGED", older_than="2592000s"),
                    ),
                ],
            ),
            opts=child(self, depends_on=deps, protect=args.protect),
        )

        self.images = {}
        for key, img in args.images.items():
            ref = images.resolve(img.image, img.tag, args.region, args.project)
            digest = docker.get_registry_image_output(name=ref.lookup).sha256_digest
            self.images[key] = digest.apply(partial(_pin, ref, args.region, args.project))
        self.register_outputs(
            {"images": self.images, "repositories": {k: r.name for k, r in self.repositories.items()}}
        )
