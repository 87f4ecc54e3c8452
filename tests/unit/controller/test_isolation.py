"""Rule 9: one workload's spec can never stop, slow or change the scheduling of another's.

A hypothesis property throws arbitrary JSON values at every spec and pod-template field of one
team's AgentWorkload, bypassing the schema (as an object written past an older CRD or a direct
etcd write would), and runs the operator's real path: SnapshotBuilder (parse, shape, render
check), the planner, and the applier (render, status, writes against a recording fake API).
No exception may escape, the bad workload gets a decision (`InvalidSpec` naming the field when
it cannot be used), and another team's workload gets exactly the decision and writes it gets
when the bad one does not exist.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from paddock.controller.cluster_state import ClusterState, SnapshotBuilder
from paddock.controller.observed import NodeFacts, ObjectFacts
from paddock.planner import Plan, Reason, plan
from tests.unit.controller.test_applier import FakeApi, make, settle

CREATED = "2026-01-01T00:00:00Z"
GOOD_SPEC: dict[str, Any] = {
    "budget": "team-good",
    "replicas": 2,
    "minReplicas": 1,
    "coresPerReplica": 4,
    "memoryPerReplica": "4Gi",
    "priority": 5,
    "placement": {"pools": ["g4"], "spread": "Zone"},
    "template": {
        "metadata": {"labels": {"app": "agent"}},
        "spec": {
            "containers": [
                {
                    "name": "agent",
                    "image": "registry.example/agent:1",
                    "env": [{"name": "MODE", "value": "fast"}],
                    "ports": [{"containerPort": 8080}],
                    "resources": {"requests": {"cpu": "1"}},
                }
            ],
            "initContainers": [{"name": "init", "image": "registry.example/init:1"}],
        },
    },
}
BAD_BASE = {**GOOD_SPEC, "budget": "team-bad", "placement": {"pools": ["g3"], "spread": "Zone"}}
"""The bad team has its own budget and pool (its budget allows only g3), so whatever valid value
it takes (7 replicas, priority 1000) it never contends with the good team for cores: any
change to the good team's decision is a leak."""
PATHS: list[tuple[Any, ...]] = [
    (),
    ("budget",),
    ("replicas",),
    ("minReplicas",),
    ("coresPerReplica",),
    ("memoryPerReplica",),
    ("priority",),
    ("podDisruptionBudget",),
    ("placement",),
    ("placement", "pools"),
    ("placement", "spread"),
    ("template",),
    ("template", "metadata"),
    ("template", "metadata", "labels"),
    ("template", "spec"),
    ("template", "spec", "containers"),
    ("template", "spec", "containers", 0),
    ("template", "spec", "containers", 0, "name"),
    ("template", "spec", "containers", 0, "image"),
    ("template", "spec", "containers", 0, "env"),
    ("template", "spec", "containers", 0, "env", 0),
    ("template", "spec", "containers", 0, "ports"),
    ("template", "spec", "containers", 0, "resources"),
    ("template", "spec", "containers", 0, "resources", "requests"),
    ("template", "spec", "initContainers"),
    ("template", "spec", "initContainers", 0, "resources"),
    ("template", "spec", "overhead"),
    ("template", "spec", "affinity"),
    ("template", "spec", "tolerations"),
    ("template", "spec", "nodeSelector"),
    ("template", "spec", "topologySpreadConstraints"),
    ("template", "spec", "volumes"),
]
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def set_path(spec: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """The spec with the value at `path` replaced (the whole spec, when `path` is empty and the
    value is an object)."""
    if not path:
        return value if isinstance(value, dict) else {"replicas": value}
    out = copy.deepcopy(spec)
    target: Any = out
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return out


def workload(namespace: str, name: str, spec: dict[str, Any]) -> ObjectFacts:
    return ObjectFacts(namespace, name, f"uid-{namespace}-{name}", 1, CREATED, spec, {})


def builder(bad: dict[str, Any] | None) -> SnapshotBuilder:
    made = SnapshotBuilder()
    for i in range(8):
        made.nodes_and_pods.nodes.put(
            f"n{i}",
            NodeFacts(
                labels={
                    "kubernetes.io/arch": "arm64",
                    "karpenter.sh/nodepool": "g4" if i < 4 else "g3",
                    "topology.kubernetes.io/zone": f"z{i % 2}",
                },
                allocatable_millicores=16000,
                allocatable_memory=64 * 2**30,
                schedulable=True,
            ),
        )
    for name in ("g4", "g3"):
        pool = {"nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": name}}}
        made.pools.put(name, ObjectFacts(None, name, f"uid-{name}", 1, CREATED, pool, {}))
    for team, pools in (("good", ["g4"]), ("bad", ["g3"])):
        budget = {
            "namespaceSelector": {"matchLabels": {"team": team}},
            "cores": 32,
            "pools": pools,
        }
        made.budgets.put(
            f"team-{team}", ObjectFacts(None, f"team-{team}", f"uid-{team}", 1, CREATED, budget, {})
        )
    made.namespaces = {"good": [{"team": "good"}], "bad": [{"team": "bad"}]}
    made.workloads.put("good/agent", workload("good", "agent", GOOD_SPEC))
    if bad is not None:
        made.workloads.put("bad/agent", workload("bad", "agent", bad))
    return made


def run_cycle(made: SnapshotBuilder) -> tuple[ClusterState, Plan, FakeApi]:
    state = made.build()
    decided = plan(state.snapshot)
    api = FakeApi()

    async def apply() -> None:
        applier = make(api)
        await applier.apply(state, decided)
        await settle(applier)
        applier.close()

    asyncio.run(apply())
    return state, decided, api


BASELINE = run_cycle(builder(None))


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.sampled_from(PATHS), JSON)
def test_no_value_in_any_field_escapes_one_workload(path: tuple[Any, ...], value: Any) -> None:
    bad = set_path(BAD_BASE, path, value) if _reachable(path) else BAD_BASE
    state, decided, api = run_cycle(builder(bad))  # never raises: that is the property
    mine = decided.workloads["bad/agent"]
    if mine.reason is Reason.INVALID_SPEC:
        assert mine.message.startswith("spec"), mine.message
        assert state.snapshot.workloads  # still planned: what it runs stays counted
    # The other team's decision and writes are exactly as if the bad workload did not exist.
    _, alone, alone_api = BASELINE
    assert decided.workloads["good/agent"] == alone.workloads["good/agent"]
    assert [c.body for c in api.of("deployment", "good/agent")] == [
        c.body for c in alone_api.of("deployment", "good/agent")
    ]


def _reachable(path: tuple[Any, ...]) -> bool:
    """Whether every step of `path` but the last exists in GOOD_SPEC."""
    target: Any = GOOD_SPEC
    for part in path[:-1]:
        try:
            target = target[part]
        except (KeyError, IndexError, TypeError):
            return False
    return True


def test_the_reported_poison_object_is_invalid_with_its_field_and_harms_nobody() -> None:
    poison = set_path(BAD_BASE, ("template", "spec", "containers", 0, "env"), 5)
    _, decided, api = run_cycle(builder(poison))
    mine = decided.workloads["bad/agent"]
    assert mine.reason is Reason.INVALID_SPEC
    assert "containers" in mine.message and "env" in mine.message, mine.message
    (status,) = api.of("status", "bad/agent")
    assert status.body["phase"] == "Invalid"
    assert any(e.body["reason"] == "InvalidSpec" for e in api.of("event", "bad/agent"))
    assert api.of("deployment", "bad/agent") == []
    assert decided.workloads["good/agent"].reason is Reason.ADMITTED
    assert len(api.of("deployment", "good/agent")) == 1
