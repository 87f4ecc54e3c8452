"""The Graviton instance types Paddock knows, with the labels EKS and Karpenter give their nodes.

Why a catalogue in code: Karpenter does not publish the instance types it may launch through the
Kubernetes API, so Paddock, to know whether a replica fits one node a NodePool could launch,
derives vCPU and memory from the instance type's name, as EKS defines them (on Graviton one vCPU
is one physical core). The same table generates the instance-type file of the local Karpenter
(`python3 -m paddock.autoscaling.instance_types --kwok`), so the simulated cloud and Paddock agree.

Standard library only: hack/cluster.sh runs it before any virtualenv exists.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

SIZES: dict[str, int] = {
    "medium": 1,
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "12xlarge": 48,
    "16xlarge": 64,
    "24xlarge": 96,
    "48xlarge": 192,
}
"""Instance size -> vCPUs (the same for every Graviton family)."""

MEMORY_GIB_PER_VCPU = {"c": 2, "m": 4, "r": 8}

LARGEST_SIZE = {"6": "16xlarge", "7": "16xlarge", "8": "48xlarge"}
"""Graviton2 and 3 stop at 16xlarge (64 vCPU); Graviton4 goes to 48xlarge (192 vCPU)."""

PRICE_PER_VCPU_HOUR = {
    "c6g": 0.034,
    "m6g": 0.0385,
    "r6g": 0.0504,
    "c7g": 0.03625,
    "m7g": 0.0408,
    "r7g": 0.05355,
    "c8g": 0.03988,
    "m8g": 0.04488,
    "r8g": 0.0589,
}
"""On-demand USD per vCPU-hour (us-east-1, Linux); spot offerings in the local cloud cost 40%."""

KUBELET_RESERVED_CORES = 1
"""Whole cores a new node loses to the kubelet: EKS reserves 60 m + 10 m + ... (Karpenter's kwok
provider 100 m), so its allocatable CPU is just under its vCPUs and floor() drops one core."""

ARCH_LABEL = "kubernetes.io/arch"
OS_LABEL = "kubernetes.io/os"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
ZONE_LABEL = "topology.kubernetes.io/zone"
CAPACITY_TYPE_LABEL = "karpenter.sh/capacity-type"
NODEPOOL_LABEL = "karpenter.sh/nodepool"
AWS = "karpenter.k8s.aws"
FAMILY_LABEL = f"{AWS}/instance-family"
SIZE_LABEL = f"{AWS}/instance-size"
CPU_LABEL = f"{AWS}/instance-cpu"
MEMORY_LABEL = f"{AWS}/instance-memory"
GENERATION_LABEL = f"{AWS}/instance-generation"
CATEGORY_LABEL = f"{AWS}/instance-category"
MANUFACTURER_LABEL = f"{AWS}/instance-cpu-manufacturer"
HYPERVISOR_LABEL = f"{AWS}/instance-hypervisor"
KWOK = "karpenter.kwok.sh"
"""Karpenter's kwok provider names its own family/size/cpu/memory labels with this prefix."""

ZONES = ("us-west-2a", "us-west-2b", "us-west-2c")


@dataclass(frozen=True, slots=True)
class InstanceType:
    """One Graviton instance type: its name, vCPUs (= cores), memory and on-demand price."""

    name: str
    family: str
    size: str
    vcpus: int
    memory_mib: int
    price_per_hour: float

    @property
    def category(self) -> str:
        return self.family[0]

    @property
    def generation(self) -> str:
        return self.family[1]

    @property
    def usable_cores(self) -> int:
        """Whole cores a pod can request on a fresh node of this type."""
        return self.vcpus - KUBELET_RESERVED_CORES

    def labels(self) -> dict[str, str]:
        """The well-known labels a node of this type carries on EKS with Karpenter."""
        return {
            ARCH_LABEL: "arm64",
            OS_LABEL: "linux",
            INSTANCE_TYPE_LABEL: self.name,
            FAMILY_LABEL: self.family,
            SIZE_LABEL: self.size,
            CPU_LABEL: str(self.vcpus),
            MEMORY_LABEL: str(self.memory_mib),
            GENERATION_LABEL: self.generation,
            CATEGORY_LABEL: self.category,
            MANUFACTURER_LABEL: "aws",
            HYPERVISOR_LABEL: "nitro",
            f"{KWOK}/instance-family": self.family,
            f"{KWOK}/instance-size": self.size,
            f"{KWOK}/instance-cpu": str(self.vcpus),
            f"{KWOK}/instance-memory": f"{self.memory_mib}Mi",
        }


def _catalogue() -> dict[str, InstanceType]:
    out: dict[str, InstanceType] = {}
    for family, per_vcpu in PRICE_PER_VCPU_HOUR.items():
        largest = SIZES[LARGEST_SIZE[family[1]]]
        for size, vcpus in SIZES.items():
            if vcpus > largest:
                continue
            name = f"{family}.{size}"
            out[name] = InstanceType(
                name=name,
                family=family,
                size=size,
                vcpus=vcpus,
                memory_mib=vcpus * MEMORY_GIB_PER_VCPU[family[0]] * 1024,
                price_per_hour=round(vcpus * per_vcpu, 5),
            )
    return out


CATALOGUE: dict[str, InstanceType] = _catalogue()
"""Every Graviton instance type Paddock knows, by name."""


def kwok_instance_types(families: tuple[str, ...] = ("c7g", "c8g", "m8g", "r8g")) -> list[Any]:
    """The instance-type file of Karpenter's kwok provider (its `InstanceTypeOptions` JSON):
    arm64 Graviton types in three zones, on-demand and spot. Offering requirements with one
    value become node labels, which is how launched nodes get EKS's karpenter.k8s.aws labels."""
    out: list[Any] = []
    for it in CATALOGUE.values():
        if it.family not in families:
            continue
        extra = [
            {"key": key, "operator": "In", "values": [value]}
            for key, value in it.labels().items()
            if key.startswith(f"{AWS}/")
        ]
        offerings = []
        for zone in ZONES:
            for capacity_type, factor in (("on-demand", 1.0), ("spot", 0.4)):
                offerings.append(
                    {
                        "Price": round(it.price_per_hour * factor, 5),
                        "Available": True,
                        "Requirements": [
                            {
                                "key": CAPACITY_TYPE_LABEL,
                                "operator": "In",
                                "values": [capacity_type],
                            },
                            {"key": ZONE_LABEL, "operator": "In", "values": [zone]},
                            *extra,
                        ],
                    }
                )
        out.append(
            {
                "name": it.name,
                "offerings": offerings,
                "architecture": "arm64",
                "operatingSystems": ["linux"],
                "resources": {
                    "cpu": str(it.vcpus),
                    "memory": f"{it.memory_mib}Mi",
                    "pods": "110" if it.vcpus < 48 else "737",
                },
            }
        )
    return out


def main(argv: list[str]) -> int:
    """`--kwok`: print the instance-type file for Karpenter's kwok provider."""
    if argv[1:] != ["--kwok"]:
        print("usage: python3 -m paddock.autoscaling.instance_types --kwok", file=sys.stderr)
        return 2
    json.dump(kwok_instance_types(), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
