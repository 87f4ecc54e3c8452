"""The CRDs in crds/ against the real local control plane.

- every CRD installs and becomes Established;
- every file in examples/ applies with a plain `kubectl apply -f examples/`, and the objects the
  API server stores (defaults applied) are what the models make of the same files;
- `kubectl explain` shows the field docs (down the pod template) and `kubectl get` the printer
  columns;
- the committed Kubernetes PodSpec schema (operator/paddock/api/k8s/podtemplatespec.json) is
  exactly what the running API server serves;
- every object of the shared verdict table (tests/unit/api/bad_objects.py) is rejected by the API
  server with a message naming the field (and, for cross-field rules, the models' exact text),
  and nothing is created; every good object is accepted, with the same defaults the models apply.

The examples create cluster-scoped pools and budgets and two namespaces; the test deletes them
afterwards so that other suites sharing the cluster see an empty Paddock API.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from paddock.api import KINDS, describe_errors, parse_object, podspec
from tests.support.cluster import REPO_ROOT, Cluster
from tests.support.waiting import wait_for
from tests.unit.api.bad_objects import BAD, CONTAINER, GOOD, PREFIX, Case, agent, edit
from tests.unit.api.test_podspec import BASE, FIELDS, set_path, template_values

CRD_DIR = REPO_ROOT / "crds"
EXAMPLES = REPO_ROOT / "examples"
RESOURCES = {info.kind: f"{info.plural}.paddock.dev" for _, info in KINDS.values()}


def _example_documents() -> list[dict[str, Any]]:
    documents = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def _established(cluster: Cluster) -> bool:
    crds = cluster.get_json("crd", "-l", "app.kubernetes.io/part-of=paddock")["items"]
    names = {crd["metadata"]["name"] for crd in crds}
    if names != set(RESOURCES.values()):
        return False
    return all(
        any(
            c["type"] == "Established" and c["status"] == "True"
            for c in crd["status"]["conditions"]
        )
        for crd in crds
    )


@pytest.fixture(scope="module")
def crds(cluster: Cluster) -> Cluster:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD_DIR))
    wait_for(lambda: _established(cluster), timeout=60, what="the Paddock CRDs to be Established")
    return cluster


def _example_namespaces() -> list[str]:
    return [d["metadata"]["name"] for d in _example_documents() if d["kind"] == "Namespace"]


def _namespace_phases(cluster: Cluster, names: list[str]) -> dict[str, str]:
    # With --ignore-not-found and nothing found, kubectl prints nothing at all, not a List.
    out = cluster.kubectl("get", "namespace", *names, "--ignore-not-found", "-o", "json").stdout
    items = json.loads(out).get("items", []) if out.strip() else []
    return {ns["metadata"]["name"]: ns.get("status", {}).get("phase", "") for ns in items}


@pytest.fixture(scope="module")
def examples(crds: Cluster) -> Iterator[Cluster]:
    """`kubectl apply -f examples/`, exactly as a user types it. Deleted afterwards, unless
    they were installed before the test (then they are someone's and stay)."""
    namespaces = _example_namespaces()
    # A previous run may still be deleting its namespaces.
    wait_for(
        lambda: "Terminating" not in _namespace_phases(crds, namespaces).values(),
        timeout=90,
        what="the example namespaces of an earlier run to be deleted",
    )
    installed_before = bool(_namespace_phases(crds, namespaces))
    crds.kubectl("apply", "-f", str(EXAMPLES))
    yield crds
    if not installed_before:
        crds.kubectl(
            "delete", "-f", str(EXAMPLES), "--ignore-not-found", "--wait=false", check=False
        )


def test_every_crd_is_established(crds: Cluster) -> None:
    for resource in RESOURCES.values():
        crd = crds.get_json("crd", resource)
        conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
        assert conditions.get("Established") == "True", (resource, conditions)
        assert conditions.get("NamesAccepted") == "True", (resource, conditions)


def test_examples_are_stored_as_the_models_read_them(examples: Cluster) -> None:
    documents = [d for d in _example_documents() if d["kind"] in KINDS]
    assert {d["kind"] for d in documents} == set(KINDS)
    for document in documents:
        args = [RESOURCES[document["kind"]], document["metadata"]["name"]]
        if "namespace" in document["metadata"]:
            args += ["-n", document["metadata"]["namespace"]]
        stored = examples.get_json(*args)
        expected = parse_object(document).to_wire()["spec"]
        assert stored["spec"] == expected, document["metadata"]["name"]
        parse_object(stored)  # what the operator will read back is valid too


def test_kubectl_explain_shows_the_field_docs(crds: Cluster) -> None:
    explained = crds.kubectl("explain", "agentworkload.spec").stdout
    for text in ("coresPerReplica", "Whole cores per replica", "minReplicas", "Elastic floor"):
        assert text in explained, explained
    explained = crds.kubectl("explain", "corebudget.spec.preemption").stdout
    assert "reclaimFromCohort" in explained, explained
    explained = crds.kubectl("explain", "cpool.spec.nodeSelector").stdout
    assert "matchLabels" in explained, explained


AW_COLUMNS = "NAME BUDGET REPLICAS ADMITTED READY CORES POOLS PHASE REASON AGE"
CBUDGET_COLUMNS = "NAME CORES USED BORROWED PENDING ADMITTED COHORT CORE-H LIMIT-H COST AGE"
CPOOL_COLUMNS = "NAME NODES READY GEN ALLOCATABLE USED FREE POTENTIAL LARGEST AGE"


@pytest.mark.parametrize(
    ("resource", "columns"),
    [("aw", AW_COLUMNS), ("cbudget", CBUDGET_COLUMNS), ("cpool", CPOOL_COLUMNS)],
)
def test_kubectl_get_shows_the_printer_columns(
    examples: Cluster, resource: str, columns: str
) -> None:
    scope = ["-A"] if resource == "aw" else []
    output = examples.kubectl("get", resource, *scope).stdout
    header = [word for word in output.splitlines()[0].split() if word != "NAMESPACE"]
    assert header == columns.split(), output
    assert len(output.splitlines()) > 1, output


def test_kubectl_get_all_three_at_once(examples: Cluster) -> None:
    output = examples.kubectl("get", "aw,cbudget,cpool", "-A").stdout
    for name in ("llama-server", "research", "graviton4"):
        assert name in output, output
    assert "PHASE" in output and "COHORT" in output and "LARGEST" in output, output
    assert "graviton2" in examples.kubectl("get", "paddock").stdout  # the category


def _create(cluster: Cluster, case: Case, namespace: str, *extra: str) -> Any:
    args = ["create", *extra, "-f", "-"]
    if case.namespaced:
        args += ["-n", namespace]
    return cluster.kubectl(*args, input=json.dumps(case.manifest), check=False)


def test_bad_objects_are_rejected_naming_the_field(crds: Cluster, namespace: str) -> None:
    failures = []
    try:
        for case in BAD:
            result = _create(crds, case, namespace)
            if result.returncode == 0:
                failures.append(f"{case.id}: accepted ({result.stdout.strip()})")
                continue
            error = result.stderr
            if case.field not in error:
                failures.append(f"{case.id}: {case.field!r} not in {error.strip()!r}")
            if case.message and case.message not in error:
                failures.append(f"{case.id}: {case.message!r} not in {error.strip()!r}")
        assert not failures, "\n".join(failures)
        # Each rejection created nothing.
        leaked = crds.kubectl("get", "aw", "-n", namespace, "-o", "name").stdout.split()
        leaked += [
            name
            for name in crds.kubectl("get", "cbudget,cpool", "-o", "name").stdout.split()
            if name.split("/", 1)[1].startswith(PREFIX)
        ]
        assert leaked == [], leaked
    finally:
        _delete_leftovers(crds)


@pytest.mark.parametrize("case", GOOD, ids=lambda case: case.id)
def test_good_objects_are_accepted_with_the_models_defaults(
    crds: Cluster, namespace: str, case: Case
) -> None:
    result = _create(crds, case, namespace, "--dry-run=server", "-o", "json")
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)
    assert stored["spec"] == parse_object(case.manifest).to_wire()["spec"]


