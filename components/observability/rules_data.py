"""Alerts on the data services, from their exporters: Kafka (Strimzi's Kafka exporter), Harbor
(its exporter) and Redis (redis_exporter: the instance, and seed 001's work-queue streams)."""

from __future__ import annotations

from components.kube.rules import RuleGroup, alert
from stacks.config_observability import Thresholds


def kafka_alerts(t: Thresholds) -> RuleGroup:
    source = "the Kafka exporter (Strimzi's kafkaExporter)"
    return RuleGroup(
        name="estate-kafka",
        rules=[
            alert(
                "KafkaUnderReplicatedPartitions",
                "sum by (namespace, topic) (kafka_topic_partition_under_replicated_partition) > 0",
                "10m",
                "warning",
                "Topic {{ $labels.topic }} has under-replicated partitions",
                "{{ $value }} partitions have fewer in-sync replicas than their replication factor.",
                source,
                "Check the brokers (pods, disks, zone); a broker down or lagging: restart or replace it; "
                "the partitions catch up once it is back.",
            ),
            alert(
                "KafkaOfflinePartitions",
                "count by (namespace, topic) (kafka_topic_partition_leader == -1) > 0",
                "1m",
                "critical",
                "Topic {{ $labels.topic }} has partitions without a leader",
                "{{ $value }} partitions accept no reads or writes.",
                source,
                "Bring the brokers holding the partitions' replicas back; never enable unclean leader election "
                "without deciding to lose data.",
            ),
            alert(
                "KafkaConsumerLagHigh",
                f"sum by (namespace, consumergroup, topic) (kafka_consumergroup_lag) > {t.kafka_consumer_lag}",
                "15m",
                "warning",
                "Consumer group {{ $labels.consumergroup }} is behind on {{ $labels.topic }}",
                "{{ $value }} messages behind.",
                source,
                "Check the consumers (replicas, errors, processing time); scale them out if they keep up otherwise.",
            ),
        ],
    )


def harbor_alerts() -> RuleGroup:
    return RuleGroup(
        name="estate-harbor",
        rules=[
            alert(
                "HarborComponentDown",
                "harbor_up == 0",
                "5m",
                "critical",
                "Harbor's {{ $labels.component }} is down",
                "Pushes, pulls or scans fail while it is down.",
                "Harbor's exporter (harbor_up)",
                "Check the component's pods and logs in Harbor's namespace, its database (the Cloud SQL Auth "
                "Proxy) and Redis; roll back Harbor's chart if an upgrade started it.",
            ),
        ],
    )


def redis_alerts(t: Thresholds) -> RuleGroup:
    source = "redis_exporter (components/observability/exporters.py)"
    return RuleGroup(
        name="estate-redis",
        rules=[
            alert(
                "RedisDown",
                "redis_up == 0",
                "5m",
                "critical",
                "Redis is unreachable",
                "The exporter cannot reach Memorystore over TLS: the work queues and caches stop.",
                source,
                "Check the instance in the console (maintenance, failover), the exporter's logs (TLS, AUTH), and "
                "the Private Service Access peering; the clients fail the same way.",
            ),
            alert(
                "WorkQueueBacklog",
                f"redis_stream_group_lag > {t.queue_lag} and deriv(redis_stream_group_lag[15m]) > 0",
                "15m",
                "warning",
                "Stream {{ $labels.stream }} is growing faster than group {{ $labels.group }} reads it",
                "{{ $value }} entries wait for the group, and the backlog keeps growing.",
                source,
                "Scale the group's workers out (seed 001: when the queue grows, add workers); check they are "
                "healthy and not failing on the same entries.",
            ),
            alert(
                "WorkQueueStuck",
                f"redis_stream_group_messages_pending > {t.queue_pending}",
                "15m",
                "warning",
                "Group {{ $labels.group }} on {{ $labels.stream }} holds entries it never acknowledged",
                "{{ $value }} entries were read but not acknowledged: workers crash or hang on them.",
                source,
                "Look at the workers' logs and traces for those entries (XPENDING); claim them for a healthy "
                "worker (XAUTOCLAIM) or move poison entries aside.",
            ),
        ],
    )
