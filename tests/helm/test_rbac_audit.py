"""Least privilege, measured: the chart's RBAC against what the operator really calls.

The real `paddock run` runs under only a token of the chart's ServiceAccount
(sa_operator.py) through every path that talks to the API server:

- start-up: kopf lists and watches namespaces; Paddock list-watches nodes, pods,
  Deployments, CorePools, CoreBudgets and AgentWorkloads; it creates the Lease;
- admission: a Deployment and a PodDisruptionBudget created, AgentWorkload,
  CorePool and CoreBudget status patched;
- resize: the Deployment and the PodDisruptionBudget applied again (server-side
  apply), a `Resized` Event;
- preemption by a higher-priority workload: the preempted workload's Deployment
  and PodDisruptionBudget deleted by Paddock, `Preempted` and `Queued` Events;
- deletion of a workload (its objects go by garbage collection) and the
  re-admission of the preempted one (`Admitted` Event);
- a Deployment name and a PodDisruptionBudget name already taken by objects the
  workload does not own: the create fails, Paddock reads who owns the object,
  leaves it alone and makes the workload Invalid (status and a Warning Event);
- a malformed template (rejected by the API server's schema today; were it stored,
  the operator would report it through the same status and Event calls);
- /metrics read by a ServiceAccount bound to the metrics-reader role
  (TokenReview and SubjectAccessReview);
- Lease renewals while it leads, and the Lease's release on SIGTERM.

Then every (verb, apiGroup, resource[/subresource]) the ServiceAccount used is
read from the API server's audit log (hack/cluster.sh turns it on) and compared
with the rules the rendered chart binds to that ServiceAccount: every call must be
granted and answered without 403, and every grant must be used.
One grant is authorized inside a request rather than requested on its own, so the audit
log cannot show it as a call; IMPLIED names it with the call that exercises it, the
test checks that call happened, and test_each_implied_grant_is_needed shows the
API server refuses that call without the grant.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from paddock.controller.deployments import deployment_name
from paddock.controller.status import unwritten
from tests.helm.chart import CHART, INSTALL_VALUES, Helm, parse
from tests.helm.sa_operator import (
    ARM64_TOLERATION,
    SCRAPER,
    Ground,
    Operator,
    install_ground,
    run_operator,
)
from tests.support.cluster import Cluster
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Call:
    """One request of the ServiceAccount, from one audit event."""

    verb: str
    api_group: str
    resource: str
    """`deployments`, or `agentworkloads/status` for a subresource."""
    namespace: str | None
    name: str | None
    code: int
    decision: str | None

    def __str__(self) -> str:
        where = f" {self.namespace}/" if self.namespace else " "
        return f"{self.verb} {self.api_group or 'core'}/{self.resource}{where}{self.name or ''}"


@dataclass(frozen=True)
class Grant:
    """One (verb, apiGroup, resource) of one rule, with the rule's scope."""

    verb: str
    api_group: str
    resource: str
    namespace: str | None
    """A Role's namespace; None for a ClusterRole."""
    names: tuple[str, ...]
    """resourceNames; empty: any name."""

    def allows(self, call: Call) -> bool:
        return (
            (self.verb, self.api_group, self.resource) == (call.verb, call.api_group, call.resource)
            and (self.namespace is None or self.namespace == call.namespace)
            and (not self.names or call.name in self.names)
        )

    def __str__(self) -> str:
        scope = f" in namespace {self.namespace}" if self.namespace else ""
        names = f" named {list(self.names)}" if self.names else ""
        return f"{self.verb} {self.api_group or 'core'}/{self.resource}{names}{scope}"


def _created_owned_object(call: Call) -> bool:
    """A Deployment or PodDisruptionBudget created (by POST, or by an apply answered 201)."""
    return (
        call.resource in ("deployments", "poddisruptionbudgets")
        and call.verb in ("create", "patch")
        and call.code == 201
    )


IMPLIED: dict[tuple[str, str, str], tuple[str, Callable[[Call], bool]]] = {
    ("update", "paddock.dev", "agentworkloads/finalizers"): (
        "the Deployments' and PodDisruptionBudgets' ownerReference sets "
        "blockOwnerDeletion; the OwnerReferencesPermissionEnforcement admission plugin "
        "(on in hack/cluster.sh, and in many hardened clusters) then authorizes `update` "
        "on the owner's finalizers subresource while admitting their creation",
        _created_owned_object,
    ),
}
"""Grants the API server checks inside another request: (verb, group, resource) ->
(why, which recorded call exercises it)."""


