"""Pub/Sub (the data layer): `ai-estate:pubsub`'s rules, the component's decisions, and the dev and
prod plans (CMEK with the estate's key after its grant's wait, dead-lettering, retries, IAM on each
topic and subscription only, protection in prod)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi_gcp as gcp
import pytest
import yaml

from components.cloud.pause import SLEEP_TYPE
from components.data.pubsub import (
    AGENT,
    PUBLISHER,
    SUBSCRIBER,
    Access,
    PubSub,
    PubSubArgs,
    dead_letter_access,
    resource_name,
    workload_access,
)
from stacks.config_namespaces import Egress, NamespaceConfig
from stacks.config_pubsub import DEFAULTS, PubSubConfig, api_duration, seconds
from stacks.defaults import merge
from stacks.load import load
from stacks.model import Workload
from stacks.rules_pubsub import check_pubsub
from tests.conftest import config_with, stack_cfg
from tools.plan import Plan, record, run_plan

TOPIC = "gcp:pubsub/topic:Topic"
SUB = "gcp:pubsub/subscription:Subscription"
SCHEMA = "gcp:pubsub/schema:Schema"
TOPIC_IAM = "gcp:pubsub/topicIAMMember:TopicIAMMember"
SUB_IAM = "gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember"
KEY = "gcp:kms/cryptoKey:CryptoKey"

WORKLOADS = {
    "apps": Workload(namespace="apps", service_account="apps"),
    "offline": Workload(namespace="batch", service_account="offline"),
}
NAMESPACES = {"apps": NamespaceConfig(egress=Egress(google_apis=True)), "batch": NamespaceConfig()}


def _base() -> dict[str, Any]:
    """A passing config: a stream, its dead-letter topic with a subscription, and one grant."""
    return {
        "topics": {"jobs": {"messageRetention": "1d"}, "jobs-dead": {}},
        "subscriptions": {
            "jobs": {"topic": "jobs", "deadLetter": {"topic": "jobs-dead", "maxDeliveryAttempts": 10}},
            "jobs-dead": {"topic": "jobs-dead"},
        },
        "grants": {"apps": {"publish": ["jobs"], "subscribe": ["jobs", "jobs-dead"]}},
    }


def _rendered(changes: dict[str, Any]) -> list[str]:
    cfg = PubSubConfig.model_validate(merge(_base(), changes))
    return [p.render() for p in check_pubsub(cfg, WORKLOADS, NAMESPACES)]


# ---------------------------------------------------------------- rules: one failing and passing case each
def test_the_base_and_both_environment_defaults_pass() -> None:
    assert _rendered({}) == []
    for env in ("dev", "prod"):
        cfg = stack_cfg(env)  # the defaults merged under the committed stack file
        assert check_pubsub(cfg.pubsub, cfg.identity.workloads, cfg.namespaces) == []
        assert cfg.pubsub == PubSubConfig.model_validate(DEFAULTS[env]["pubsub"])


FAILING: dict[str, tuple[dict[str, Any], list[str]]] = {
    "subscription on an unknown topic": (
        {"subscriptions": {"jobs": {"topic": "job"}}},
        ["pubsub.subscriptions.jobs.topic = 'job': unknown topic; must be one of pubsub.topics: ['jobs', 'jobs-dead']"],
    ),
    "dead-letter topic unknown": (
        {"subscriptions": {"jobs": {"deadLetter": {"topic": "nowhere"}}}},
        [
            "pubsub.subscriptions.jobs.deadLetter.topic = 'nowhere': unknown topic; must be one of pubsub.topics: "
            "['jobs', 'jobs-dead']"
        ],
    ),
    "dead-letter topic is the subscription's own": (
        {"subscriptions": {"jobs": {"deadLetter": {"topic": "jobs"}}}},
        [
            "pubsub.subscriptions.jobs.deadLetter.topic = 'jobs': must be another topic than the subscription's own: "
            "a failing message would be dead-lettered back to where it failed"
        ],
    ),
    "too few delivery attempts": (
        {"subscriptions": {"jobs": {"deadLetter": {"maxDeliveryAttempts": 4}}}},
        ["pubsub.subscriptions.jobs.deadLetter.maxDeliveryAttempts = 4: must be between 5 and 100 (Pub/Sub's limits)"],
    ),
    "too many delivery attempts": (
        {"subscriptions": {"jobs": {"deadLetter": {"maxDeliveryAttempts": 101}}}},
        [
            "pubsub.subscriptions.jobs.deadLetter.maxDeliveryAttempts = 101: must be between 5 and 100 "
            "(Pub/Sub's limits)"
        ],
    ),
    "exactly once on a push subscription": (
        {
            "subscriptions": {
                "jobs": {
                    "exactlyOnceDelivery": True,
                    "push": {"endpoint": "https://hooks.example.com/jobs", "workload": "apps"},
                }
            }
        },
        [
            "pubsub.subscriptions.jobs.exactlyOnceDelivery = True: exactly-once delivery is for pull subscriptions "
            "only; remove push or set it to false"
        ],
    ),
    "push tokens of an unknown workload": (
        {"subscriptions": {"jobs": {"push": {"endpoint": "https://hooks.example.com/jobs", "workload": "nobody"}}}},
        [
            "pubsub.subscriptions.jobs.push.workload = 'nobody': unknown workload; must be one of "
            "identity.workloads: ['apps', 'offline']"
        ],
    ),
    "grant to an unknown workload": (
        {"grants": {"ghost": {"publish": ["jobs"]}}},
        ["pubsub.grants.ghost = 'ghost': unknown workload; must be one of identity.workloads: ['apps', 'offline']"],
    ),
    "grant on an unknown topic and subscription": (
        {"grants": {"apps": {"publish": ["jobs", "job"], "subscribe": ["jobz"]}}},
        [
            "pubsub.grants.apps.publish[1] = 'job': unknown topic; must be one of pubsub.topics: ['jobs', 'jobs-dead']",
            "pubsub.grants.apps.subscribe[0] = 'jobz': unknown subscription; must be one of pubsub.subscriptions: "
            "['jobs', 'jobs-dead']",
        ],
    ),
    "grant to a workload whose namespace cannot reach Google APIs": (
        {"grants": {"offline": {"subscribe": ["jobs"]}}},
        [
            "pubsub.grants.offline = 'offline': its namespace 'batch' cannot reach Pub/Sub: set "
            "namespaces.batch.egress.googleApis: true"
        ],
    ),
    "topic retention under 10 minutes": (
        {"topics": {"jobs": {"messageRetention": "9m"}}},
        [
            "pubsub.topics.jobs.messageRetention = '9m': must be between 10m and 31d (Pub/Sub keeps messages "
            "10 minutes to 31 days)"
        ],
    ),
    "subscription retention over 31 days": (
        {"subscriptions": {"jobs": {"messageRetention": "32d"}}},
        [
            "pubsub.subscriptions.jobs.messageRetention = '32d': must be between 10m and 31d (Pub/Sub keeps "
            "messages 10 minutes to 31 days)"
        ],
    ),
    "backoff over 600 seconds, and its minimum above its maximum": (
        {"subscriptions": {"jobs": {"retryPolicy": {"minimumBackoff": "11m", "maximumBackoff": "10m"}}}},
        [
            "pubsub.subscriptions.jobs.retryPolicy.minimumBackoff = '11m': must be between 0s and 600s "
            "(Pub/Sub's limit)",
            "pubsub.subscriptions.jobs.retryPolicy.minimumBackoff = '11m': must be <= retryPolicy.maximumBackoff (10m)",
        ],
    ),
    "topic schema unknown": (
        {"topics": {"jobs": {"schema": {"name": "job-v1"}}}},
        ["pubsub.topics.jobs.schema.name = 'job-v1': unknown schema; must be one of pubsub.schemas: []"],
    ),
    "dead-letter topic nobody subscribes to": (
        {"subscriptions": {"jobs-dead": None}, "grants": {"apps": {"subscribe": ["jobs"]}}},
        [
            "pubsub.topics.jobs-dead = 'jobs-dead': a dead-letter topic needs a subscription of its own in "
            "pubsub.subscriptions, or what is dead-lettered to it is lost"
        ],
    ),
    "a label the estate sets itself": (
        {"topics": {"jobs": {"labels": {"environment": "prod"}}}},
        [
            "pubsub.topics.jobs.labels.environment = 'prod': reserved: the estate sets 'environment' itself; pick "
            "another label key"
        ],
    ),
}

PASSING: dict[str, dict[str, Any]] = {
    "subscription on a known topic": {"subscriptions": {"jobs": {"topic": "jobs-dead", "deadLetter": None}}},
    "no dead letter at all": {"subscriptions": {"jobs": {"deadLetter": None}}},
    "the fewest and most delivery attempts": {
        "subscriptions": {
            "jobs": {"deadLetter": {"maxDeliveryAttempts": 5}},
            "jobs-dead": {"deadLetter": {"topic": "jobs", "maxDeliveryAttempts": 100}},
        }
    },
    "exactly once on a pull subscription, push without it": {
        "subscriptions": {
            "jobs": {"exactlyOnceDelivery": True},
            "jobs-dead": {"push": {"endpoint": "https://hooks.example.com/dead", "workload": "apps"}},
        }
    },
    "grants to a known workload, topic and subscription": {"grants": {"apps": {"subscribe": ["jobs-dead"]}}},
    "a workload whose namespace reaches Google APIs": {"grants": {"apps": {"publish": ["jobs-dead"]}}},
    "retention at Pub/Sub's limits": {
        "topics": {"jobs": {"messageRetention": "10m"}, "jobs-dead": {"messageRetention": "31d"}},
        "subscriptions": {"jobs": {"messageRetention": "600s"}, "jobs-dead": {"messageRetention": "744h"}},
    },
    "backoff within limits": {
        "subscriptions": {"jobs": {"retryPolicy": {"minimumBackoff": "0s", "maximumBackoff": "10m"}}}
    },
    "a known schema": {
        "schemas": {"job-v1": {"type": "AVRO", "definition": '{"type": "record", "name": "Job", "fields": []}'}},
        "topics": {"jobs": {"schema": {"name": "job-v1", "encoding": "BINARY"}}},
    },
    "labels of our own": {"topics": {"jobs": {"labels": {"team": "agents"}}}},
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_rule_refuses(case: str) -> None:
    changes, expected = FAILING[case]
    assert _rendered(changes) == expected


@pytest.mark.parametrize("case", sorted(PASSING))
def test_rule_passes(case: str) -> None:
    assert _rendered(PASSING[case]) == []


def test_a_bad_subscription_stops_the_program_before_any_resource() -> None:
    plan = run_plan("dev", config=config_with("dev", pubsub={"subscriptions": {"orphan": {"topic": "nope"}}}))
    assert plan.resources == [] and plan.error is not None
    assert plan.error.startswith("invalid configuration for stack 'dev' (1 problem)")
    assert "pubsub.subscriptions.orphan.topic = 'nope': unknown topic; must be one of pubsub.topics: [" in plan.error


# ---------------------------------------------------------------- pure decisions
def test_durations() -> None:
    assert [seconds(d) for d in ("600s", "10m", "12h", "31d")] == [600, 600, 43200, 2678400]
    assert api_duration("7d") == "604800s"
    with pytest.raises(ValueError):
        seconds("7 days")


def test_who_gets_what() -> None:
    cfg = PubSubConfig.model_validate(merge(_base(), {"grants": {"apps": {"publish": ["jobs", "jobs"]}}}))
    assert workload_access(cfg) == [
        Access("topic", "jobs", PUBLISHER, "apps"),  # once, though listed twice
        Access("subscription", "jobs", SUBSCRIBER, "apps"),
        Access("subscription", "jobs-dead", SUBSCRIBER, "apps"),
    ]
    # The service agent publishes to the dead-letter topic and acknowledges on the subscription
    # that dead-letters, and on nothing else.
    assert dead_letter_access(cfg) == [
        Access("topic", "jobs-dead", PUBLISHER, AGENT),
        Access("subscription", "jobs", SUBSCRIBER, AGENT),
    ]
    assert resource_name("estate-dev", "jobs") == "estate-dev-jobs"


# ---------------------------------------------------------------- the dev and prod plans
def _ours(plan: Plan, type_: str) -> dict[str, dict[str, Any]]:
    """The PubSub component's resources of one type, by their Pub/Sub name or their Pulumi name."""
    found = [r for r in plan.by_type(type_) if "estate:pubsub:PubSub" in r["urn"]]
    return {r["inputs"]["name"] if type_ in (TOPIC, SUB) else r["name"]: r for r in found}


