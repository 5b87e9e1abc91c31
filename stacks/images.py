"""Where each image is pulled from: an upstream registry mapped to our pull-through cache.

Pure functions; the Registry component turns them into Artifact Registry repositories.
A remote repository serves the upstream manifest unchanged, so the digest looked up
upstream is the digest the cluster pulls through our cache.

gcr.io is itself served by Artifact Registry (each project's `gcr.io` repository in the
`us` multi-region, `eu.gcr.io` in `europe`, ...), and a remote repository refuses an
Artifact Registry URL as a custom upstream. It takes an Artifact Registry repository as its
upstream instead, so each gcr.io project an image comes from gets its own cache repository
whose upstream is `projects/<that project>/locations/<location>/repositories/<host>`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

DOCKER_HUB = "DOCKER_HUB"
# repository id -> upstream (DOCKER_HUB is Artifact Registry's preset; the rest are URLs).
UPSTREAMS: dict[str, str] = {
    "dockerhub": DOCKER_HUB,
    "k8s": "https://registry.k8s.io",
    "quay": "https://quay.io",
    "ghcr": "https://ghcr.io",
}
_HOSTS = {"docker.io": "dockerhub", "registry.k8s.io": "k8s", "quay.io": "quay", "ghcr.io": "ghcr"}
# Container Registry host -> (Artifact Registry location, repository name) of its gcr.io repositories.
GCR_HOSTS = {
    "gcr.io": ("us", "gcr.io"),
    "us.gcr.io": ("us", "us.gcr.io"),
    "eu.gcr.io": ("europe", "eu.gcr.io"),
    "asia.gcr.io": ("asia", "asia.gcr.io"),
}
# Docker Hub's registry API lives here; `docker.io` itself serves the website.
DOCKER_HUB_REGISTRY = "registry-1.docker.io"
OWN_REPOSITORY = "images"


@dataclass(frozen=True)
class ImageRef:
    lookup: str  # what the digest lookup asks for, `registry-host/path:tag`
    repository: str  # our Artifact Registry repository that serves it
    path: str  # path inside that repository


def registry_host(region: str, project: str) -> str:
    """The project's Artifact Registry, every repository under it (our own and the caches)."""
    return f"{region}-docker.pkg.dev/{project}"


def own_host(region: str, project: str) -> str:
    return f"{registry_host(region, project)}/{OWN_REPOSITORY}"


def split_host(image: str) -> tuple[str, str]:
    host, _, path = image.partition("/")
    return host, path


def gcr_repository(host: str, project: str) -> str:
    """Our cache repository for one gcr.io project, e.g. `gcr-cloud-sql-connectors`."""
    return f"{host.removesuffix('gcr.io').replace('.', '-')}gcr-{project}"


def gcr_upstream(host: str, project: str) -> str:
    location, repository = GCR_HOSTS[host]
    return f"projects/{project}/locations/{location}/repositories/{repository}"


def resolve(image: str, tag: str, region: str, project: str) -> ImageRef:
    """Map `image:tag` onto the repository that serves it. Raises ValueError for unknown hosts."""
    own = own_host(region, project)
    if image.startswith(own + "/"):
        return ImageRef(lookup=f"{image}:{tag}", repository=OWN_REPOSITORY, path=image[len(own) + 1 :])
    host, path = split_host(image)
    if host in GCR_HOSTS:
        upstream_project, _, rest = path.partition("/")
        if not rest:
            raise ValueError(f"{host} images are {host}/<project>/<path>")
        return ImageRef(lookup=f"{image}:{tag}", repository=gcr_repository(host, upstream_project), path=rest)
    if host not in _HOSTS:
        allowed = sorted({*_HOSTS, *GCR_HOSTS})
        raise ValueError(f"registry {host!r} has no pull-through cache; allowed: {', '.join(allowed)} or {own}/...")
    lookup_host = DOCKER_HUB_REGISTRY if host == "docker.io" else host
    return ImageRef(lookup=f"{lookup_host}/{path}:{tag}", repository=_HOSTS[host], path=path)


def remote_repositories(images: Iterable[str]) -> dict[str, str]:
    """Every pull-through cache: the fixed upstreams plus one per gcr.io project the images use."""
    repos = dict(UPSTREAMS)
    for image in sorted(images):
        host, path = split_host(image)
        if host in GCR_HOSTS:
            upstream_project = path.partition("/")[0]
            repos[gcr_repository(host, upstream_project)] = gcr_upstream(host, upstream_project)
    return repos


def repository_path(ref: ImageRef, region: str, project: str) -> str:
    """Where our registry serves the image, without tag or digest (known from config alone)."""
    return f"{region}-docker.pkg.dev/{project}/{ref.repository}/{ref.path}"


def pinned(ref: ImageRef, region: str, project: str, digest: str) -> str:
    """The reference every Kubernetes object uses: our registry, by digest."""
    return f"{repository_path(ref, region, project)}@{digest}"
