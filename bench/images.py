"""Benchmark of the image architecture check against the loopback registry.

    eval "$(hack/cluster.sh env)"            # PADDOCK_REGISTRY (CNCF Distribution on loopback)
    .venv/bin/python bench/images.py          # 100 images of each kind, 20 rounds of hits
    .venv/bin/python bench/images.py --quick  # 20 images of each kind

Pushes its own images (single-platform OCI manifests, which need a second request for the
config blob, and OCI indexes with attestation entries), then times, with the operator's code
(`paddock.images.checker.ImageChecker`, one `RegistryClient`):

- a **miss**: `check()`, one full resolution against the registry (what a worker does for an
  image the cache does not hold), sequentially, so the figure is one resolution's latency;
- a **hit**: `lookup()` of a cached, fresh reference (what the scheduling loop does per image
  and per cycle);
- a **burst**: every image at once through the bounded worker pool (concurrency 8), until all
  are cached: resolutions per second.

With `--admissions N` it also measures admissions per second end to end on the local control
plane (KUBECONFIG), with the check off and then on: the real operator (`paddock run`) admits N
AgentWorkloads (one core each, on kwok nodes) whose images are N distinct multi-arch images
in the loopback registry, so every admission with the check on waits for one resolution.

Run under `flock /work/wt/heavy.lock` on the shared machines, and note `uptime` with the
figures. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
try:
    import paddock.images  # noqa: F401
except ImportError:  # a checkout without the package installed
    sys.path.insert(0, str(ROOT / "operator"))

from tests.support.registry import Registry  # noqa: E402

from paddock.images.checker import ImageChecker  # noqa: E402
from paddock.images.registry import RegistryClient  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 50) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--images", type=int, default=100, help="images of each kind")
    parser.add_argument("--rounds", type=int, default=20, help="rounds of cache hits")
    parser.add_argument("--admissions", type=int, default=0, help="workloads per on/off run")
    args = parser.parse_args()
    count = 20 if args.quick else args.images
    registry = Registry.from_env()
    run = uuid.uuid4().hex[:6]
    started = time.perf_counter()
    singles = [registry.image(f"bench-{run}/single{i}", "1").reference for i in range(count)]
    indexes = [
        registry.index(
            f"bench-{run}/multi{i}", "1", ["linux/amd64", "linux/arm64"], attestations=True
        ).reference
        for i in range(count)
    ]
    pushed_s = time.perf_counter() - started

    client = RegistryClient(timeout=10)
    checker = ImageChecker(client, ttl=3600, concurrency=8)
    miss: dict[str, list[float]] = {"single": [], "index": []}
    for kind, images in (("single", singles), ("index", indexes)):
        for image in images:
            t0 = time.perf_counter()
            result = checker.check(image)
            miss[kind].append(time.perf_counter() - t0)
            assert result.offers_wanted, result

    # The burst: every image through the worker pool, from an empty cache.
    done = threading.Event()
    all_images = singles + indexes
    finished = [0]
    lock = threading.Lock()

    def poked(_reason: str) -> None:
        with lock:
            finished[0] += 1
            if finished[0] == len(all_images):
                done.set()

    burst = ImageChecker(client, ttl=3600, concurrency=8, poke=poked)
    t0 = time.perf_counter()
    for image in all_images:
        burst.lookup(image)
    done.wait(timeout=300)
    burst_s = time.perf_counter() - t0

    hits: list[float] = []
    for _ in range(args.rounds):
        for image in all_images:
            t0 = time.perf_counter()
            found = burst.lookup(image)
            hits.append(time.perf_counter() - t0)
            assert found.fresh
    burst.close()
    checker.close()

    load = os.getloadavg()
    figures = {
        "registry": registry.host,
        "images": len(all_images),
        "miss_single_manifest": ms(miss["single"]),
        "miss_index": ms(miss["index"]),
        "hit": ms(hits),
        "burst_resolutions_per_s": round(len(all_images) / burst_s, 1),
        "push_s": round(pushed_s, 2),
        "loadavg": [round(x, 2) for x in load],
    }
    print(f"registry {registry.host}, {len(all_images)} images, load average {load[0]:.2f}")
    for name in ("miss_single_manifest", "miss_index", "hit"):
        f = figures[name]
        assert isinstance(f, dict)
        print(f"  {name:22s} p50 {f['p50_ms']:8.3f} ms   p99 {f['p99_ms']:8.3f} ms   (n={f['n']})")
    print(f"  burst through 8 workers: {figures['burst_resolutions_per_s']} resolutions/s")
    if args.admissions:
        for mode in ("off", "on"):
            figures[f"admissions_per_s_check_{mode}"] = admissions(
                registry, args.admissions, mode == "on"
            )
            print(
                f"  admissions/s with the check {mode}: {figures[f'admissions_per_s_check_{mode}']}"
            )
    print(json.dumps(figures))


def admissions(registry: Registry, count: int, check: bool) -> float:
    """Admissions per second of `count` fresh workloads through the real operator."""
    import tempfile

    from tests.support.cluster import find_cluster
    from tests.support.operator import OperatorProcess
    from tests.support.paddock import Ground
    from tests.support.waiting import wait_for

    cluster = find_cluster()
    run = uuid.uuid4().hex[:6]
    images = [
        registry.index(f"adm-{run}/w{i}", "1", ["linux/amd64", "linux/arm64"]).reference
        for i in range(count)
    ]
    namespace = f"bench-images-{run}"
    cluster.kubectl("create", "namespace", namespace)
    ground = Ground(cluster=cluster, namespace=namespace)
    env = {"PADDOCK_IMAGE_CHECK": "Enabled" if check else "Disabled"}
    log = Path(tempfile.mkdtemp()) / "paddock.log"
    operator = OperatorProcess(
        kubeconfig=cluster.kubeconfig, log_path=log, extra_env=env, restart_on_exit=True
    )
    try:
        ground.add_nodes("g4", "c8g.16xlarge", max(1, count // 60 + 1))
        ground.pool("g4")
        budget = ground.budget("bench", count)
        operator.start()
        started = time.perf_counter()
        items = [
            {
                "apiVersion": "paddock.dev/v1alpha1",
                "kind": "AgentWorkload",
                "metadata": {"name": f"w{i}", "namespace": namespace},
                "spec": {
                    "budget": budget,
                    "replicas": 1,
                    "coresPerReplica": 1,
                    "memoryPerReplica": "256Mi",
                    "template": {"spec": {"containers": [{"name": "a", "image": image}]}},
                },
            }
            for i, image in enumerate(images)
        ]
        cluster.kubectl(
            "apply",
            "-f",
            "-",
            input=json.dumps({"apiVersion": "v1", "kind": "List", "items": items}),
        )

        def admitted() -> bool:
            listed = cluster.get_json("aw", "-n", namespace)
            done = [i for i in listed["items"] if (i.get("status") or {}).get("admittedReplicas")]
            return len(done) == count

        wait_for(admitted, timeout=600, what=f"{count} admissions", interval=0.5)
        return round(count / (time.perf_counter() - started), 1)
    finally:
        operator.stop()
        ground.cleanup()
        cluster.kubectl("delete", "namespace", namespace, "--wait=false", check=False)


if __name__ == "__main__":
    main()