def test_topics_are_cmek_encrypted_after_the_grant_has_propagated(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    prefix = cfg.prefix
    (key,) = [k for k in plan.by_type(KEY) if k["inputs"]["name"] == f"{prefix}-pubsub"]
    ring = next(r for r in plan.by_type("gcp:kms/keyRing:KeyRing"))
    key_id = (
        f"projects/{cfg.project}/locations/{cfg.region}/keyRings/{ring['inputs']['name']}/cryptoKeys/{prefix}-pubsub"
    )
    wait = plan.one(SLEEP_TYPE, f"{prefix}-keys-pubsub-agent-propagation")
    grant = plan.one("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember", f"{prefix}-keys-pubsub-agent")
    assert grant["inputs"]["member"].endswith("@gcp-sa-pubsub.iam.gserviceaccount.com")
    assert grant["urn"] in wait["dependencies"] and key["urn"] in grant["dependencies"]
    topics = _ours(plan, TOPIC)
    assert set(topics) == {resource_name(prefix, t) for t in cfg.pubsub.topics}
    for key_name, spec in cfg.pubsub.topics.items():
        topic = topics[resource_name(prefix, key_name)]
        inputs = topic["inputs"]
        assert inputs["kmsKeyName"] == key_id and wait["urn"] in topic["dependencies"], key_name
        assert inputs["project"] == cfg.project
        assert inputs["messageStoragePolicy"] == {"allowedPersistenceRegions": [cfg.region]}
        assert inputs.get("messageRetentionDuration") == (
            api_duration(spec.message_retention) if spec.message_retention else None
        )
        assert inputs["labels"]["topic"] == key_name and inputs["labels"]["component"] == "pubsub"


def test_subscriptions_dead_letter_and_retry_as_configured(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    prefix = cfg.prefix
    subs = _ours(plan, SUB)
    assert set(subs) == {resource_name(prefix, s) for s in cfg.pubsub.subscriptions}
    dead_lettered = 0
    for key_name, spec in cfg.pubsub.subscriptions.items():
        inputs = subs[resource_name(prefix, key_name)]["inputs"]
        assert inputs["topic"] == f"projects/{cfg.project}/topics/{resource_name(prefix, spec.topic)}"
        assert inputs["ackDeadlineSeconds"] == spec.ack_deadline_seconds
        assert inputs["messageRetentionDuration"] == api_duration(spec.message_retention)
        assert inputs["retryPolicy"] == {
            "minimumBackoff": api_duration(spec.retry_policy.minimum_backoff),
            "maximumBackoff": api_duration(spec.retry_policy.maximum_backoff),
        }
        assert inputs["enableExactlyOnceDelivery"] is spec.exactly_once_delivery and "pushConfig" not in inputs
        assert inputs["expirationPolicy"] == {"ttl": ""}  # never expires
        if spec.dead_letter:
            dead_lettered += 1
            assert inputs["deadLetterPolicy"] == {
                "deadLetterTopic": f"projects/{cfg.project}/topics/{resource_name(prefix, spec.dead_letter.topic)}",
                "maxDeliveryAttempts": spec.dead_letter.max_delivery_attempts,
            }
        else:
            assert "deadLetterPolicy" not in inputs
    # The seed's three streams dead-letter; agent tasks and the audit export are delivered exactly once.
    assert dead_lettered == 3
    assert subs[f"{prefix}-agent-tasks"]["inputs"]["enableExactlyOnceDelivery"] is True


def test_iam_only_on_each_topic_and_subscription(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    prefix = cfg.prefix
    project_roles = {r["inputs"]["role"] for r in plan.by_type("gcp:projects/iAMMember:IAMMember")}
    assert not {r for r in project_roles if r.startswith("roles/pubsub.")}
    emails = plan.outputs["workloadServiceAccounts"]
    got = {(r["inputs"]["topic"], r["inputs"]["role"], r["inputs"]["member"]) for r in plan.by_type(TOPIC_IAM)}
    got |= {(r["inputs"]["subscription"], r["inputs"]["role"], r["inputs"]["member"]) for r in plan.by_type(SUB_IAM)}
    agent = next(
        r["inputs"]["member"]
        for r in plan.by_type("gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
        if r["name"] == f"{prefix}-keys-pubsub-agent"
    )
    expected = set()
    for workload, grant in cfg.pubsub.grants.items():
        member = f"serviceAccount:{emails[workload]}"
        expected |= {(resource_name(prefix, t), PUBLISHER, member) for t in grant.publish}
        expected |= {(resource_name(prefix, s), SUBSCRIBER, member) for s in grant.subscribe}
    # The service agent: publisher on each dead-letter topic, subscriber on each subscription that dead-letters.
    expected |= {(resource_name(prefix, t), PUBLISHER, agent) for t in cfg.pubsub.dead_letter_topics()}
    expected |= {
        (resource_name(prefix, s), SUBSCRIBER, agent)
        for s, spec in cfg.pubsub.subscriptions.items()
        if spec.dead_letter
    }
    assert got == expected
    assert (f"{prefix}-agent-tasks-dead-letter", PUBLISHER, agent) in got
    assert (f"{prefix}-agent-tasks", SUBSCRIBER, agent) in got
    assert (f"{prefix}-agent-tasks-dead-letter", SUBSCRIBER, agent) not in got  # it dead-letters nowhere
    for res in plan.by_type(TOPIC_IAM) + plan.by_type(SUB_IAM):
        assert res["inputs"]["project"] == cfg.project


def test_topics_and_subscriptions_are_protected_in_prod_only(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack).pubsub
    ours = [*_ours(plan, TOPIC).values(), *_ours(plan, SUB).values()]
    assert len(ours) == len(cfg.topics) + len(cfg.subscriptions) > 0
    assert {r["options"]["protect"] for r in ours} == {plan.stack == "prod"}


def test_operators_get_the_names(plan: Plan) -> None:
    cfg = stack_cfg(plan.stack)
    assert plan.outputs["pubsubTopics"] == {t: resource_name(cfg.prefix, t) for t in cfg.pubsub.topics}
    assert plan.outputs["pubsubSubscriptions"] == {s: resource_name(cfg.prefix, s) for s in cfg.pubsub.subscriptions}


# ---------------------------------------------------------------- the component alone: schemas and push
PROJECT, REGION = "ai-estate-test", "europe-west4"
WL_EMAIL = f"hooks@{PROJECT}.iam.gserviceaccount.com"


def _component_plan(prod: bool) -> Plan:
    config = PubSubConfig.model_validate(
        merge(
            _base(),
            {
                "schemas": {
                    "job-v1": {"type": "AVRO", "definition": '{"type": "record", "name": "Job", "fields": []}'}
                },
                "topics": {"jobs": {"schema": {"name": "job-v1"}}},
                "subscriptions": {
                    "jobs-dead": {"push": {"endpoint": "https://hooks.example.com/dead", "workload": "apps"}}
                },
            },
        )
    )

    def program() -> None:
        api = gcp.projects.Service("pubsub-api", service="pubsub.googleapis.com")
        PubSub(
            "t-pubsub",
            PubSubArgs(
                project=PROJECT,
                region=REGION,
                prefix="estate-test",
                config=config,
                kms_key_id=f"projects/{PROJECT}/locations/{REGION}/keyRings/r/cryptoKeys/estate-test-pubsub",
                key_grant=api,
                agent_member="serviceAccount:service-1@gcp-sa-pubsub.iam.gserviceaccount.com",
                workload_members={"apps": f"serviceAccount:{WL_EMAIL}"},
                workload_emails={"apps": WL_EMAIL},
                labels={"environment": "prod" if prod else "dev"},
                protect=prod,
                apis=[api],
            ),
        )

    plan = record(program, stack="test", config={"gcp:project": PROJECT, "gcp:region": REGION})
    assert plan.ok, plan.error
    return plan


@pytest.mark.parametrize("prod", [False, True])
def test_schemas_and_push_subscriptions(prod: bool) -> None:
    plan = _component_plan(prod)
    (schema,) = plan.by_type(SCHEMA)
    assert schema["inputs"]["name"] == "estate-test-job-v1" and schema["inputs"]["type"] == "AVRO"
    assert schema["options"]["protect"] is prod
    topic = plan.one(TOPIC, "t-pubsub-topic-jobs")
    assert topic["inputs"]["schemaSettings"] == {
        "schema": f"projects/{PROJECT}/schemas/estate-test-job-v1",
        "encoding": "JSON",
    }
    assert schema["urn"] in topic["dependencies"]
    push = plan.one(SUB, "t-pubsub-sub-jobs-dead")["inputs"]["pushConfig"]
    assert push == {"pushEndpoint": "https://hooks.example.com/dead", "oidcToken": {"serviceAccountEmail": WL_EMAIL}}
    assert "pushConfig" not in plan.one(SUB, "t-pubsub-sub-jobs")["inputs"]


def test_the_readme_example_adds_a_stream_and_its_grants() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    snippet = re.search(r"```yaml\n(.*?)```", readme.split("### Pub/Sub", 1)[1], re.S)
    assert snippet is not None
    added = yaml.safe_load(snippet[1])["config"]["ai-estate:pubsub"]
    for stack in ("dev", "prod"):
        cfg = load(stack, config_with(stack, pubsub=added))
        assert {"model-events", "agent-tasks"} <= set(cfg.pubsub.topics)  # merged over the defaults
        assert cfg.pubsub.grants["inference"].publish == ["model-events"]
