"""Names Paddock writes onto the objects it owns, in one place."""

from paddock import GROUP

WORKLOAD_LABEL = f"{GROUP}/workload"
"""On Deployments and pods: the AgentWorkload's name (the namespace is the object's own)."""

POOL_LABEL = f"{GROUP}/pool"
"""On Deployments and pods: the CorePool the replicas were placed in."""

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "paddock"

FIELD_MANAGER = "paddock"
"""Server-side apply and patch field manager, so `kubectl get --show-managed-fields` names us."""

ARCH_LABEL = "kubernetes.io/arch"
ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
INSTANCE_TYPE_LABEL = "node.kubernetes.io/instance-type"
INSTANCE_FAMILY_LABEL = "karpenter.k8s.aws/instance-family"


def workload_selector(name: str) -> str:
    """The label selector of a workload's pods in every pool, as the /scale subresource gives
    it to HPA and KEDA (the PodDisruptionBudget selects the same pods). Stable: the name only."""
    return f"{WORKLOAD_LABEL}={name}"
