#!/usr/bin/env python3
"""Generate kwok Nodes that look like EKS Graviton (and a few amd64) nodes.

Prints a JSON `List` for `kubectl apply -f -`. Labels are the ones real
clusters carry (arch, instance type, zone, Karpenter pool and family, CPU
maker); capacity follows the instance size (one vCPU is one core on Graviton)
and allocatable subtracts EKS's kubelet reservation, so a c7g.4xlarge offers
15 whole cores, as on a real cluster.

  hack/fake-nodes.py --default                      # the local default pools
  hack/fake-nodes.py --pool big --type c8g.12xlarge --count 4 --taint
  hack/fake-nodes.py --pool g3 --type c7g.2xlarge --count 5000 --zones 3

Only the standard library: it runs before any virtualenv exists.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Any

SIZES = {  # instance size -> vCPUs
    "medium": 1,
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}
MEMORY_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}
GRAVITON_GENERATION = {"6": "2", "7": "3", "8": "4"}
ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")
ARM64_TAINT = {"key": "kubernetes.io/arch", "value": "arm64", "effect": "NoSchedule"}

# (pool, instance type, count, tainted): 32 arm64 nodes over three Graviton
# generations, and 3 amd64 nodes that Paddock must never use.
DEFAULT_POOLS = (
    ("graviton2", "c6g.2xlarge", 10, False),
    ("graviton3", "c7g.4xlarge", 12, True),
    ("graviton4", "c8g.4xlarge", 8, True),
    ("graviton4", "m8g.8xlarge", 2, True),
    ("general-amd64", "c7i.2xlarge", 3, False),
)


def reserved_millicores(vcpus: int) -> int:
    """EKS's kubelet CPU reservation: 6% of core 1, 1% of core 2, 0.5% of 3-4, 0.25% above."""
    steps = ((1, 60), (1, 10), (2, 5), (max(vcpus - 4, 0), 2.5))
    total, left = 0.0, vcpus
    for cores, millis in steps:
        used = min(cores, left)
        total += used * millis
        left -= used
    return int(total)


def node(name: str, pool: str, instance_type: str, zone: str, tainted: bool) -> dict[str, Any]:
    family, size = instance_type.split(".")
    if size not in SIZES:
        raise SystemExit(
            f"unknown instance size {size!r} in {instance_type!r}; use one of {list(SIZES)}"
        )
    vcpus = SIZES[size]
    arm64 = "g" in family[2:]  # c6g, c7gn, m8gd: the "g" after the generation digit
    arch = "arm64" if arm64 else "amd64"
    memory_gib = vcpus * MEMORY_GIB_PER_VCPU.get(family[0], 4)
    memory_mib = memory_gib * 1024
    allocatable_memory_mib = memory_mib - 255 - 11 * 110 - 100
    labels = {
        "type": "kwok",
        "kubernetes.io/arch": arch,
        "kubernetes.io/os": "linux",
        "kubernetes.io/hostname": name,
        "node.kubernetes.io/instance-type": instance_type,
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": zone[:-1],
        "karpenter.sh/nodepool": pool,
        "karpenter.sh/capacity-type": "on-demand",
        "karpenter.k8s.aws/instance-family": family,
        "karpenter.k8s.aws/instance-size": size,
        "karpenter.k8s.aws/instance-cpu": str(vcpus),
        "karpenter.k8s.aws/instance-cpu-manufacturer": "aws" if arm64 else "intel",
    }
    if arm64 and family[1] in GRAVITON_GENERATION:
        labels["karpenter.k8s.aws/instance-generation"] = family[1]
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "kwok.x-k8s.io/node": "fake"},
        },
        # As on EKS, every node has a providerID. Karpenter (hack/cluster.sh up --karpenter)
        # needs it: a node labelled karpenter.sh/nodepool without one keeps its cluster state
        # from ever syncing, and it then launches nothing.
        "spec": {
            "taints": [ARM64_TAINT] if tainted else [],
            "providerID": f"aws:///{zone}/i-{hashlib.sha1(name.encode()).hexdigest()[:17]}",
        },
        "status": {
            # Ephemeral storage as a Karpenter node has it: a 20Gi root volume, less the EKS
            # AMI's 1Gi kube-reserved and 10% eviction threshold. Without it no pod that
            # requests ephemeral-storage (the operator's own does) could be scheduled here.
            "capacity": {
                "cpu": str(vcpus),
                "memory": f"{memory_mib}Mi",
                "ephemeral-storage": "20Gi",
                "pods": "110",
            },
            "allocatable": {
                "cpu": f"{vcpus * 1000 - reserved_millicores(vcpus)}m",
                "memory": f"{allocatable_memory_mib}Mi",
                "ephemeral-storage": "17Gi",
                "pods": "110",
            },
            "nodeInfo": {
                "architecture": arch,
                "operatingSystem": "linux",
                "kubeletVersion": "kwok",
                "kubeProxyVersion": "kwok",
                "containerRuntimeVersion": "kwok",
                "kernelVersion": "kwok",
                "osImage": "kwok",
                "machineID": name,
                "systemUUID": name,
                "bootID": name,
            },
        },
    }


def pool_nodes(
    pool: str, instance_type: str, count: int, tainted: bool, zones: int, start: int = 0
) -> list[dict[str, Any]]:
    slug = instance_type.replace(".", "-")
    return [
        node(f"{pool}-{slug}-{i}", pool, instance_type, ZONES[i % zones], tainted)
        for i in range(start, start + count)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--default", action="store_true", help="the default local pools")
    parser.add_argument("--pool", help="karpenter.sh/nodepool value of the new nodes")
    parser.add_argument("--type", dest="instance_type", help="instance type, e.g. c8g.4xlarge")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--start", type=int, default=0, help="first node index (to add to a pool)")
    parser.add_argument("--zones", type=int, default=3, choices=(1, 2, 3))
    parser.add_argument(
        "--taint", action="store_true", help="add kubernetes.io/arch=arm64:NoSchedule"
    )
    args = parser.parse_args(argv)

    items: list[dict[str, Any]] = []
    if args.default:
        for pool, instance_type, count, tainted in DEFAULT_POOLS:
            items += pool_nodes(pool, instance_type, count, tainted, 3)
    if args.pool or args.instance_type:
        if not (args.pool and args.instance_type):
            parser.error("--pool and --type go together")
        items += pool_nodes(
            args.pool, args.instance_type, args.count, args.taint, args.zones, args.start
        )
    if not items:
        parser.error("say --default, or --pool NAME --type TYPE [--count N]")
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