def _delete_leftovers(cluster: Cluster) -> None:
    for resource in ("cbudget", "cpool"):
        names = cluster.kubectl("get", resource, "-o", "name").stdout.split()
        leftovers = [n for n in names if n.split("/", 1)[1].startswith(PREFIX)]
        if leftovers:
            cluster.kubectl("delete", *leftovers, "--wait=false", check=False)


def test_the_committed_pod_schema_is_what_the_api_server_serves(cluster: Cluster) -> None:
    """A Kubernetes bump that changes the PodSpec is caught: run
    `hack/gen-crds.sh --from-cluster` and commit the result."""
    openapi = json.loads(cluster.kubectl("get", "--raw", "/openapi/v3/api/v1").stdout)
    version = json.loads(cluster.kubectl("get", "--raw", "/version").stdout)["gitVersion"]
    served = podspec.snapshot(openapi, version)
    committed = podspec.load()
    assert served["kubernetesVersion"] == committed["kubernetesVersion"]
    changed = sorted(
        name
        for name in served["schemas"].keys() | committed["schemas"].keys()
        if served["schemas"].get(name) != committed["schemas"].get(name)
    )
    assert changed == [], f"run hack/gen-crds.sh --from-cluster; changed: {changed}"
    assert podspec.dump(served) == podspec.SCHEMA_FILE.read_text()