# ------------------------------------------------------------------ reading the audit log
def audit_log_files(cluster: Cluster) -> list[Path]:
    """The audit log hack/cluster.sh writes, with its rotated backups."""
    logs = cluster.kubeconfig.parent / "logs"
    current = logs / "audit.log"
    assert current.exists(), (
        f"no audit log at {current}: the control plane predates the audit flags; "
        "restart it (hack/cluster.sh down && hack/cluster.sh up)"
    )
    return [*sorted(logs.glob("audit-*.log")), current]


def _events(files: Iterable[Path], username: str) -> Iterator[dict[str, Any]]:
    needle = f'"username":"{username}"'
    for path in files:
        with path.open(errors="replace") as lines:
            for line in lines:
                if needle not in line:
                    continue
                event: dict[str, Any] = json.loads(line)
                if event.get("stage") == "ResponseComplete":
                    yield event


def calls_of(cluster: Cluster, username: str) -> tuple[list[Call], list[str]]:
    """(resource calls, non-resource URLs) the user made, one per completed request."""
    calls: list[Call] = []
    urls: list[str] = []
    for event in _events(audit_log_files(cluster), username):
        code = int((event.get("responseStatus") or {}).get("code", 0))
        decision = (event.get("annotations") or {}).get("authorization.k8s.io/decision")
        ref = event.get("objectRef")
        if not ref:
            urls.append(f"{event['verb']} {event['requestURI']} -> {code}")
            if code == 403:
                calls.append(Call(event["verb"], "", event["requestURI"], None, None, code, None))
            continue
        resource = ref["resource"] + (f"/{ref['subresource']}" if ref.get("subresource") else "")
        calls.append(
            Call(
                verb=event["verb"],
                api_group=ref.get("apiGroup", ""),
                resource=resource,
                namespace=ref.get("namespace"),
                name=ref.get("name"),
                code=code,
                decision=decision,
            )
        )
    return calls, urls


# ------------------------------------------------------------------ reading the chart
def granted(docs: list[dict[str, Any]], namespace: str, account: str) -> list[Grant]:
    """Every (verb, group, resource) the rendered chart binds to the ServiceAccount."""
    subject = {"kind": "ServiceAccount", "name": account, "namespace": namespace}
    roles = {(d["kind"], d["metadata"]["name"]): d for d in docs if d["kind"].endswith("Role")}
    grants: list[Grant] = []
    for binding in docs:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        if subject not in binding.get("subjects", []):
            continue
        ref = binding["roleRef"]
        role = roles[(ref["kind"], ref["name"])]
        scope = binding["metadata"]["namespace"] if binding["kind"] == "RoleBinding" else None
        for rule in role.get("rules", []):
            assert "nonResourceURLs" not in rule, f"the operator needs no non-resource URL: {rule}"
            grants += [
                Grant(verb, group, resource, scope, tuple(rule.get("resourceNames", ())))
                for verb in rule["verbs"]
                for group in rule["apiGroups"]
                for resource in rule["resources"]
            ]
    return grants


