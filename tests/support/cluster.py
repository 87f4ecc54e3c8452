"""Access to the local control plane for tests: kubectl and the Python client.

The cluster is the one `hack/cluster.sh up` starts. Tests find it through
KUBECONFIG (set by `eval "$(hack/cluster.sh env)"` or by hack/test.sh); when
it is absent the integration suite fails loudly rather than skipping, because
a skipped integration suite proves nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Cluster:
    """A reachable API server and the kubectl that talks to it."""

    kubeconfig: Path
    kubectl_path: str

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; with check=True a non-zero exit raises with stderr in the message."""
        result = subprocess.run(
            [self.kubectl_path, f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def get_json(self, *args: str) -> Any:
        """`kubectl get ... -o json`, parsed."""
        return json.loads(self.kubectl("get", *args, "-o", "json").stdout)

    def wait_established(self, *crds: str, timeout: float = 60) -> None:
        """Wait until each CRD is Established. `kubectl wait` fails at once, instead of
        waiting, while a just-created CRD has no status conditions yet."""

        def established(name: str) -> bool:
            found = self.kubectl("get", "crd", name, "-o", "json", check=False)
            if found.returncode != 0:
                return False
            conditions = (json.loads(found.stdout).get("status") or {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

        for name in crds:
            wait_for(
                lambda name=name: established(name), timeout=timeout, what=f"{name} Established"
            )

    def apply(self, manifest: str, namespace: str | None = None) -> None:
        extra = ["-n", namespace] if namespace else []
        self.kubectl("apply", *extra, "-f", "-", input=manifest)

    def token_kubeconfig(self, token: str, path: Path) -> Cluster:
        """The same cluster seen with only a bearer token (no admin client certificate).

        Used to prove RBAC: whatever works through it, the token's identity may do.
        """
        admin = yaml.safe_load(self.kubeconfig.read_text())
        cluster = admin["clusters"][0]
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [cluster],
                    "users": [{"name": "token", "user": {"token": token}}],
                    "contexts": [
                        {"name": "token", "context": {"cluster": cluster["name"], "user": "token"}}
                    ],
                    "current-context": "token",
                }
            )
        )
        path.chmod(0o600)
        return Cluster(kubeconfig=path, kubectl_path=self.kubectl_path)


def find_cluster() -> Cluster:
    """The cluster from KUBECONFIG, or the default path hack/cluster.sh writes."""
    kubeconfig = Path(
        os.environ.get("KUBECONFIG", REPO_ROOT / ".local" / "cluster" / "admin.kubeconfig")
    )
    if not kubeconfig.exists():
        raise RuntimeError(
            f"no kubeconfig at {kubeconfig}: start the local control plane with "
            "`hack/cluster.sh up` (or run the whole suite with hack/test.sh)"
        )
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RuntimeError('kubectl is not on PATH: run `eval "$(hack/cluster.sh env)"`')
    return Cluster(kubeconfig=kubeconfig, kubectl_path=kubectl)
