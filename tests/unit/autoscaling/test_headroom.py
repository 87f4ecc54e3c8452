"""Potential capacity of an autoscaled pool: node by node, within limits.cpu and maxCores."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from paddock.autoscaling.headroom import headroom
from paddock.autoscaling.instance_types import CATALOGUE, kwok_instance_types
from paddock.autoscaling.nodepool import (
    NodeClaimFacts,
    allowed_instance_types,
    node_claim_facts,
    node_pool_facts,
)


def nodepool(limit: str | None = "64", used: str = "0", **template: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {
            "metadata": {"labels": template.pop("labels", {})},
            "spec": {
                "requirements": template.pop(
                    "requirements",
                    [
                        {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]},
                        {
                            "key": "karpenter.k8s.aws/instance-family",
                            "operator": "In",
                            "values": ["c7g"],
                        },
                    ],
                ),
                "taints": template.pop("taints", []),
            },
        }
    }
    if limit is not None:
        spec["limits"] = {"cpu": limit}
    return {"metadata": {"name": "np"}, "spec": spec, "status": {"resources": {"cpu": used}}}


def room(body: dict[str, Any], claims: Iterable[NodeClaimFacts] = (), **kw: Any) -> Any:
    args: dict[str, Any] = {
        "pool_name": "auto",
        "node_pool_name": "np",
        "node_pool": node_pool_facts(body),
        "claims": tuple(claims),
        "reserved_cores_per_node": 0,
        "max_cores": None,
        "existing_cores": 0,
        "usable_nodes": (),
        "tolerates": lambda taints: not list(taints),
        "selects": lambda labels: labels.get("karpenter.sh/nodepool") == "np",
    }
    args.update(kw)
    return headroom(**args)


def test_an_empty_node_pool_offers_its_limit_in_the_largest_allowed_nodes() -> None:
    r = room(nodepool("64"))
    assert [n.instance_type for n in r.nodes] == ["c7g.16xlarge"]
    assert r.potential_cores == 63  # the kubelet keeps one core of every node
    assert (r.limit_cores, r.used_cores, r.headroom_cores, r.problem) == (64, 0, 64, "")


def test_headroom_is_the_limit_minus_what_exists_and_is_launching() -> None:
    r = room(nodepool("64", used="48"))
    assert r.headroom_cores == 16
    assert [n.instance_type for n in r.nodes] == ["c7g.4xlarge"]
    claim = NodeClaimFacts("np", 16000, 15900, 30 << 30, False, False)
    r = room(nodepool("64", used="48"), [claim] * 4)  # claims say 64, status lags at 48
    assert r.headroom_cores == 0
    assert [n.launching for n in r.nodes] == [True] * 4  # launches in flight stay offered


def test_max_cores_caps_the_headroom() -> None:
    r = room(nodepool("1000"), max_cores=40, existing_cores=8)
    assert r.headroom_cores == 32
    assert sum(n.cores + 1 for n in r.nodes) <= 32


def test_no_limit_is_never_an_unbounded_launch() -> None:
    assert 0 < room(nodepool(None)).headroom_cores <= 1024


def test_an_untolerated_taint_or_unselected_nodes_offer_nothing() -> None:
    taint = [{"key": "team", "value": "a", "effect": "NoSchedule"}]
    assert "tolerat" in room(nodepool(taints=taint)).problem
    r = room(nodepool(), selects=lambda labels: False)
    assert r.nodes == () and "nodeSelector" in r.problem


def test_a_missing_node_pool_says_so() -> None:
    r = room(nodepool(), node_pool=None)
    assert r.problem == "NodePool np not found" and r.nodes == ()


def test_requirements_filter_families_sizes_and_arch() -> None:
    reqs = [
        ("karpenter.k8s.aws/instance-family", "In", ("c8g", "m8g")),
        ("karpenter.k8s.aws/instance-size", "NotIn", ("48xlarge", "24xlarge")),
        ("karpenter.k8s.aws/instance-cpu", "Gt", ("8",)),
    ]
    names = {t.name for t in allowed_instance_types(reqs)}
    assert "c8g.16xlarge" in names and "m8g.4xlarge" in names
    assert not names & {"c8g.48xlarge", "c8g.2xlarge", "c7g.4xlarge", "r8g.4xlarge"}
    assert allowed_instance_types([("kubernetes.io/arch", "In", ("amd64",))]) == []


def test_claims_parse_capacity_and_initialization() -> None:
    claim = node_claim_facts(
        {
            "metadata": {"name": "c", "labels": {"karpenter.sh/nodepool": "np"}},
            "status": {
                "capacity": {"cpu": "48", "memory": "96Gi"},
                "allocatable": {"cpu": "47900m", "memory": "95Gi"},
                "conditions": [{"type": "Initialized", "status": "True"}],
                "nodeName": "n1",
            },
        }
    )
    assert (claim.cpu_millicores, claim.allocatable_millicores, claim.initialized) == (
        48000,
        47900,
        True,
    )


def test_the_local_clouds_instance_types_come_from_the_catalogue() -> None:
    kwok = kwok_instance_types()
    assert {t["name"] for t in kwok} <= set(CATALOGUE)
    c7g = next(t for t in kwok if t["name"] == "c7g.16xlarge")
    assert c7g["architecture"] == "arm64" and c7g["resources"]["cpu"] == "64"


def test_a_claim_counts_its_instance_types_vcpus_not_only_its_reported_capacity() -> None:
    # Karpenter's kwok provider reports the pods' requests (32) as a c7g.12xlarge's capacity,
    # and status.resources lags: the instance's 48 vCPUs are what the limit really loses.
    claim = node_claim_facts(
        {
            "metadata": {
                "name": "c",
                "labels": {
                    "karpenter.sh/nodepool": "np",
                    "node.kubernetes.io/instance-type": "c7g.12xlarge",
                },
            },
            "status": {"capacity": {"cpu": "32"}, "allocatable": {"cpu": "47900m"}},
        }
    )
    r = room(nodepool("64", used="32"), [claim])
    assert (r.used_cores, r.headroom_cores) == (48, 16)


def test_a_claim_not_launched_yet_counts_the_smallest_type_that_holds_its_pods() -> None:
    # Seen in bench/karpenter.py: 12 fresh claims reporting 12 cores each left room for a 13th
    # 16-vCPU node under a 192 limit. A c7g type with 12 usable cores has 16 vCPUs.
    fresh = NodeClaimFacts("np", 12000, 12000, 0, False, False)
    r = room(nodepool("192"), [fresh] * 12)
    assert (r.used_cores, r.headroom_cores) == (192, 0)


def test_a_claim_whose_node_is_already_schedulable_is_not_counted_twice() -> None:
    # Karpenter untaints the node a moment before it records status.nodeName on the claim: the
    # providerID already matches, so the launch is not offered again beside the real node.
    claim = NodeClaimFacts("np", 16000, 15900, 0, False, False, "", "c7g.4xlarge", "kwok://n1")
    assert (
        room(nodepool("64"), [claim], usable_nodes={"n1", "kwok://n1"}).nodes[0].launching is False
    )
    assert room(nodepool("64"), [claim]).nodes[0].launching is True


def test_a_claim_without_allocatable_offers_its_requests_not_a_thousand_times_more() -> None:
    # Seen in bench/karpenter.py: a fresh claim (no status yet) offered 12,000 cores.
    claim = node_claim_facts(
        {
            "metadata": {"name": "c", "labels": {"karpenter.sh/nodepool": "np"}},
            "spec": {"resources": {"requests": {"cpu": "12", "memory": "1Gi"}}},
        }
    )
    assert (claim.cpu_millicores, claim.allocatable_millicores) == (12000, 12000)