# ------------------------------------------------------------------ the scenarios
def _object(kind: str, name: str, spec: dict[str, Any], namespace: str | None = None) -> str:
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    body = {"apiVersion": "paddock.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}
    return json.dumps(body)


def _workload(ground: Ground, replicas: int, priority: int = 0, **extra: Any) -> dict[str, Any]:
    container = {"name": "agent", "image": "example.com/agent:1.0", **extra}
    return {
        "budget": ground.nodepool,
        "replicas": replicas,
        "coresPerReplica": 1,
        "memoryPerReplica": "1Gi",
        "priority": priority,
        "placement": {"pools": [ground.nodepool]},
        "template": {"spec": {"containers": [container]}},
    }


@dataclass
class Scenario:
    cluster: Cluster
    ground: Ground
    operator: Operator

    def status(self, workload: str) -> dict[str, Any]:
        found = self.cluster.get_json("aw", workload, "-n", self.ground.workload_namespace)
        status: dict[str, Any] = found.get("status") or {}
        return status

    def wait_status(self, workload: str, what: str, **expected: Any) -> dict[str, Any] | None:
        def probe() -> dict[str, Any] | None:
            status = self.status(workload)
            # A status the operator wrote, not the CRD's default `phase: Queued` alone.
            ok = not unwritten(status) and all(status.get(k) == v for k, v in expected.items())
            return status if ok else None

        try:
            return wait_for(probe, timeout=90, what=f"{workload}: {what}")
        except AssertionError as error:
            raise AssertionError(
                f"{error}\nstatus: {self.status(workload)}\noperator:\n{self.operator.tail()}"
            ) from None

    def deployments(self, workload: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.cluster.get_json(
            "deployments", "-n", self.ground.workload_namespace,
            "-l", f"paddock.dev/workload={workload}",
        )["items"]  # fmt: skip
        return items

    def reasons(self, workload: str) -> set[str]:
        items = self.cluster.get_json(
            "events", "-n", self.ground.workload_namespace,
            "--field-selector", f"involvedObject.kind=AgentWorkload,involvedObject.name={workload}",
        )["items"]  # fmt: skip
        return {item["reason"] for item in items}

    def apply(self, manifest: str) -> None:
        self.cluster.kubectl("apply", "-f", "-", input=manifest)

    def run(self) -> None:
        ground, namespace = self.ground, self.ground.workload_namespace
        wait_for(self.operator.ready, timeout=90, what="paddock run /readyz (watches listed)")
        pool = {
            "nodeSelector": {"matchLabels": {"karpenter.sh/nodepool": ground.nodepool}},
            "tolerations": [ARM64_TOLERATION],
        }
        budget = {
            "namespaceSelector": {"matchLabels": {"paddock.dev/team": ground.nodepool}},
            "cores": 4,
            "pools": [ground.nodepool],
            "preemption": {"withinBudget": "LowerPriority"},
        }
        self.apply(_object("CorePool", ground.nodepool, pool))
        self.apply(_object("CoreBudget", ground.nodepool, budget))

        # Names taken by objects the workloads do not own: create, 409, read the owner.
        # First, while the budget is free, so both workloads are admitted and try.
        self._squatters()

        # Admission: a Deployment and a PodDisruptionBudget created, status written.
        self.apply(_object("AgentWorkload", "agent", _workload(ground, 2), namespace))
        self.wait_status("agent", "Running with 2 replicas", phase="Running", admittedReplicas=2)
        wait_for(lambda: self.pdb_minimum("agent") == 2, timeout=60, what="agent's PDB, min 2")
        wait_for(
            lambda: (self.cluster.get_json("corebudget.paddock.dev", ground.nodepool).get("status")
                     or {}).get("usedCores") == 2,
            timeout=60, what="CoreBudget status.usedCores 2",
        )  # fmt: skip
        wait_for(
            lambda: (self.cluster.get_json("corepool.paddock.dev", ground.nodepool).get("status")
                     or {}).get("nodes") == 2,
            timeout=60, what="CorePool status.nodes 2",
        )  # fmt: skip

        # Resize: the Deployment and the PodDisruptionBudget applied, a Resized Event.
        self.cluster.kubectl(
            "patch", "aw", "agent", "-n", namespace, "--type=merge",
            "-p", '{"spec": {"replicas": 3}}',
        )  # fmt: skip
        self.wait_status("agent", "resized to 3", admittedReplicas=3)
        wait_for(lambda: "Resized" in self.reasons("agent"), timeout=30, what="Resized Event")
        wait_for(lambda: self.pdb_minimum("agent") == 3, timeout=60, what="agent's PDB, min 3")

        # Preemption: a higher-priority workload takes the whole budget; Paddock deletes
        # the preempted workload's Deployment itself.
        self.apply(_object("AgentWorkload", "urgent", _workload(ground, 4, 100), namespace))
        self.wait_status("urgent", "admitted 4 by preemption", admittedReplicas=4)
        wait_for(lambda: not self.deployments("agent"), timeout=60, what="agent's Deployment gone")
        self.wait_status("agent", "preempted to 0", admittedReplicas=0)

        # Deletion: the urgent workload goes (its Deployment by garbage collection), the
        # preempted one is admitted again: a second Deployment creation (its PDB was kept).
        self.cluster.kubectl("delete", "aw", "urgent", "-n", namespace, "--wait=true")
        self.wait_status("agent", "re-admitted", admittedReplicas=3)
        wait_for(lambda: self.deployments("agent"), timeout=60, what="agent's Deployment again")

        # spec.podDisruptionBudget: Disabled: Paddock deletes the workload's PDB.
        self.cluster.kubectl(
            "patch", "aw", "agent", "-n", namespace, "--type=merge",
            "-p", '{"spec": {"podDisruptionBudget": "Disabled"}}',
        )  # fmt: skip
        wait_for(lambda: self.pdb_minimum("agent") is None, timeout=60, what="agent's PDB gone")

        # /metrics with a reader's token: TokenReview and SubjectAccessReview.
        assert self.operator.metrics().get("paddock_leader{}") == 1

        # An invalid object, last (a poison object must not hide the paths above).
        self._invalid_object()

    def pdb_minimum(self, workload: str) -> int | None:
        """minAvailable of the workload's PodDisruptionBudget, None when it has none."""
        items = self.cluster.get_json(
            "poddisruptionbudgets", "-n", self.ground.workload_namespace,
            "-l", f"paddock.dev/workload={workload}",
        )["items"]  # fmt: skip
        owned = [i for i in items if i["metadata"].get("ownerReferences")]
        return int(owned[0]["spec"]["minAvailable"]) if owned else None

    def _squatters(self) -> None:
        """A Deployment and a PodDisruptionBudget, not owned by any workload, under the
        names Paddock would give two new workloads' objects: each create fails (409),
        Paddock reads the object, finds another owner, leaves it and reports."""
        namespace, pool = self.ground.workload_namespace, self.ground.nodepool
        labels = {"app": "squatter"}
        deployment = {
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": deployment_name("squat-deploy", pool), "namespace": namespace},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "a", "image": "x.io/a:1"}]}}},
        }  # fmt: skip
        pdb = {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": {"name": deployment_name("squat-pdb", "pdb"), "namespace": namespace},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": labels}},
        }  # fmt: skip
        self.apply(json.dumps(deployment))
        self.apply(json.dumps(pdb))
        for name in ("squat-deploy", "squat-pdb"):
            self.apply(_object("AgentWorkload", name, _workload(self.ground, 1), namespace))
        for name in ("squat-deploy", "squat-pdb"):
            wait_for(
                lambda name=name: "not owned by this AgentWorkload" in str(self.status(name)),
                timeout=60, what=f"{name}: reported as taken by another owner",
            )  # fmt: skip
        for name in ("squat-deploy", "squat-pdb"):  # free the budget for what follows
            self.cluster.kubectl("delete", "aw", name, "-n", namespace, "--wait=true")

    def _invalid_object(self) -> None:
        """A malformed container field: the API server rejects it (a schema for the
        template) or the operator reports it; either way the ServiceAccount's calls
        while it does are in the audit log."""
        namespace = self.ground.workload_namespace
        broken = _workload(self.ground, 1, env=5)
        accepted = self.cluster.kubectl(
            "apply", "-f", "-", input=_object("AgentWorkload", "broken", broken, namespace),
            check=False,
        )  # fmt: skip
        if accepted.returncode != 0:
            return
        errors_before = self._errors()

        def reported() -> bool:
            status = self.status("broken")
            return status.get("phase") in ("Invalid", "Failed") or self._errors() > errors_before

        wait_for(reported, timeout=60, what="the invalid object reported (status or error count)")

    def _errors(self) -> float:
        samples = self.operator.metrics()
        return sum(v for k, v in samples.items() if k.startswith("paddock_api_errors_total{"))


