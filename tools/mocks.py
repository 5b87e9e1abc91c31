"""The cloud, left out: what each resource type and invoke returns under the mock runtime.

Outputs are camelCase, as the engine returns them. Values that only the cloud can know
(project number, image digests, endpoints) are derived deterministically from the inputs
and carry a `mock` marker where a reader could mistake them for real ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

MOCK_PROJECT_NUMBER = "000000000000"


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(f"mock:{text}".encode()).hexdigest()


class EstateMocks(pulumi.runtime.Mocks):
    def __init__(
        self,
        project: str,
        region: str,
        missing_images: frozenset[str] = frozenset(),
        missing_secrets: frozenset[str] = frozenset(),
    ) -> None:
        self.project = project
        self.region = region
        # `path:tag` our own repository answers "not found" for, as Artifact Registry would.
        self.missing_images = missing_images
        # Secret Manager ids without a version (a secret a person has not set yet).
        self.missing_secrets = missing_secrets
        self._outputs: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
            "gcp:container/cluster:Cluster": self._cluster,
            "gcp:sql/databaseInstance:DatabaseInstance": self._sql,
            "gcp:redis/instance:Instance": self._redis,
            "gcp:serviceaccount/account:Account": self._service_account,
            "gcp:projects/serviceIdentity:ServiceIdentity": self._service_identity,
            "gcp:kms/keyRing:KeyRing": self._key_ring,
            "gcp:kms/cryptoKey:CryptoKey": self._crypto_key,
            "gcp:compute/network:Network": self._self_link("networks"),
            "gcp:compute/subnetwork:Subnetwork": self._self_link("subnetworks"),
            "gcp:compute/globalAddress:GlobalAddress": self._global_address,
            "gcp:storage/bucket:Bucket": self._bucket,
            "gcp:artifactregistry/repository:Repository": self._repository,
            "gcp:secretmanager/secret:Secret": self._secret,
            "random:index/randomPassword:RandomPassword": self._password,
            "random:index/randomId:RandomId": self._random_id,
            "gcp:cloudquota/sQuotaPreference:SQuotaPreference": self._quota_preference,
            **self._signing_and_backup_outputs(),
            "gcp:dns/managedZone:ManagedZone": self._managed_zone,
            "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": self._wif_pool,
            "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": self._wif_provider,
        }
        # ---- Harbor (data layer): its token key pair and its API's ids (`/projects/<n>`, ...)
        self._outputs["tls:index/privateKey:PrivateKey"] = self._pem("PRIVATE KEY")
        self._outputs["tls:index/selfSignedCert:SelfSignedCert"] = self._pem("CERTIFICATE")
        self._outputs["harbor:index/project:Project"] = lambda name, _s: {"id": f"/projects/{_digest(name)[:4]}"}
        # ---- mesh (platform layer): the ingress gateway's reserved regional address
        self._outputs["gcp:compute/address:Address"] = self._address
        # ---- Pub/Sub (data layer): ids as the provider writes them, `projects/<p>/<kind>/<name>`
        for type_, kind in (
            ("gcp:pubsub/topic:Topic", "topics"),
            ("gcp:pubsub/subscription:Subscription", "subscriptions"),
            ("gcp:pubsub/schema:Schema", "schemas"),
        ):
            self._outputs[type_] = self._project_path(kind)

    # ------------------------------------------------------------------ resources
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        state = dict(args.inputs)
        name = state.get("name") or args.name
        extra = self._outputs.get(args.typ)
        if extra is not None:
            state.update(extra(name, state))
        return str(state.get("id") or f"{args.name}-id"), state

    def _self_link(self, kind: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
        def outputs(name: str, _state: dict[str, Any]) -> dict[str, Any]:
            scope = "global" if kind == "networks" else f"regions/{self.region}"
            path = f"projects/{self.project}/{scope}/{kind}/{name}"
            return {"name": name, "id": path, "selfLink": f"https://www.googleapis.com/compute/v1/{path}"}

        return outputs

    def _project_path(self, kind: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
        def outputs(name: str, state: dict[str, Any]) -> dict[str, Any]:
            return {"name": name, "id": f"projects/{state.get('project', self.project)}/{kind}/{name}"}

        return outputs

    def _cluster(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        endpoints = dict(state.get("controlPlaneEndpointsConfig") or {})
        dns = dict(endpoints.get("dnsEndpointConfig") or {})
        dns["endpoint"] = (
            f"gke-{hashlib.sha1(name.encode()).hexdigest()[:32]}-{MOCK_PROJECT_NUMBER}.{self.region}.gke.goog"
        )
        endpoints["dnsEndpointConfig"] = dns
        location = state.get("location", self.region)
        # A Private Service Connect cluster's internal endpoint: an address GKE takes in the node subnet.
        private = {**dict(state.get("privateClusterConfig") or {}), "privateEndpoint": "10.0.0.2"}
        return {
            "name": name,
            "id": f"projects/{self.project}/locations/{location}/clusters/{name}",
            "endpoint": "10.0.0.2",
            "privateClusterConfig": private,
            "controlPlaneEndpointsConfig": endpoints,
            "masterAuth": {"clusterCaCertificate": "bW9jay1jYQ=="},
        }

    def _sql(self, name: str, _state: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "connectionName": f"{self.project}:{self.region}:{name}",
            "privateIpAddress": "10.90.0.3",
            "serverCaCerts": [{"cert": "mock-ca"}],
        }

    def _redis(self, name: str, _state: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": name,
            "host": "10.90.1.4",
            "port": 6378,
            "authString": "mock-auth-string",
            "serverCaCerts": [{"cert": "-----BEGIN CERTIFICATE-----\nmock\n-----END CERTIFICATE-----"}],
        }

    def _service_account(self, _name: str, state: dict[str, Any]) -> dict[str, Any]:
        email = f"{state['accountId']}@{self.project}.iam.gserviceaccount.com"
        return {
            "email": email,
            "member": f"serviceAccount:{email}",
            "name": f"projects/{self.project}/serviceAccounts/{email}",
        }

    def _service_identity(self, _name: str, state: dict[str, Any]) -> dict[str, Any]:
        agent = state["service"].split(".")[0]
        email = f"service-{MOCK_PROJECT_NUMBER}@gcp-sa-{agent}.iam.gserviceaccount.com"
        return {"email": email, "member": f"serviceAccount:{email}"}

    def _key_ring(self, name: str, _state: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "id": f"projects/{self.project}/locations/{self.region}/keyRings/{name}"}

    def _crypto_key(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "id": f"{state['keyRing']}/cryptoKeys/{name}"}

    def _global_address(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "address": state.get("address") or "10.90.0.0"}

    def _address(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        # 203.0.113.0/24 is TEST-NET-3 (RFC 5737): plainly not a real address.
        octet = int(hashlib.sha256(name.encode()).hexdigest()[:2], 16)
        path = f"projects/{self.project}/regions/{state.get('region', self.region)}/addresses/{name}"
        return {"name": name, "address": state.get("address") or f"203.0.113.{octet}", "id": path, "selfLink": path}

    def _bucket(self, name: str, _state: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "url": f"gs://{name}", "selfLink": f"https://www.googleapis.com/storage/v1/b/{name}"}

    def _repository(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        repo = state.get("repositoryId", name)
        return {
            "name": repo,
            "registryUri": f"{state.get('location', self.region)}-docker.pkg.dev/{self.project}/{repo}",
        }

    def _secret(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        path = f"projects/{self.project}/secrets/{state.get('secretId', name)}"
        return {"name": path, "id": path}

    def _password(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        result = "mock-" + hashlib.sha256(name.encode()).hexdigest()[: int(state.get("length", 32)) - 5]
        return {"result": result, "bcryptHash": "$2a$10$" + hashlib.sha256(result.encode()).hexdigest()[:53]}

    def _pem(self, kind: str) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
        def outputs(name: str, _state: dict[str, Any]) -> dict[str, Any]:
            body = f"-----BEGIN {kind}-----\nmock-{_digest(name)[:16]}\n-----END {kind}-----\n"
            return {"privateKeyPem": body} if kind == "PRIVATE KEY" else {"certPem": body}

        return outputs

    def _random_id(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        # As if the stack's state already held the suffix; a real first preview shows it unknown.
        hex_ = hashlib.sha256(f"mock:{name}".encode()).hexdigest()[: 2 * int(state.get("byteLength", 2))]
        return {"hex": hex_, "dec": str(int(hex_, 16))}

    def _quota_preference(self, name: str, state: dict[str, Any]) -> dict[str, Any]:
        # A new project's GPU quota: the preference is filed, nothing granted yet.
        config = {**dict(state.get("quotaConfig") or {}), "grantedValue": "0"}
        return {"name": name, "quotaConfig": config, "reconciling": True}

    # ------------------------------------------------------------------ signing and backup (platform layer)
    def _signing_and_backup_outputs(self) -> dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]]:
        def attestor(name: str, _state: dict[str, Any]) -> dict[str, Any]:
            return {"name": name, "id": f"projects/{self.project}/attestors/{name}"}

        def note(name: str, _state: dict[str, Any]) -> dict[str, Any]:
            return {"name": name, "id": f"projects/{self.project}/notes/{name}"}

        def backup_plan(name: str, state: dict[str, Any]) -> dict[str, Any]:
            location = state.get("location", self.region)
            return {"name": name, "id": f"projects/{self.project}/locations/{location}/backupPlans/{name}"}

        return {
            "gcp:binaryauthorization/attestor:Attestor": attestor,
            "gcp:containeranalysis/note:Note": note,
            "gcp:gkebackup/backupPlan:BackupPlan": backup_plan,
        }

    def _key_version(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """A KMS key version with a mock (not a real) EC P-256 public key."""
        name = f"{inputs['cryptoKey']}/cryptoKeyVersions/{int(inputs.get('version', 1))}"
        pem = (
            "-----BEGIN PUBLIC KEY-----\nmock-"
            + hashlib.sha256(name.encode()).hexdigest()
            + "\n-----END PUBLIC KEY-----\n"
        )
        return {
            "id": f"//cloudkms.googleapis.com/v1/{name}",
            "name": name,
            "cryptoKey": inputs["cryptoKey"],
            "version": int(inputs.get("version", 1)),
            "algorithm": "EC_SIGN_P256_SHA256",
            "protectionLevel": "SOFTWARE",
            "state": "ENABLED",
            "publicKeys": [{"algorithm": "EC_SIGN_P256_SHA256", "pem": pem}],
        }

    # ------------------------------------------------------------------ certificates (platform layer)
    def _managed_zone(self, name: str, _state: dict[str, Any]) -> dict[str, Any]:
        # Cloud DNS assigns one of its name-server shards at creation; this one is a mock value.
        shard = int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 + 1
        return {
            "name": name,
            "nameServers": [f"ns-cloud-a{shard}.googledomains.com.", f"ns-cloud-b{shard}.googledomains.com."],
            "managedZoneId": "0000000000000000000",
        }

    def _wif_pool(self, _name: str, state: dict[str, Any]) -> dict[str, Any]:
        pool = (
            f"projects/{MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{state['workloadIdentityPoolId']}"
        )
        return {"name": pool, "state": "ACTIVE"}

    def _wif_provider(self, _name: str, state: dict[str, Any]) -> dict[str, Any]:
        pool = (
            f"projects/{MOCK_PROJECT_NUMBER}/locations/global/workloadIdentityPools/{state['workloadIdentityPoolId']}"
        )
        return {"name": f"{pool}/providers/{state['workloadIdentityPoolProviderId']}", "state": "ACTIVE"}

    def _docker_image(self, inputs: dict[str, Any]) -> dict[str, Any]:
        name = inputs["imageName"]
        path, _, tag = name.partition(":")
        host = f"{inputs['location']}-docker.pkg.dev/{inputs['project']}/{inputs['repositoryId']}"
        digest = _digest(f"{host}/{name}")
        return {
            "imageName": name,
            "location": inputs["location"],
            "project": inputs["project"],
            "repositoryId": inputs["repositoryId"],
            "selfLink": f"{host}/{path}@{digest}",
            "name": f"projects/{inputs['project']}/locations/{inputs['location']}/repositories/"
            f"{inputs['repositoryId']}/dockerImages/{path}@{digest}",
            "tags": [tag],
        }

    # ------------------------------------------------------------------ invokes
    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        token, inputs = args.token, args.args
        if token == "gcp:kms/getKMSCryptoKeyVersion:getKMSCryptoKeyVersion":
            return self._key_version(inputs), []
        if token == "gcp:organizations/getProject:getProject":
            return {"number": MOCK_PROJECT_NUMBER, "projectId": self.project, "name": self.project}, []
        if token == "gcp:storage/getProjectServiceAccount:getProjectServiceAccount":
            email = f"service-{MOCK_PROJECT_NUMBER}@gs-project-accounts.iam.gserviceaccount.com"
            return {"emailAddress": email, "member": f"serviceAccount:{email}"}, []
        if token == "docker:index/getRegistryImage:getRegistryImage":
            return {"name": inputs["name"], "sha256Digest": _digest(inputs["name"]), "id": inputs["name"]}, []
        if token == "gcp:artifactregistry/getDockerImage:getDockerImage":
            if inputs["imageName"] in self.missing_images:  # the provider's failure, as the engine returns it
                return {}, [("imageName", f"Requested image was not found: {inputs['imageName']}")]
            return self._docker_image(inputs), []
        if token == "gcp:secretmanager/getSecretVersion:getSecretVersion":
            secret = inputs["secret"]
            if secret in self.missing_secrets:
                return {}, [("secret", f"Error retrieving secret manager secret versions: {secret} not found")]
            name = f"projects/{MOCK_PROJECT_NUMBER}/secrets/{secret}/versions/1"
            return {"secret": secret, "version": "1", "name": name, "enabled": True, "id": name}, []
        if token == "gcp:dns/getKeys:getKeys":  # a signed zone's key-signing key (a mock value)
            ds = f"2371 13 2 {hashlib.sha256(str(inputs.get('managedZone')).encode()).hexdigest()}"
            return {"keySigningKeys": [{"dsRecord": ds, "isActive": True}], "zoneSigningKeys": []}, []
        raise NotImplementedError(f"the offline plan has no mock for invoke {token}")
