"""Harbor's projects, their policies and the robot accounts, from config, through Harbor's own API
(the `pulumiverse-harbor` provider), against the Harbor this program deploys.

The provider talks to `https://<host>` as the admin whose password the program generated, so these
resources wait for the chart (its pods Ready), the public certificate and the gateway route. During
a first preview the provider's password is unknown and Pulumi shows them without reading Harbor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumiverse_harbor as harbor

from components.common import child
from stacks.config_harbor import Project, Robot

# What each access grants on a project's repositories (Harbor's rbac const.go resources/actions).
ACCESS: dict[str, tuple[tuple[str, str], ...]] = {
    "pull": (("repository", "pull"), ("artifact", "read"), ("artifact", "list"), ("tag", "list")),
    "push": (
        ("repository", "pull"),
        ("repository", "push"),
        ("artifact", "read"),
        ("artifact", "list"),
        ("artifact", "create"),  # cosign's signature and attestations are artifacts of their own
        ("tag", "list"),
        ("tag", "create"),
    ),
}
DOUBLESTAR = "**"


def provider(parent: pulumi.Resource, name: str, url: str, password: pulumi.Input[str]) -> harbor.Provider:
    return harbor.Provider(
        name,
        harbor.ProviderArgs(url=url, username="admin", password=password, insecure=False),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def robot_permissions(projects: Mapping[str, str]) -> list[harbor.RobotAccountPermissionArgs]:
    return [
        harbor.RobotAccountPermissionArgs(
            kind="project",
            namespace=project,
            accesses=[harbor.RobotAccountPermissionAccessArgs(resource=r, action=a) for r, a in ACCESS[access]],
        )
        for project, access in sorted(projects.items())
    ]


def projects(
    parent: pulumi.Resource,
    name: str,
    *,
    config: Mapping[str, Project],
    robots: Mapping[str, Robot],
    robot_secrets: Mapping[str, pulumi.Input[str]],
    api: harbor.Provider,
    depends_on: Sequence[pulumi.Resource],
    protect: bool,
    force_destroy: bool,
) -> dict[str, harbor.Project]:
    out: dict[str, harbor.Project] = {}
    for key, p in sorted(config.items()):
        opts = child(parent, provider=api, depends_on=depends_on)
        project = harbor.Project(
            f"{name}-project-{key}",
            harbor.ProjectArgs(
                name=key,
                public=p.public,
                vulnerability_scanning=p.scan_on_push,
                deployment_security=p.block_severity,
                enable_content_trust_cosign=p.require_signature,
                enable_content_trust=False,  # Notary v1 is gone from Harbor; cosign replaces it
                storage_quota=p.storage_quota_gb,
                # A project that holds repositories refuses deletion, unless the stack opted in
                # outside prod (storage.forceDestroy, as for its buckets).
                force_destroy=force_destroy,
            ),
            opts=child(parent, provider=api, depends_on=depends_on, protect=protect),
        )
        out[key] = project
        if p.immutable_tags is not None:
            harbor.ImmutableTagRule(
                f"{name}-project-{key}-immutable",
                harbor.ImmutableTagRuleArgs(
                    project_id=project.id, repo_matching=DOUBLESTAR, tag_matching=p.immutable_tags
                ),
                opts=opts,
            )
        rules = [
            harbor.RetentionPolicyRuleArgs(
                repo_matching=DOUBLESTAR, tag_matching=DOUBLESTAR, most_recently_pushed=p.retention.keep_last
            )
        ]
        if p.retention.keep_days is not None:
            rules.append(
                harbor.RetentionPolicyRuleArgs(
                    repo_matching=DOUBLESTAR, tag_matching=DOUBLESTAR, n_days_since_last_push=p.retention.keep_days
                )
            )
        harbor.RetentionPolicy(
            f"{name}-project-{key}-retention",
            harbor.RetentionPolicyArgs(scope=project.id, schedule=p.retention.schedule, rules=rules),
            opts=opts,
        )
    for key, robot in sorted(robots.items()):
        harbor.RobotAccount(
            f"{name}-robot-{key}",
            harbor.RobotAccountArgs(
                name=key,
                description=robot.description or None,
                level="system",
                secret=robot_secrets[key],
                permissions=robot_permissions(robot.projects),
            ),
            opts=child(parent, provider=api, depends_on=[*depends_on, *(out[p] for p in sorted(robot.projects))]),
        )
    return out