# ------------------------------------------------------------------ the test
@pytest.fixture
def ground(cluster: Cluster, helm: Helm, tmp_path: Path) -> Iterator[Ground]:
    with install_ground(cluster, helm, tmp_path, "rbac-audit") as made:
        yield made


def render_installed(helm: Helm, ground: Ground) -> list[dict[str, Any]]:
    """The chart rendered with exactly the values install_ground installed it with."""
    readers = [{"kind": "ServiceAccount", "name": SCRAPER, "namespace": ground.release_namespace}]
    return parse(
        helm.run(
            "template", ground.release, str(CHART), "--namespace", ground.release_namespace,
            "-f", str(INSTALL_VALUES), "--set", "replicaCount=0",
            "--set-json", f"metrics.readers={json.dumps(readers)}",
        ).stdout
    )  # fmt: skip


def test_the_service_account_uses_every_grant_and_nothing_else(
    cluster: Cluster, helm: Helm, ground: Ground, tmp_path: Path
) -> None:
    with run_operator(ground, tmp_path) as operator:
        Scenario(cluster, ground, operator).run()
    # Stopped: its Lease release (get, update) is in the log too.

    calls, urls = calls_of(cluster, ground.username)
    assert calls, f"no audit event for {ground.username}"
    grants = granted(render_installed(helm, ground), ground.release_namespace, ground.release)
    assert grants, "the chart binds no rule to the operator's ServiceAccount"

    denied = sorted({str(c) for c in calls if c.code == 403 or c.decision == "forbid"})
    assert not denied, "the ServiceAccount was refused (403):\n" + "\n".join(denied)
    ungranted = sorted({str(c) for c in calls if not any(g.allows(c) for g in grants)})
    assert not ungranted, "calls no grant covers:\n" + "\n".join(ungranted)

    unused = []
    for grant in grants:
        if any(grant.allows(c) for c in calls):
            continue
        implied = IMPLIED.get((grant.verb, grant.api_group, grant.resource))
        if implied is not None:
            why, witness = implied
            assert any(witness(c) for c in calls), f"{grant}: no call exercised it ({why})"
            continue
        unused.append(str(grant))
    used = sorted({str(Call(c.verb, c.api_group, c.resource, None, None, 0, None)) for c in calls})
    assert not unused, (
        "granted but never used (remove them from charts/paddock/templates/rbac.yaml, or "
        "add a scenario that uses them):\n"
        + "\n".join(unused)
        + "\n\nused:\n"
        + "\n".join(used)
        + "\n\nnon-resource requests:\n"
        + "\n".join(sorted(set(urls)))
    )


