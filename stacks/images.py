"""Where each image is pulled from: an upstream registry mapped to our pull-through cache.

Pure functions; the Registry component turns them into Artifact Registry repositories.
A remote repository serves the upstream manifest unchanged, so the digest looked up
upstream is the digest the cluster pulls through our cache.
"""

from __future__ import annotations

from dataclasses import dataclass

# repository id -> upstream (DOCKER_HUB is Artifact Registry's preset; the rest are custom).
UPSTREAMS: dict[str, str] = {
    "dockerhub": "DOCKER_HUB",
    "gcr": "https://gcr.io",
    "k8s": "https://registry.k8s.io",
    "quay": "https://quay.io",
    "ghcr": "https://ghcr.io",
}
_HOSTS = {"docker.io": "dockerhub", "gcr.io": "gcr", "registry.k8s.io": "k8s", "quay.io": "quay", "ghcr.io": "ghcr"}
OWN_REPOSITORY = "images"


@dataclass(frozen=True)
class ImageRef:
    lookup: str  # what the digest lookup asks for, `host/path:tag`
    repository: str  # our Artifact Registry repository that serves it
    path: str  # path inside that repository


def own_host(region: str, project: str) -> str:
    return f"{region}-docker.pkg.dev/{project}/{OWN_REPOSITORY}"


def split_host(image: str) -> tuple[str, str]:
    host, _, path = image.partition("/")
    return host, path


def resolve(image: str, tag: str, region: str, project: str) -> ImageRef:
    """Map `image:tag` onto the repository that serves it. Raises ValueError for unknown hosts."""
    own = own_host(region, project)
    if image.startswith(own + "/"):
        return ImageRef(lookup=f"{image}:{tag}", repository=OWN_REPOSITORY, path=image[len(own) + 1 :])
    host, path = split_host(image)
    if host not in _HOSTS:
        raise ValueError(
            f"registry {host!r} has no pull-through cache; allowed: {', '.join(sorted(_HOSTS))} or {own}/..."
        )
    return ImageRef(lookup=f"{image}:{tag}", repository=_HOSTS[host], path=path)


def pinned(ref: ImageRef, region: str, project: str, digest: str) -> str:
    """The reference every Kubernetes object uses: our registry, by digest."""
    return f"{region}-docker.pkg.dev/{project}/{ref.repository}/{ref.path}@{digest}"
