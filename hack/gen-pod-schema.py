#!/usr/bin/env python3
"""Write operator/paddock/api/k8s/podtemplatespec.json: the API server's own schema of
core/v1 PodTemplateSpec (and everything it refers to), the source of spec.template.spec in the
AgentWorkload CRD and of the operator's template validation.

    eval "$(hack/cluster.sh env)"; .venv/bin/python hack/gen-pod-schema.py   # from the cluster
    .venv/bin/python hack/gen-pod-schema.py --openapi FILE --version v1.37.2  # from a file
    .venv/bin/python hack/gen-pod-schema.py --check                            # compare only

With the local control plane up (the pinned Kubernetes of hack/tools/go.mod) it reads
`/openapi/v3/api/v1` and `/version` through kubectl; `--openapi` takes a saved copy instead,
e.g. api/openapi-spec/v3/api__v1_openapi.json of the Kubernetes source tree. Afterwards run
hack/gen-crds.sh to regenerate crds/ and docs/api.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from paddock.api import podspec


def _kubectl_raw(path: str) -> Any:
    kubectl = os.environ.get("KUBECTL", "kubectl")
    result = subprocess.run(
        [kubectl, "get", "--raw", path], check=True, capture_output=True, text=True
    )
    return json.loads(result.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--openapi", type=Path, help="a saved /openapi/v3/api/v1 document")
    parser.add_argument("--version", help="its Kubernetes version (with --openapi), e.g. v1.37.2")
    parser.add_argument("--check", action="store_true", help="exit 1 when the file differs")
    parser.add_argument("--out", type=Path, default=podspec.SCHEMA_FILE)
    args = parser.parse_args(argv)
    if args.openapi:
        if not args.version:
            parser.error("--openapi needs --version")
        openapi, version = json.loads(args.openapi.read_text()), args.version
    else:
        openapi, version = (
            _kubectl_raw("/openapi/v3/api/v1"),
            _kubectl_raw("/version")["gitVersion"],
        )
    text = podspec.dump(podspec.snapshot(openapi, version))
    current = args.out.read_text() if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"{args.out}: differs from Kubernetes {version}", file=sys.stderr)
            return 1
        print(f"{args.out}: matches Kubernetes {version}")
        return 0
    if current != text:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    schemas = len(json.loads(text)["schemas"])
    print(f"{args.out}: Kubernetes {version}, {schemas} schemas, {len(text)} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
