"""The offline runner behaves like the engine where the program could otherwise pass offline only."""

from __future__ import annotations

import pulumi

from tools.plan import record


def test_the_runner_refuses_a_second_registration_of_one_urn() -> None:
    def program() -> None:
        pulumi.ComponentResource("estate:test:Thing", "same")
        pulumi.ComponentResource("estate:test:Thing", "same")

    plan = record(program, stack="dev", config={"gcp:project": "any-project", "gcp:region": "europe-west1"})
    assert not plan.ok
    assert str(plan.error).startswith("Duplicate resource URN 'urn:pulumi:dev::ai-estate::")
    assert "estate:test:Thing::same'" in str(plan.error)


def test_the_same_name_under_another_type_is_another_urn() -> None:
    def program() -> None:
        pulumi.ComponentResource("estate:test:Thing", "same")
        pulumi.ComponentResource("estate:test:Other", "same")

    plan = record(program, stack="dev", config={"gcp:project": "any-project", "gcp:region": "europe-west1"})
    assert plan.ok, plan.error
