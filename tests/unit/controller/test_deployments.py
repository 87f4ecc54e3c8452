"""The Deployment Paddock renders for one workload in one pool."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from paddock.api import AgentWorkloadSpec
from paddock.controller.deployments import (
    PoolPlacement,
    WorkloadRef,
    deployment_name,
    render_deployment,
    replica_shape,
)
from paddock.controller.observed import pod_requests

REF = WorkloadRef(namespace="team-a", name="llama", uid="uid-1")
POOL = PoolPlacement(
    name="graviton4",
    node_selector={
        "matchLabels": {"karpenter.sh/nodepool": "graviton4"},
        "matchExpressions": [
            {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": ["c8g"]}
        ],
    },
    tolerations=(
        {
            "key": "kubernetes.io/arch",
            "operator": "Equal",
            "value": "arm64",
            "effect": "NoSchedule",
        },
    ),
)
TEMPLATE = {"spec": {"containers": [{"name": "server", "image": "llama:1"}]}}


def test_first_container_gets_whole_cores_as_requests_equal_limits() -> None:
    rendered = render_deployment(REF, TEMPLATE, POOL, replicas=3, cores=4, memory="12Gi")
    spec = rendered.manifest["spec"]
    container = spec["template"]["spec"]["containers"][0]
    assert spec["replicas"] == 3
    assert container["resources"] == {
        "requests": {"cpu": "4", "memory": "12Gi"},
        "limits": {"cpu": "4", "memory": "12Gi"},
    }
    assert {"name": "PADDOCK_CORES", "value": "4"} in container["env"]
    assert {"name": "OMP_NUM_THREADS", "value": "4"} in container["env"]
    assert rendered.overrides == []


def test_pool_affinity_always_includes_arm64_and_the_pool_selector() -> None:
    rendered = render_deployment(REF, TEMPLATE, POOL, replicas=1, cores=1, memory="1Gi")
    pod = rendered.manifest["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    expressions = terms["nodeSelectorTerms"][0]["matchExpressions"]
    assert expressions[0] == {"key": "kubernetes.io/arch", "operator": "In", "values": ["arm64"]}
    assert {
        "key": "karpenter.sh/nodepool",
        "operator": "In",
        "values": ["graviton4"],
    } in expressions
    assert pod["tolerations"] == [dict(POOL.tolerations[0])]


def test_labels_link_deployment_and_pods_back_and_owner_is_the_workload() -> None:
    manifest = render_deployment(REF, TEMPLATE, POOL, 1, 1, "1Gi").manifest
    wanted = {"paddock.dev/workload": "llama", "paddock.dev/pool": "graviton4"}
    assert wanted.items() <= manifest["metadata"]["labels"].items()
    assert manifest["spec"]["selector"]["matchLabels"] == wanted
    assert wanted.items() <= manifest["spec"]["template"]["metadata"]["labels"].items()
    (owner,) = manifest["metadata"]["ownerReferences"]
    assert owner["uid"] == "uid-1" and owner["controller"] is True


def test_user_values_paddock_owns_are_replaced_and_reported() -> None:
    template = {
        "spec": {
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "containers": [
                {"name": "a", "image": "x", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "sidecar", "image": "y"},
            ],
        }
    }
    rendered = render_deployment(REF, template, POOL, 1, 2, "1Gi")
    pod = rendered.manifest["spec"]["template"]["spec"]
    assert "nodeSelector" not in pod
    assert pod["containers"][0]["resources"]["limits"]["cpu"] == "2"
    assert "resources" not in pod["containers"][1]
    assert any("resources" in o for o in rendered.overrides)
    assert any("nodeSelector" in o for o in rendered.overrides)
    assert template["spec"]["nodeSelector"] == {"kubernetes.io/arch": "amd64"}, "input unchanged"


def test_spread_is_a_soft_constraint() -> None:
    pod = render_deployment(REF, TEMPLATE, POOL, 2, 1, "1Gi", spread="Zone").manifest["spec"][
        "template"
    ]["spec"]
    (constraint,) = pod["topologySpreadConstraints"]
    assert constraint["topologyKey"] == "topology.kubernetes.io/zone"
    assert constraint["whenUnsatisfiable"] == "ScheduleAnyway"


def test_long_names_are_shortened_stably_within_63_characters() -> None:
    name = deployment_name("a" * 60, "graviton4")
    assert len(name) <= 63
    assert name == deployment_name("a" * 60, "graviton4")
    assert name != deployment_name("a" * 60, "graviton3")


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
NAMES = st.from_regex(r"[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?", fullmatch=True)


def test_names_that_used_to_collide_do_not() -> None:
    # `a-b` in pool `c` and `a` in pool `b-c` both made `a-b-c`.
    assert deployment_name("a-b", "c") != deployment_name("a", "b-c")


@settings(max_examples=300, deadline=None)
@given(NAMES, NAMES, NAMES, NAMES)
def test_every_workload_and_pool_pair_gets_its_own_dns_label(
    w1: str, p1: str, w2: str, p2: str
) -> None:
    first, second = deployment_name(w1, p1), deployment_name(w2, p2)
    assert DNS_LABEL.match(first) and len(first) <= 63
    assert (first == second) == ((w1, p1) == (w2, p2))


def test_every_container_counts_in_a_replica_as_kube_scheduler_counts_it() -> None:
    spec = AgentWorkloadSpec.model_validate(
        {
            "replicas": 1,
            "coresPerReplica": 4,
            "memoryPerReplica": "1Gi",
            "template": {
                "spec": {
                    "containers": [
                        {"name": "agent", "image": "a", "resources": {"requests": {"cpu": "64"}}},
                        {"name": "logs", "image": "b", "resources": {"limits": {"cpu": "200m"}}},
                    ],
                    "initContainers": [
                        {
                            "name": "proxy",
                            "image": "c",
                            "restartPolicy": "Always",
                            "resources": {"requests": {"cpu": "300m", "memory": "64Mi"}},
                        },
                        {"name": "setup", "image": "d", "resources": {"requests": {"cpu": "6"}}},
                    ],
                    "overhead": {"cpu": "100m"},
                }
            },
        }
    )
    # The agent's own request is replaced by coresPerReplica (4); 4 + 0.2 + 0.3 = 4.5, but the
    # setup init container needs 6 + the sidecar started before it (0.3); + 0.1 overhead.
    cores, memory = replica_shape(spec)
    assert cores == 7  # ceil(6.4)
    assert memory == 2**30 + 64 * 2**20


def test_pod_requests_sum_sidecars_and_take_the_largest_init_phase() -> None:
    sidecar = {"name": "s", "restartPolicy": "Always", "resources": {"requests": {"cpu": "1"}}}
    init = {"name": "i", "resources": {"requests": {"cpu": "2"}}}
    main = {"name": "m", "resources": {"requests": {"cpu": "4"}}}
    assert pod_requests({"containers": [main], "initContainers": [sidecar, init]})[0] == 5000
    assert pod_requests({"containers": [main], "initContainers": [init, sidecar]})[0] == 5000
    big = {"name": "i", "resources": {"requests": {"cpu": "8"}}}
    assert pod_requests({"containers": [main], "initContainers": [sidecar, big]})[0] == 9000
