"""CorePool: a set of arm64 nodes that Paddock places workloads on (cluster-scoped, `cpool`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from paddock.api.common import (
    AGE_COLUMN,
    CONDITIONS_SCHEMA_EXTRA,
    MAX_TOLERATIONS,
    ApiModel,
    Condition,
    CrdInfo,
    LabelSelector,
    ObjectMeta,
    PrinterColumn,
    StatusModel,
    Str,
    Toleration,
    WholeInt,
    name_length_rule,
    unique_by,
)

MAX_RESERVED_CORES_PER_NODE = 192
MAX_WEIGHT = 100
PRICE_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,9})?$"
"""A price as a plain decimal string ("0.0360"): exact, never a binary float on the wire."""

DURATION_PATTERN = r"^([0-9]+h)?([0-9]+m)?([0-9]+s)?$"
DEFAULT_PROVISIONING_TIMEOUT = "5m"
Duration = Annotated[str, StringConstraints(strict=True, max_length=16, pattern=DURATION_PATTERN)]


def duration_seconds(value: str) -> int:
    """Seconds of a duration such as "90s", "5m" or "1h30m" (the pattern is checked first)."""
    total, number = 0, ""
    for char in value:
        if char.isdigit():
            number += char
        else:
            total += int(number) * {"h": 3600, "m": 60, "s": 1}[char]
            number = ""
    return total


class Autoscaling(ApiModel):
    """The Karpenter NodePool that grows the pool, and how long a launch may take."""

    node_pool: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=253)] = Field(
        description=(
            "Name of the Karpenter NodePool (karpenter.sh/v1) whose nodes this pool selects. "
            "Its headroom (limits.cpu minus what exists and is launching, cut into the "
            "instance types its requirements allow) counts as potential capacity: workloads "
            "admitted against it are Provisioning until the nodes come up. One CorePool per "
            "NodePool."
        )
    )
    provisioning_timeout: Duration = Field(
        default=DEFAULT_PROVISIONING_TIMEOUT,
        description=(
            'How long replicas may wait for a node launch ("90s", "5m", "1h"): after it the '
            "waiting replicas' admission is withdrawn and the workload requeued with reason "
            "ProvisioningTimeout; no launch is asked for it for one more timeout."
        ),
    )

    @property
    def timeout_seconds(self) -> int:
        return max(1, duration_seconds(self.provisioning_timeout))


class CorePoolSpec(ApiModel):
    """What nodes make up the pool and how placed pods reach them."""

    node_selector: LabelSelector = Field(
        description=(
            "Selects the Nodes of the pool, e.g. matchLabels {karpenter.sh/nodepool: graviton4}. "
            "Only Ready, schedulable arm64 nodes count, whatever the selector says; an empty "
            "selector selects every arm64 node."
        )
    )
    tolerations: list[Toleration] | None = Field(
        default=None,
        max_length=MAX_TOLERATIONS,
        description=(
            "Tolerations added to every pod Paddock places in the pool, e.g. "
            "kubernetes.io/arch=arm64:NoSchedule for tainted Graviton node groups. "
            "They replace any tolerations in the workload's pod template."
        ),
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    reserved_cores_per_node: WholeInt = Field(
        default=0,
        ge=0,
        le=MAX_RESERVED_CORES_PER_NODE,
        description=(
            "Whole cores kept free on every node of the pool for daemons and system pods that "
            "are not yet running; Paddock never admits into them."
        ),
    )
    weight: WholeInt = Field(
        default=0,
        ge=0,
        le=MAX_WEIGHT,
        description=(
            "Preference among pools, 0 to 100: when a workload's budget and placement allow "
            "several pools in no particular order, higher weight is tried first."
        ),
    )
    max_cores: WholeInt | None = Field(
        default=None,
        ge=1,
        description=(
            "Cores an autoscaled pool may grow to (e.g. a Karpenter NodePool's limits.cpu). "
            "Unset: the pool is what its nodes offer now."
        ),
    )
    autoscaling: Autoscaling | None = Field(
        default=None,
        description=(
            "A Karpenter NodePool that launches the pool's nodes: Paddock then admits against "
            "the nodes it can still launch, within its limits.cpu and maxCores."
        ),
    )
    price_per_core_hour: (
        Annotated[str, StringConstraints(strict=True, max_length=20, pattern=PRICE_PATTERN)] | None
    ) = Field(
        default=None,
        description=(
            "What one core (one vCPU on Graviton) costs per hour in this pool, as a decimal "
            'string, e.g. "0.0360". The currency is set once for the operator (the chart\'s '
            "cost.currency). Unset: usage in the pool is counted in core-hours but costs 0."
        ),
    )


class CorePoolStatus(StatusModel):
    """What the pool offers now, observed by the operator."""

    nodes: WholeInt | None = Field(default=None, ge=0, description="Nodes the selector matches.")
    ready_nodes: WholeInt | None = Field(
        default=None, ge=0, description="Matched nodes that are Ready, schedulable and arm64."
    )
    architecture: Str | None = Field(
        default=None, description="CPU architecture of the ready nodes (arm64)."
    )
    generation: WholeInt | None = Field(
        default=None,
        ge=0,
        description="Graviton generation (2, 3 or 4) when all nodes share one; unset otherwise.",
    )
    zones: list[Str] | None = Field(
        default=None,
        description="Availability zones of the ready nodes, sorted.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    allocatable_cores: WholeInt | None = Field(
        default=None,
        ge=0,
        description="Whole allocatable cores of the ready nodes, minus reservedCoresPerNode.",
    )
    used_cores: WholeInt | None = Field(
        default=None, ge=0, description="Cores requested by all non-terminal pods on the nodes."
    )
    paddock_cores: WholeInt | None = Field(
        default=None, ge=0, description="Of usedCores, the cores of pods Paddock placed."
    )
    free_cores: WholeInt | None = Field(
        default=None, ge=0, description="Whole cores free for admission, summed over the nodes."
    )
    largest_free_block: WholeInt | None = Field(
        default=None,
        ge=0,
        description="Most free whole cores on a single node: the largest replica that fits now.",
    )
    potential_cores: WholeInt | None = Field(
        default=None,
        ge=0,
        description=(
            "Whole cores on nodes the pool's NodePool is launching or can still launch "
            "(autoscaled pools only), before this plan's admissions."
        ),
    )
    node_pool_limit_cores: WholeInt | None = Field(
        default=None, ge=0, description="The NodePool's limits.cpu (autoscaled pools only)."
    )
    node_pool_cores: WholeInt | None = Field(
        default=None,
        ge=0,
        description="Cores the NodePool counts against its limit: nodes and launches in flight.",
    )
    headroom_cores: WholeInt | None = Field(
        default=None,
        ge=0,
        description="limits.cpu minus nodePoolCores, within maxCores: vCPUs it may still launch.",
    )
    conditions: Annotated[list[Condition], AfterValidator(unique_by("type"))] | None = Field(
        default=None,
        description=(
            "Ready: the pool has at least one usable node (or, autoscaled, can launch one). "
            "Autoscaling: the NodePool's limit and headroom, or why it offers none."
        ),
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )


class CorePool(ApiModel):
    """CorePool is a set of arm64 (Graviton) nodes, selected by label, that Paddock places
    workloads on. Its status reports the whole cores the pool offers and how many are free."""

    api_version: Literal["paddock.dev/v1alpha1"] = "paddock.dev/v1alpha1"  # paddock.API_VERSION
    kind: Literal["CorePool"] = "CorePool"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CorePoolSpec
    status: CorePoolStatus | None = None

    rules = (name_length_rule("paddock.dev/pool"),)


CORE_POOL_CRD = CrdInfo(
    kind="CorePool",
    plural="corepools",
    singular="corepool",
    scope="Cluster",
    short_names=("cpool",),
    printer_columns=(
        PrinterColumn("Nodes", ".status.nodes", "integer", "Nodes the selector matches."),
        PrinterColumn("Ready", ".status.readyNodes", "integer", "Ready, schedulable arm64 nodes."),
        PrinterColumn("Gen", ".status.generation", "integer", "Graviton generation."),
        PrinterColumn(
            "Allocatable", ".status.allocatableCores", "integer", "Allocatable whole cores."
        ),
        PrinterColumn("Used", ".status.usedCores", "integer", "Cores requested by all pods."),
        PrinterColumn("Free", ".status.freeCores", "integer", "Whole cores free for admission."),
        PrinterColumn(
            "Potential",
            ".status.potentialCores",
            "integer",
            "Cores on nodes the NodePool is launching or can launch.",
        ),
        PrinterColumn(
            "Largest", ".status.largestFreeBlock", "integer", "Most free cores on one node."
        ),
        PrinterColumn(
            "Paddock", ".status.paddockCores", "integer", "Cores of pods Paddock placed.", 1
        ),
        PrinterColumn("Zones", ".status.zones", "string", "Zones of the ready nodes.", 1),
        PrinterColumn("Weight", ".spec.weight", "integer", "Preference among pools.", 1),
        PrinterColumn("NodePool", ".spec.autoscaling.nodePool", "string", "Karpenter NodePool.", 1),
        PrinterColumn("Limit", ".status.nodePoolLimitCores", "integer", "NodePool limits.cpu.", 1),
        PrinterColumn("Price", ".spec.pricePerCoreHour", "string", "Price per core-hour.", 1),
        AGE_COLUMN,
    ),
)