def test_a_denied_call_shows_in_the_audit_log(cluster: Cluster, ground: Ground) -> None:
    """Negative control: the audit log really records the ServiceAccount's requests,
    403s included, so the comparison above cannot pass on an empty or filtered log."""
    result = ground.token_cluster.kubectl(
        "get", "secrets", "-n", ground.release_namespace, check=False
    )
    assert result.returncode != 0 and "forbidden" in result.stderr.lower(), result

    def denied() -> list[Call]:
        calls, _ = calls_of(cluster, ground.username)
        return [c for c in calls if c.resource == "secrets" and c.code == 403]

    (call,) = wait_for(denied, timeout=10, what="the denied list of secrets in the audit log")
    assert call.verb == "list" and call.decision == "forbid", call


def test_rendered_grants_read_the_bindings(helm: Helm) -> None:
    """The chart reader itself: both the ClusterRole and the namespaced Role count, the
    Role only in its namespace, resourceNames respected, nothing for other subjects."""
    docs = parse(helm.template(namespace="ns").stdout)
    grants = granted(docs, "ns", "paddock")
    lease_get = Call("get", "coordination.k8s.io", "leases", "ns", "paddock-scheduler", 200, None)
    assert any(g.allows(lease_get) for g in grants)
    elsewhere = Call(
        "get", "coordination.k8s.io", "leases", "other", "paddock-scheduler", 200, None
    )
    assert not any(g.allows(elsewhere) for g in grants)
    other_lease = Call("get", "coordination.k8s.io", "leases", "ns", "other", 200, None)
    assert not any(g.allows(other_lease) for g in grants)
    assert granted(docs, "ns", "someone-else") == []


# ------------------------------------------------------------------ the implied grants, proven
def _without(rules: list[dict[str, Any]], verb: str, group: str, resource: str) -> list[Any]:
    """The rules with one (verb, group, resource) taken out."""
    kept = []
    for rule in rules:
        for g in rule["apiGroups"]:
            for r in rule["resources"]:
                verbs = [v for v in rule["verbs"] if (v, g, r) != (verb, group, resource)]
                if verbs:
                    kept.append({"apiGroups": [g], "resources": [r], "verbs": verbs})
    return kept


def _owned_deployment(namespace: str, name: str, owner_uid: str) -> str:
    """A Deployment as Paddock applies it: owned by an AgentWorkload, blockOwnerDeletion."""
    owner = {
        "apiVersion": "paddock.dev/v1alpha1", "kind": "AgentWorkload", "name": "owner",
        "uid": owner_uid, "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip
    labels = {"app": name}
    return json.dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner]},
            "spec": {
                "replicas": 0,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "a", "image": "example.com/a:1"}]},
                },
            },
        }
    )


