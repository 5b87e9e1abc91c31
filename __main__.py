"""ai-estate: load and validate the stack's config, build the layers, export what operators need."""

import pulumi

from components.automation import build_automation
from components.cells import build_cells
from components.cloud import build_cloud
from components.data import build_data
from components.inference import build_inference, check_token
from components.observability import build_observability
from components.platform import build_platform
from stacks.load import from_pulumi

cfg = from_pulumi()
check_token(cfg)  # a gated model's token, which a person sets: before any resource
cloud = build_cloud(cfg)
platform = build_platform(cfg, cloud)
data = build_data(cfg, cloud, platform)
observability = build_observability(cfg, cloud, platform)
cells = build_cells(cfg, cloud, platform, data, observability)
inference = build_inference(cfg, cloud, platform, cells, observability)
automation = build_automation(cfg, cloud, platform, data, observability, inference)

pulumi.export("clusterName", cloud.cluster.name)
pulumi.export("clusterDnsEndpoint", cloud.cluster.dns_endpoint)
pulumi.export("kubeconfig", cloud.kube.kubeconfig)
pulumi.export("sqlConnectionName", cloud.database.connection_name)
pulumi.export("sqlAdminPassword", cloud.database.admin_password)
pulumi.export("sqlAdminPasswordSecret", cloud.database.password_secret_id)
pulumi.export("redisHost", cloud.cache.host)
pulumi.export("redisAuthSecret", cloud.cache.auth_secret_id)
pulumi.export("buckets", cloud.buckets.names)
pulumi.export("nodeServiceAccounts", cloud.pools.service_accounts)
pulumi.export("workloadServiceAccounts", cloud.workloads.emails)
pulumi.export("images", cloud.registry.images)
# The platform: what DNS delegation, CI signing and operators need.
pulumi.export("dnsNameServers", platform.certs.name_servers)
pulumi.export("dnsDsRecords", platform.certs.ds_records)
pulumi.export("ingressAddress", platform.mesh.address)
pulumi.export("ingressHosts", platform.mesh.hosts)
pulumi.export("imageSigningKey", platform.signing.cosign_key)
pulumi.export("backupPlan", platform.backup.plan_id)
# The data layer: the names workloads publish to and pull from.
pulumi.export("pubsubTopics", data.pubsub.topics)
pulumi.export("pubsubSubscriptions", data.pubsub.subscriptions)
if data.kafka is not None:
    pulumi.export("kafkaBootstrap", data.kafka.bootstrap)
    pulumi.export("kafkaAccessSecrets", data.kafka.access_secrets)
if data.harbor is not None:
    pulumi.export("harborUrl", data.harbor.url)
    pulumi.export("harborRobotSecrets", data.harbor.robot_secrets)
# The observability layer: where to look.
if observability.metrics is not None:
    pulumi.export("prometheusUrl", observability.metrics.prometheus_url)
    pulumi.export("alertmanagerUrl", observability.metrics.alertmanager_url)
    pulumi.export("grafanaUrl", observability.metrics.grafana_url)
# The cells: where each one serves, and the hosts that route to them.
pulumi.export("cells", {name: cell.service for name, cell in cells.cells.items()})
if cells.routes is not None:
    pulumi.export("cellHosts", cells.routes.hosts)
# The model servers' OpenAI-compatible APIs, inside the mesh.
pulumi.export("modelServers", {name: server.url for name, server in inference.servers.items()})
if inference.sandbox is not None:
    pulumi.export("sandboxNamespace", inference.sandbox.namespace)
# The workflow platforms, behind the gateway's sign-in.
if automation.windmill is not None:
    pulumi.export("windmillUrl", automation.windmill.url)
if automation.n8n is not None:
    pulumi.export("n8nUrl", automation.n8n.url)
