"""What the operator keeps per AgentWorkload is smaller (issue #15), and reads the same.

bench/memory.py measures the sizes; these tests hold the behaviour: a packed spec reads as the
spec it was, an interned status equals the one listed, parsed specs dump as before while sharing
their sets of given fields, the spec cache keeps the newest facts, and a Deployment rendered
again for a write (the cache keeps only its hash) is exactly what a first rendering writes.
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

from paddock.api import AgentWorkloadSpec
from paddock.controller.cluster_state import SpecCache
from paddock.controller.observed import PackedMapping, object_facts, object_key, unpacked
from tests.unit.controller.test_applier import (
    NS,
    FakeApi,
    admitted,
    make,
    plan,
    settle,
    state,
    workload,
)

SPEC = {
    "budget": "team",
    "replicas": 2,
    "coresPerReplica": 4,
    "memoryPerReplica": "1Gi",
    "placement": {"pools": ["g4"], "spread": "Zone"},
    "template": {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {"containers": [{"name": "main", "image": "agent:1", "args": ["--port=80"]}]},
    },
}
STATUS = {
    "phase": "Running",
    "budget": "team",
    "admittedReplicas": 2,
    "assignments": [{"pool": "g4", "replicas": 2}],
    "conditions": [
        {"type": "Admitted", "status": "True", "reason": "Admitted", "message": "admitted 2"},
    ],
}


def body(name: str, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    """An AgentWorkload as a watch decodes it: nothing shared with any other body."""
    return json.loads(
        json.dumps(
            {
                "metadata": {
                    "name": name,
                    "namespace": NS,
                    "uid": f"uid-{name}",
                    "generation": 1,
                    "creationTimestamp": "2026-12-01T00:00:00Z",
                },
                "spec": spec or SPEC,
                "status": STATUS,
            }
        )
    )


def test_a_kept_spec_reads_as_the_spec_it_was() -> None:
    facts = object_facts(body("a"))
    assert isinstance(facts.spec, PackedMapping)
    assert facts.spec == SPEC
    assert dict(SPEC) == facts.spec  # the reflected comparison
    assert unpacked(facts.spec) == SPEC
    assert facts.spec.get("budget") == "team" and facts.spec.get("missing") is None
    assert sorted(facts.spec) == sorted(SPEC) and len(facts.spec) == len(SPEC)
    assert facts.spec != {**SPEC, "replicas": 3}
    # Each read is a fresh copy: changing one never changes what is kept.
    unpacked(facts.spec)["replicas"] = 9
    assert facts.spec["replicas"] == 2
    assert unpacked({"a": 1}) == {"a": 1}  # a plain mapping (tests, the plugin) reads as is


def test_kept_statuses_equal_the_listed_ones_and_share_their_strings() -> None:
    one, two = object_facts(body("a")), object_facts(body("b"))
    assert one.status == STATUS and two.status == STATUS
    key_one = next(k for k in one.status if k == "conditions")
    key_two = next(k for k in two.status if k == "conditions")
    assert key_one is key_two
    assert one.status["conditions"][0]["reason"] is two.status["conditions"][0]["reason"]
    assert object_key(body("a")) == f"{NS}/a"
    assert object_key(body("a")) is object_key(body("a"))


def test_parsed_specs_share_their_sets_of_given_fields_and_dump_as_before() -> None:
    cache = SpecCache()
    one = cache.parse(AgentWorkloadSpec, object_facts(body("a")))
    two = cache.parse(AgentWorkloadSpec, object_facts(body("b")))
    alone = AgentWorkloadSpec.model_validate(copy.deepcopy(SPEC))
    assert one.spec is not None and two.spec is not None
    assert one.spec.__pydantic_fields_set__ is two.spec.__pydantic_fields_set__
    assert one.spec.model_fields_set == alone.model_fields_set
    assert one.spec.placement.model_fields_set == alone.placement.model_fields_set
    for exclude_unset in (False, True):
        assert one.spec.model_dump(by_alias=True, exclude_unset=exclude_unset) == (
            alone.model_dump(by_alias=True, exclude_unset=exclude_unset)
        )
    assert one.spec == alone


def test_the_spec_cache_keeps_the_newest_facts_of_a_generation() -> None:
    cache = SpecCache()
    first = object_facts(body("a"))
    parsed = cache.parse(AgentWorkloadSpec, first)
    newer = first._replace(status={"phase": "Admitted"})
    again = cache.parse(AgentWorkloadSpec, newer)
    assert again.facts is newer and again.spec is parsed.spec
    assert all(entry.facts is not first for entry in cache.entries.values())


def test_a_deployment_rendered_again_for_a_write_is_the_one_a_first_rendering_writes() -> None:
    """The cache keeps the spec hash, not the manifest: a resize renders it again."""

    async def written(cycles: list[int]) -> list[dict[str, Any]]:
        api = FakeApi()
        applier = make(api)
        w = workload("agent")
        for replicas in cycles:
            await applier.apply(state([w]), plan(admitted("agent", replicas)))
            await settle(applier)
        return [c.body for c in api.of("deployment", f"{NS}/agent")]

    async def scenario() -> None:
        resized = await written([2, 3])
        first = await written([3])
        assert [b["spec"]["replicas"] for b in resized] == [2, 3]
        assert resized[-1] == first[-1]

    asyncio.run(scenario())