def _can_i(grant: tuple[str, str, str]) -> list[str]:
    """`kubectl auth can-i` arguments for a (verb, group, resource[/subresource])."""
    verb, group, resource = grant
    kind, _, subresource = resource.partition("/")
    args = [verb, f"{kind}.{group}" if group else kind]
    return args + ([f"--subresource={subresource}"] if subresource else [])


def _bind_role(cluster: Cluster, name: str, rules: list[Any], namespace: str) -> None:
    """A ClusterRole with the rules, bound to the ServiceAccount `applier` of the namespace."""
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules}  # fmt: skip
    cluster.apply(json.dumps(role))
    cluster.kubectl(
        "create", "clusterrolebinding", name, f"--clusterrole={name}",
        f"--serviceaccount={namespace}:applier",
    )  # fmt: skip


def _owner_uid(cluster: Cluster, namespace: str) -> str:
    """Create the AgentWorkload `owner` and return its uid."""
    container = {"name": "a", "image": "example.com/a:1"}
    spec = {"replicas": 1, "coresPerReplica": 1, "memoryPerReplica": "1Gi",
            "template": {"spec": {"containers": [container]}}}  # fmt: skip
    cluster.apply(_object("AgentWorkload", "owner", spec, namespace))
    uid: str = cluster.get_json("aw", "owner", "-n", namespace)["metadata"]["uid"]
    return uid


@pytest.mark.parametrize(
    ("implied", "refusal"),
    [
        (
            ("update", "paddock.dev", "agentworkloads/finalizers"),
            "cannot set blockOwnerDeletion",
        ),
    ],
    ids=["finalizers-for-blockOwnerDeletion"],
)
def test_each_implied_grant_is_needed(
    cluster: Cluster,
    helm: Helm,
    make_namespace: Callable[..., str],
    implied: tuple[str, str, str],
    refusal: str,
) -> None:
    """Without the implied grant, creating a Deployment as Paddock does (server-side
    apply, owned by an AgentWorkload with blockOwnerDeletion) is refused; with the
    chart's full ClusterRole it succeeds. Proves the IMPLIED reasons on the real
    API server, impersonating a ServiceAccount bound to each role in turn."""
    assert implied in IMPLIED
    namespace, tag = make_namespace(), uuid.uuid4().hex[:5]
    docs = parse(helm.template(namespace=namespace, release=f"implied-{tag}").stdout)
    (chart_role,) = [d for d in docs if d["metadata"]["name"] == f"implied-{tag}-paddock"
                     and d["kind"] == "ClusterRole"]  # fmt: skip
    owner_uid = _owner_uid(cluster, namespace)
    cluster.kubectl("create", "serviceaccount", "applier", "-n", namespace)
    account = f"system:serviceaccount:{namespace}:applier"
    # The first binding lacks the implied grant; the second adds the chart's full role.
    variants = [
        ("without", _without(chart_role["rules"], *implied), ["list", "deployments.apps"]),
        ("with", chart_role["rules"], _can_i(implied)),
    ]
    try:
        for variant, rules, in_effect in variants:
            _bind_role(cluster, f"t-implied-{tag}-{variant}", rules, namespace)
            # Bindings reach the authorizer through an informer: wait until this one has.
            wait_for(
                lambda in_effect=in_effect: cluster.kubectl(
                    "auth", "can-i", *in_effect, "-n", namespace, f"--as={account}", check=False
                ).stdout.strip() == "yes",
                timeout=10, what=f"the {variant} binding in effect",
            )  # fmt: skip
            result = cluster.kubectl(
                "apply", "--server-side", "--field-manager=paddock", f"--as={account}",
                "-f", "-", input=_owned_deployment(namespace, variant, owner_uid), check=False,
            )  # fmt: skip
            if variant == "without":
                assert result.returncode != 0 and refusal in result.stderr, result
            else:
                assert result.returncode == 0, result.stderr
    finally:
        for variant, _, _ in variants:
            name = f"t-implied-{tag}-{variant}"
            cluster.kubectl("delete", "clusterrolebinding", name, "--ignore-not-found", check=False)
            cluster.kubectl("delete", "clusterrole", name, "--ignore-not-found", check=False)
