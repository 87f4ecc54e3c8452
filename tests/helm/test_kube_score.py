"""The chart judged from outside: kube-score on every rendering of it.

kube-score (github.com/zegl/kube-score, built once per version by
hack/build-lint-tools.sh) checks the rendered manifests against common
production advice: NetworkPolicy, resource requests and limits (ephemeral
storage included), probes, security context, disruption budgets. Every check
must pass (grade OK) for every values file the chart ships or tests with, except
the checks in IGNORED (and ONE_REPLICA, for single-replica renderings), each with
the reason it does not apply to Paddock. The
same reasons are in charts/paddock/values.yaml next to the values concerned and in
docs/install.md.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helm.chart import KUBE_VERSION, VALUES_FILES, Helm, parse, values_args, values_id
from tests.support.cluster import REPO_ROOT

IGNORED: dict[str, str] = {
    "container-image-pull-policy": (
        "kube-score wants Always so imagePullSecrets are re-checked on every start; the "
        "operator image is public and pinned by tag or digest, and IfNotPresent keeps a "
        "restart independent of the registry (image.pullPolicy in values.yaml; set "
        "Always if tenants share the operator's nodes)"
    ),
}
"""kube-score check id -> why Paddock's chart does not follow it (passed as --ignore-test)."""

ONE_REPLICA: dict[str, str] = {
    "deployment-replicas": (
        "replicaCount defaults to 1: one replica holds the Lease and schedules, a restart "
        "loses no state (placed workloads keep running, the operator lists again), and a "
        "small cluster need not pay for a warm standby. 2 is recommended for production "
        "and scores clean (charts/paddock/ci/ha-values.yaml is checked without this ignore)"
    ),
}
"""Ignored only for renderings with fewer than 2 replicas."""

GRADE_OK = 10  # kube-score's scorecard.GradeAllOK
ALL_VALUES: list[Path | None] = [None, *VALUES_FILES]


def kube_score() -> str:
    """The cached kube-score binary (hack/build-lint-tools.sh builds it when missing)."""
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "hack" / "build-lint-tools.sh"), "--path"],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"hack/build-lint-tools.sh failed:\n{result.stderr}"
    return result.stdout.strip().splitlines()[-1]


def score(manifests: str, ignored: list[str]) -> list[dict[str, Any]]:
    """kube-score's JSON (v2) verdict on the manifests: one entry per object."""
    args = [kube_score(), "score", "--output-format", "json", "--color", "never"]
    major_minor = ".".join(KUBE_VERSION.split(".")[:2])  # kube-score wants vN.NN
    args += ["--kubernetes-version", f"v{major_minor}"]
    for check in ignored:
        args += ["--ignore-test", check]
    result = subprocess.run(
        [*args, "-"], input=manifests, capture_output=True, text=True, timeout=120, check=False
    )
    # Exit 1 means critical findings; the JSON on stdout says which.
    assert result.returncode in (0, 1), f"kube-score failed ({result.returncode}): {result.stderr}"
    verdict: list[dict[str, Any]] = json.loads(result.stdout)
    return verdict


def findings(verdict: list[dict[str, Any]]) -> list[str]:
    """One line per check below OK: object, check id, grade, kube-score's comments."""
    lines = []
    for obj in verdict:
        name = f"{obj['type_meta']['kind']}/{obj['object_meta']['name']}"
        for check in obj["checks"]:
            if check.get("skipped") or check["grade"] >= GRADE_OK:
                continue
            comments = "; ".join(
                f"{c.get('path') or ''} {c['summary']} ({c.get('description') or ''})".strip()
                for c in check.get("comments") or []
            )
            lines.append(f"{name}: {check['check']['id']} grade {check['grade']}: {comments}")
    return lines


@pytest.mark.parametrize("values_file", ALL_VALUES, ids=values_id)
def test_kube_score_finds_nothing_but_the_justified_exceptions(
    helm: Helm, values_file: Path | None
) -> None:
    manifests = helm.template(*values_args(values_file)).stdout
    (deployment,) = [d for d in parse(manifests) if d["kind"] == "Deployment"]
    ignored = dict(IGNORED)
    if deployment["spec"]["replicas"] < 2:
        ignored.update(ONE_REPLICA)
    problems = findings(score(manifests, sorted(ignored)))
    assert not problems, "kube-score findings (fix the chart, or justify in IGNORED):\n" + (
        "\n".join(problems)
    )


def test_the_ignored_checks_still_fire_without_the_ignore_list(helm: Helm) -> None:
    """Negative control, and a check that IGNORED holds nothing stale: without
    --ignore-test, each ignored check really reports the default rendering."""
    problems = findings(score(helm.template().stdout, []))
    ignored = {**IGNORED, **ONE_REPLICA}
    for check in ignored:
        assert any(f": {check} grade" in line for line in problems), (check, problems)
    assert all(any(f": {c} grade" in line for c in ignored) for line in problems), problems


def test_kube_score_catches_what_the_chart_fixed(helm: Helm) -> None:
    """Negative control: the findings this chart fixed are reported again when the
    fix is taken away (no NetworkPolicy, no ephemeral-storage)."""
    manifests = helm.template(
        "--set", "networkPolicy.enabled=false",
        "--set", "resources.requests.ephemeral-storage=null",
        "--set", "resources.limits.ephemeral-storage=null",
    ).stdout  # fmt: skip
    problems = "\n".join(findings(score(manifests, sorted({**IGNORED, **ONE_REPLICA}))))
    assert "pod-networkpolicy" in problems
    assert "container-ephemeral-storage-request-and-limit" in problems
