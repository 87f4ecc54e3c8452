"""Run helm against charts/paddock and read what it renders.

The helm binary comes from PATH (`eval "$(hack/cluster.sh env)"`). Every render
passes --kube-version explicitly, so a test says which Kubernetes it renders for
rather than inheriting whatever the helm build defaults to.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.cluster import REPO_ROOT, Cluster

CHART = REPO_ROOT / "charts" / "paddock"
REPO_CRDS = REPO_ROOT / "crds"
INSTALL_VALUES = REPO_ROOT / "tests" / "helm" / "values" / "install.yaml"
# Every values file the chart must lint, render and validate with.
VALUES_FILES = sorted(CHART.glob("ci/*.yaml")) + sorted(
    (REPO_ROOT / "tests" / "helm" / "values").glob("*.yaml")
)
# The chart's floor (Chart.yaml kubeVersion) and what the local control plane runs.
MIN_KUBE_VERSION = "1.30.0"
KUBE_VERSION = "1.37.0"
LEASE_NAME = "paddock-scheduler"

# Helm says so on stderr every time it follows the crds symlink; expected, not an error.
_SYMLINK_NOTE = re.compile(r"^.*found symbolic link in path: .*crds resolves to .*\n?", re.M)


@dataclass(frozen=True)
class Helm:
    path: str
    home: Path

    def run(
        self,
        *args: str,
        check: bool = True,
        cluster: Cluster | None = None,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "HELM_CACHE_HOME": str(self.home / "cache"),
            "HELM_CONFIG_HOME": str(self.home / "config"),
            "HELM_DATA_HOME": str(self.home / "data"),
        }
        extra = [f"--kubeconfig={cluster.kubeconfig}"] if cluster else []
        result = subprocess.run(
            [self.path, *args, *extra],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=REPO_ROOT,
        )
        result.stderr = _SYMLINK_NOTE.sub("", result.stderr)
        if check and result.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stderr.strip()}\n{result.stdout[-2000:]}"
            )
        return result

    def template(
        self,
        *args: str,
        namespace: str = "paddock-system",
        release: str = "paddock",
        kube_version: str = KUBE_VERSION,
        chart: Path = CHART,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        return self.run(
            "template",
            release,
            str(chart),
            "--namespace",
            namespace,
            "--kube-version",
            kube_version,
            *args,
            check=check,
        )

    def render(self, *args: str, **kwargs: Any) -> list[dict[str, Any]]:
        """`helm template`, parsed: one dict per rendered object."""
        return parse(self.template(*args, **kwargs).stdout)


def find_helm(home: Path) -> Helm:
    path = shutil.which("helm")
    if path is None:
        raise RuntimeError('helm is not on PATH: run `eval "$(hack/cluster.sh env)"`')
    return Helm(path=path, home=home)


def parse(manifests: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(manifests) if doc]


def objects(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in objects(docs, kind) if name is None or d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def values_args(values_file: Path | None) -> list[str]:
    return ["-f", str(values_file)] if values_file else []


def values_id(values_file: Path | None) -> str:
    return "default" if values_file is None else values_file.stem


# ------------------------------------------------------------------ the cluster
def server_version(cluster: Cluster) -> dict[str, str]:
    version: dict[str, str] = json.loads(cluster.kubectl("get", "--raw", "/version").stdout)
    return version


def installable_chart(cluster: Cluster) -> Path:
    """The chart to `helm install`, after checking the server meets its kubeVersion.

    hack/build-tools.sh stamps the local control plane's version like a release
    build, so `helm install` checks Chart.yaml's kubeVersion against a real
    gitVersion: the chart is installed exactly as users install it.
    """
    version = server_version(cluster)
    assert re.match(r"^v1\.\d+\.\d+", version["gitVersion"]), (
        f"the API server reports {version['gitVersion']!r}: rebuild it with hack/build-tools.sh, "
        "which stamps release versions"
    )
    return CHART
