"""The models: quantity parsing, defaults, wire names, helpers, and the examples."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from paddock import API_VERSION
from paddock.api import (
    AgentWorkload,
    AgentWorkloadSpec,
    AgentWorkloadStatus,
    Assignment,
    CoreBudget,
    CoreBudgetStatus,
    CorePool,
    LabelSelector,
    Toleration,
    describe_errors,
    parse_cpu_millicores,
    parse_memory_bytes,
    parse_object,
    parse_quantity,
    pools_summary,
)
from paddock.api.common import MEMORY_QUANTITY_PATTERN, format_location
from tests.unit.api.bad_objects import agent, budget, pool

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

# --------------------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1Gi", 1024**3),
        ("1.5Gi", 3 * 512 * 1024**2),
        ("512Mi", 512 * 1024**2),
        ("8G", 8 * 10**9),
        ("1k", 1000),
        ("1Ki", 1024),
        ("1073741824", 1073741824),
        ("1e3", 1000),
        ("1.5", 2),  # rounded up, as Kubernetes does
        ("100m", 1),
        ("0", 0),
        (" 2Mi ", 2 * 1024**2),
    ],
)
def test_parse_memory_bytes(text: str, expected: int) -> None:
    assert parse_memory_bytes(text) == expected


@pytest.mark.parametrize("text", ["", "Gi", "2 GB", "1.2.3", "1Gb", "one", "1e", "1e1.5", "--1"])
def test_parse_memory_bytes_rejects_non_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_memory_bytes(text)


def test_parse_memory_bytes_rejects_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_memory_bytes("-1Gi")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500m", 500),
        ("2", 2000),
        (2, 2000),
        (1.5, 1500),
        ("1.5", 1500),
        ("0.1", 100),
        ("1.0001", 1001),  # rounded up
        ("1u", 1),
        ("250000u", 250),
        ("2k", 2_000_000),
        (0, 0),
    ],
)
def test_parse_cpu_millicores(value: str | int | float, expected: int) -> None:
    assert parse_cpu_millicores(value) == expected


@pytest.mark.parametrize("value", [True, -1, "-500m", "two", float("nan"), float("inf")])
def test_parse_cpu_millicores_rejects(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_cpu_millicores(value)


SUFFIXES = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


@given(st.integers(min_value=0, max_value=10**6), st.sampled_from(sorted(SUFFIXES)))
def test_memory_suffixes_multiply(number: int, suffix: str) -> None:
    assert parse_memory_bytes(f"{number}{suffix}") == number * SUFFIXES[suffix]


@given(st.integers(min_value=0, max_value=10**9))
def test_millicores_round_trip(millicores: int) -> None:
    assert parse_cpu_millicores(f"{millicores}m") == millicores
    assert parse_quantity(f"{millicores}m") == Decimal(millicores) / 1000


@given(st.from_regex(MEMORY_QUANTITY_PATTERN, fullmatch=True))
def test_every_valid_memory_field_parses_to_a_positive_size(text: str) -> None:
    # What the schema pattern lets through, the operator can always turn into bytes.
    assert parse_memory_bytes(text) >= 1


# --------------------------------------------------------------------------- models


def test_api_version_literal_is_the_package_constant() -> None:
    for model in (CorePool, CoreBudget, AgentWorkload):
        assert model.model_fields["api_version"].default == API_VERSION


def test_defaults() -> None:
    spec = parse_object(
        {
            "apiVersion": API_VERSION,
            "kind": "AgentWorkload",
            "metadata": {"name": "a"},
            "spec": {
                "replicas": 3,
                "coresPerReplica": 2,
                "memoryPerReplica": "4Gi",
                "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
            },
        }
    ).spec
    assert isinstance(spec, AgentWorkloadSpec)
    assert spec.priority == 0
    assert spec.placement.spread == "None"
    assert spec.placement.pools is None
    assert spec.min_replicas is None
    assert spec.effective_min_replicas == 3
    assert spec.requested_cores == 6
    assert spec.memory_bytes_per_replica == 4 * 2**30

    budget_spec = CoreBudget.model_validate(
        {"kind": "CoreBudget", "spec": {"namespaceSelector": {}, "cores": 4}}
    ).spec
    assert budget_spec.queueing == "BestEffortFIFO"
    assert budget_spec.preemption.within_budget == "Never"
    assert budget_spec.preemption.reclaim_from_cohort == "Never"

    pool_spec = CorePool.model_validate({"kind": "CorePool", "spec": {"nodeSelector": {}}}).spec
    assert (pool_spec.reserved_cores_per_node, pool_spec.weight, pool_spec.max_cores) == (
        0,
        0,
        None,
    )


def test_snake_case_in_python_camel_case_on_the_wire() -> None:
    workload = AgentWorkload.model_validate(agent())
    assert workload.spec.cores_per_replica == 4
    wire = workload.to_wire()
    assert wire["apiVersion"] == API_VERSION
    assert wire["spec"]["coresPerReplica"] == 4
    assert "cores_per_replica" not in wire["spec"]
    assert AgentWorkload.model_validate(wire) == workload
    by_name = AgentWorkloadSpec(
        replicas=1,
        cores_per_replica=1,
        memory_per_replica="1Gi",
        template={"spec": {"containers": [{"name": "c", "image": "i"}]}},
    )
    assert by_name.to_wire()["memoryPerReplica"] == "1Gi"


def test_pod_template_keeps_every_kubernetes_field_as_the_api_server_stores_it() -> None:
    manifest = agent()
    manifest["spec"]["template"]["spec"]["volumes"] = [{"name": "v", "emptyDir": {}}]
    manifest["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    manifest["spec"]["template"]["spec"]["containers"][0]["workingDir"] = None
    wire = AgentWorkload.model_validate(manifest).to_wire()
    container = wire["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]  # list-map key default
    assert "workingDir" not in container  # nulls are pruned
    assert wire["spec"]["template"]["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]
    # The renderer's input: plain, JSON-ready data.
    dumped = AgentWorkload.model_validate(manifest).spec.template.model_dump(
        by_alias=True, exclude_none=True
    )
    assert dumped["spec"]["containers"][0]["ports"][0]["protocol"] == "TCP"
    assert dumped["metadata"] == {"labels": {"app": "agent"}}


def test_whole_floats_are_integers() -> None:
    manifest = agent()
    manifest["spec"]["replicas"] = 4.0
    workload = AgentWorkload.model_validate(manifest)
    assert workload.spec.replicas == 4 and isinstance(workload.spec.replicas, int)


def test_booleans_are_not_integers() -> None:
    manifest = agent()
    manifest["spec"]["replicas"] = True
    with pytest.raises(ValidationError) as caught:
        AgentWorkload.model_validate(manifest)
    assert describe_errors(caught.value) == [
        "spec.replicas: Input should be an integer, not a boolean"
    ]


def test_rule_errors_are_reported_at_the_field_path() -> None:
    manifest = agent()
    manifest["spec"]["minReplicas"] = 9
    with pytest.raises(ValidationError) as caught:
        AgentWorkload.model_validate(manifest)
    assert describe_errors(caught.value) == [
        "spec.minReplicas: spec.minReplicas (9) must be <= spec.replicas (3): "
        "lower minReplicas or raise replicas"
    ]


def test_parse_object_rejects_foreign_kinds() -> None:
    with pytest.raises(ValueError, match="not a Paddock kind"):
        parse_object({"kind": "Deployment"})


def test_parse_object_dispatches_by_kind() -> None:
    assert isinstance(parse_object(pool()), CorePool)
    assert isinstance(parse_object(budget()), CoreBudget)
    assert isinstance(parse_object(agent()), AgentWorkload)


def test_status_reads_leniently_and_writes_camel_case() -> None:
    status = AgentWorkloadStatus.model_validate(
        {
            "phase": "Running",
            "admittedReplicas": 4,
            "assignments": [
                {"pool": "graviton4", "replicas": 3},
                {"pool": "graviton3", "replicas": 1},
            ],
            "conditions": [
                {"type": "Admitted", "status": "True", "lastTransitionTime": "2026-01-02T03:04:05Z"}
            ],
            "addedInAFutureVersion": 1,
        }
    )
    assert status.assignments is not None
    assert pools_summary(status.assignments) == "graviton4:3,graviton3:1"
    wire = status.to_wire()
    assert wire["admittedReplicas"] == 4
    assert wire["conditions"][0]["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert "addedInAFutureVersion" not in wire


def test_status_rejects_duplicate_map_keys() -> None:
    with pytest.raises(ValidationError, match="duplicate type 'Active'"):
        CoreBudgetStatus.model_validate({"conditions": [{"type": "Active", "status": "True"}] * 2})
    with pytest.raises(ValidationError, match="duplicate pool"):
        AgentWorkloadStatus.model_validate(
            {"assignments": [Assignment(pool="g4", replicas=1).to_wire()] * 2}
        )


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "a"}, True),
        ({"matchLabels": {"team": "a"}}, {"team": "b"}, False),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}]},
         {"team": "b"}, True),
        ({"matchExpressions": [{"key": "team", "operator": "In", "values": ["a"]}]}, {}, False),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]}, {}, True),
        ({"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["a"]}]},
         {"team": "a"}, False),
        ({"matchExpressions": [{"key": "team", "operator": "Exists"}]}, {"team": ""}, True),
        ({"matchExpressions": [{"key": "team", "operator": "DoesNotExist"}]}, {"team": "a"}, False),
    ],
)  # fmt: skip
def test_label_selector_matches(
    selector: dict[str, Any], labels: dict[str, str], expected: bool
) -> None:
    assert LabelSelector.model_validate(selector).matches(labels) is expected


def test_format_location() -> None:
    assert format_location(("spec", "tolerations", 0, "key")) == "spec.tolerations[0].key"
    assert format_location(()) == ""


# --------------------------------------------------------------------------- examples


def _examples() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def test_examples_are_valid() -> None:
    kinds = [doc["kind"] for doc in _examples()]
    assert kinds.count("CorePool") == 3
    assert kinds.count("CoreBudget") == 2
    assert kinds.count("AgentWorkload") >= 3
    for document in _examples():
        if document["apiVersion"] == API_VERSION:
            parse_object(document)


def test_examples_hang_together() -> None:
    documents = _examples()
    namespaces = {
        d["metadata"]["name"]: d["metadata"].get("labels", {})
        for d in documents
        if d["kind"] == "Namespace"
    }
    pools = {
        d["metadata"]["name"]: CorePool.model_validate(d)
        for d in documents
        if d["kind"] == "CorePool"
    }
    budgets = {
        d["metadata"]["name"]: CoreBudget.model_validate(d)
        for d in documents
        if d["kind"] == "CoreBudget"
    }
    workloads = [AgentWorkload.model_validate(d) for d in documents if d["kind"] == "AgentWorkload"]
    assert {"graviton2", "graviton3", "graviton4"} == set(pools)
    cohorts = {b.spec.cohort for b in budgets.values()}
    assert len(cohorts) == 1 and None not in cohorts, "the two budgets share one cohort"
    used: dict[str, int] = dict.fromkeys(budgets, 0)
    for workload in workloads:
        namespace = workload.metadata.namespace
        assert namespace in namespaces, f"{workload.metadata.name}: namespace not in examples"
        selecting = [
            name
            for name, b in budgets.items()
            if b.spec.namespace_selector.matches(namespaces[namespace])
        ]
        if workload.spec.budget is None:
            assert len(selecting) == 1, workload.metadata.name
            chosen = selecting[0]
        else:
            chosen = workload.spec.budget
            assert chosen in selecting, workload.metadata.name
        allowed = budgets[chosen].spec.pools or list(pools)
        for pool_name in workload.spec.placement.pools or []:
            assert pool_name in allowed, (workload.metadata.name, pool_name)
        used[chosen] += workload.spec.requested_cores
    for name, cores in used.items():
        assert cores <= budgets[name].spec.cores, f"the examples overrun budget {name}"


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        ({"operator": "Exists"}, ("any", "x", "NoSchedule"), True),
        ({"key": "k", "operator": "Exists"}, ("k", "x", "NoExecute"), True),
        ({"key": "k", "value": "v"}, ("k", "v", "NoSchedule"), True),
        ({"key": "k", "value": "v"}, ("k", "w", "NoSchedule"), False),
        ({"key": "k", "value": "v", "effect": "NoExecute"}, ("k", "v", "NoSchedule"), False),
        ({"key": "other", "operator": "Exists"}, ("k", "", "NoSchedule"), False),
    ],
)
def test_toleration_matches_taints_as_kube_scheduler_does(
    toleration: dict[str, Any], taint: tuple[str, str, str], tolerated: bool
) -> None:
    assert Toleration.model_validate(toleration).tolerates(*taint) is tolerated