def test_kubectl_explain_walks_down_the_pod_template(crds: Cluster) -> None:
    explained = crds.kubectl("explain", "agentworkload.spec.template.spec.containers.env").stdout
    assert "List of environment variables to set in the container" in explained, explained
    assert "valueFrom" in explained, explained
    explained = crds.kubectl("explain", "aw.spec.template.spec.containers").stdout
    assert "PADDOCK_CORES" in explained and "readinessProbe" in explained, explained
    explained = crds.kubectl("explain", "aw.spec.template.spec.volumes.ephemeral").stdout
    assert "volumeClaimTemplate" in explained, explained


def test_the_template_is_stored_as_the_models_clean_it(crds: Cluster, namespace: str) -> None:
    """Nulls pruned and list-map key defaults applied, identically by both."""
    manifest = agent("stored-template")
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["ports"] = [{"containerPort": 8080, "name": None}]
    container["workingDir"] = None
    case = Case("stored-template", manifest)
    result = _create(crds, case, namespace, "--dry-run=server", "-o", "json")
    assert result.returncode == 0, result.stderr
    stored = json.loads(result.stdout)["spec"]["template"]
    assert stored["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]
    assert stored == parse_object(manifest).to_wire()["spec"]["template"]


def _server_verdict(
    api: client.CustomObjectsApi, namespace: str, manifest: dict[str, Any]
) -> tuple[bool, Any]:
    """(accepted, stored spec.template or the error text) for a server-side dry run."""
    try:
        stored = api.create_namespaced_custom_object(
            "paddock.dev", "v1alpha1", namespace, "agentworkloads", manifest,
            dry_run="All", field_validation="Strict",
        )  # fmt: skip
    except ApiException as error:
        assert error.status in (400, 422), error
        return False, error.body
    return True, stored["spec"]["template"]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(paths=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=2), values=st.data())
def test_template_verdicts_match_the_api_server(
    crds: Cluster,
    api_client: client.ApiClient,
    namespace: str,
    paths: list[str],
    values: st.DataObject,
) -> None:
    """Arbitrary JSON in arbitrary PodSpec fields: the API server and the models accept the
    same templates and store them identically, and reject the same ones."""
    spec = BASE["spec"]["template"]["spec"]
    for path in paths:
        spec = set_path(spec, path, values.draw(template_values(path)))
    manifest = edit(BASE, {"spec.template.spec": spec, "metadata.name": PREFIX + "differential"})
    accepted, server = _server_verdict(client.CustomObjectsApi(api_client), namespace, manifest)
    event("accepted" if accepted else "rejected")
    try:
        model = parse_object(manifest).to_wire()["spec"]["template"]
    except ValidationError as error:
        assert not accepted, f"the API server accepted what the models reject: {error}"
        return
    assert accepted, f"the models accept what the API server rejects: {server}"
    assert server == model


def _install_agent_workload_crd(cluster: Cluster, crd: dict[str, Any]) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", "-", input=json.dumps(crd))
    cluster.wait_established("agentworkloads.paddock.dev")


def test_a_template_written_before_the_schema_is_caught_by_the_models(
    crds: Cluster, namespace: str
) -> None:
    """An object stored under a CRD that kept unknown template fields (as Paddock's did) and
    then served under this one: the API server prunes unknown fields but serves the malformed
    value as stored; the models reject it naming the field; status writes still go through
    (the API server's validation ratcheting), so the operator can report it."""
    path = CRD_DIR / "paddock.dev_agentworkloads.yaml"
    current = yaml.safe_load(path.read_text())
    lenient = copy.deepcopy(current)
    schema = lenient["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    template = schema["properties"]["spec"]["properties"]["template"]
    template["properties"]["spec"] = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    manifest = edit(
        agent("before-schema"), {f"{CONTAINER}[0].env": 5, f"{CONTAINER}[0].portz": [80]}
    )
    name, resource = manifest["metadata"]["name"], RESOURCES["AgentWorkload"]
    try:
        _install_agent_workload_crd(crds, lenient)
        crds.kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    finally:
        _install_agent_workload_crd(crds, current)
    served = crds.get_json(resource, name, "-n", namespace)
    container = served["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == 5 and "portz" not in container
    with pytest.raises(ValidationError) as caught:
        parse_object(served)
    assert describe_errors(caught.value) == [
        f"{CONTAINER}[0].env: expected a list, got 5: write env as a list of EnvVar objects"
    ]
    status = {"status": {"phase": "Invalid", "message": "spec.template.spec.containers[0].env"}}
    crds.kubectl(
        "patch", resource, name, "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps(status),
    )  # fmt: skip
    # Accepted (the operator, when one runs, may have written its own Invalid status since).
    assert crds.get_json(resource, name, "-n", namespace)["status"]["phase"] == "Invalid"


def test_the_crds_on_disk_are_the_ones_installed(crds: Cluster) -> None:
    for path in sorted(CRD_DIR.glob("*.yaml")):
        on_disk = yaml.safe_load(Path(path).read_text())
        served = crds.get_json("crd", on_disk["metadata"]["name"])
        assert served["spec"]["versions"][0]["schema"] == on_disk["spec"]["versions"][0]["schema"]
