"""AgentWorkload: one replicated agent or CPU inference service (namespaced, `aw`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from paddock.api.common import (
    AGE_COLUMN,
    CONDITIONS_SCHEMA_EXTRA,
    ApiModel,
    Condition,
    CrdInfo,
    LabelValue,
    MemoryQuantity,
    ObjectMeta,
    ObjectName,
    PrinterColumn,
    Rule,
    ScaleSubresource,
    StatusModel,
    Str,
    WholeInt,
    name_length_rule,
    parse_memory_bytes,
    unique_by,
    unique_items,
)
from paddock.api.podspec import pod_spec_schema, validate_pod_spec

MAX_REPLICAS = 10_000
MAX_CORES_PER_REPLICA = 192
"""The largest Graviton node (c8g.48xlarge, c8g.metal-48xl) has 192 cores."""
MIN_PRIORITY, MAX_PRIORITY = -1_000_000, 1_000_000

Phase = Literal["Queued", "Provisioning", "Admitted", "Running", "Degraded", "Preempted", "Invalid"]
Spread = Literal["Zone", "Node", "None"]


class Placement(ApiModel):
    """Where the replicas go, within the pools the budget allows."""

    pools: Annotated[list[ObjectName], AfterValidator(unique_items)] | None = Field(
        default=None,
        description=(
            "CorePool names to use, in order of preference: narrows or reorders the budget's "
            "pools (a pool the budget does not allow is never used). Unset: the budget's pools."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    spread: Spread = Field(
        default="None",
        description=(
            "Zone: spread replicas evenly over availability zones. Node: at most one replica per "
            "node. None: pack replicas as the pools allow."
        ),
    )


class TemplateMetadata(ApiModel):
    """Labels and annotations for the pods; Paddock adds paddock.dev/workload and
    paddock.dev/pool."""

    labels: dict[str, LabelValue] | None = Field(
        default=None, description="Labels added to every pod."
    )
    annotations: dict[str, Str] | None = Field(
        default=None, description="Annotations added to every pod."
    )


class _PodSpecJsonSchema:
    """Annotated marker: the JSON schema of spec.template.spec is the structural form of the
    Kubernetes PodSpec schema (built only when a schema is asked for, e.g. by crdgen)."""

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return pod_spec_schema()


PodSpec = Annotated[dict[str, Any], BeforeValidator(validate_pod_spec), _PodSpecJsonSchema()]
"""A core/v1 PodSpec, validated against the real schema of the pinned Kubernetes version
(paddock.api.podspec) and kept as plain data, as the API server stores it."""


class PodTemplate(ApiModel):
    """A core/v1 PodTemplateSpec for the replicas: the metadata Paddock passes on (labels and
    annotations) and a real Kubernetes PodSpec."""

    metadata: TemplateMetadata | None = Field(
        default=None, description="Labels and annotations for the pods."
    )
    spec: PodSpec


class AgentWorkloadSpec(ApiModel):
    """What to run, how many replicas of how many cores, and against which budget."""

    budget: ObjectName | None = Field(
        default=None,
        description=(
            "Name of the CoreBudget to draw cores from. Optional when exactly one CoreBudget "
            "selects the workload's namespace."
        ),
    )
    replicas: WholeInt = Field(
        ge=0,
        le=MAX_REPLICAS,
        description=(
            "Replicas wanted. Paddock admits between minReplicas and replicas. 0 scales the "
            "workload to zero: it holds no cores and runs no pods until raised again. The "
            "/scale subresource sets this field (kubectl scale, HorizontalPodAutoscaler, KEDA)."
        ),
    )
    min_replicas: WholeInt | None = Field(
        default=None,
        ge=0,
        le=MAX_REPLICAS,
        description=(
            "Elastic floor: the workload is admitted with fewer replicas than wanted, but never "
            "fewer than this (and never fewer than 1), and grows when cores free up. Unset: equal "
            "to replicas (all or nothing). 0 lets an autoscaler scale the workload to zero."
        ),
    )
    cores_per_replica: WholeInt = Field(
        ge=1,
        le=MAX_CORES_PER_REPLICA,
        description=(
            "Whole cores per replica, 1 to 192 (one vCPU is one physical core on Graviton). "
            "Each replica gets requests == limits of this many CPUs: Guaranteed QoS, so the "
            "kubelet's static CPU manager can pin it to exclusive cores."
        ),
    )
    memory_per_replica: MemoryQuantity = Field(
        description=(
            "Memory per replica (requests == limits), a positive quantity such as 512Mi, 4Gi or "
            "1.5Gi, starting with a non-zero digit. Required: there is no default."
        )
    )
    priority: WholeInt = Field(
        default=0,
        ge=MIN_PRIORITY,
        le=MAX_PRIORITY,
        description=(
            "Queue order and preemption rank within the budget and cohort: higher first. "
            "-1000000 to 1000000."
        ),
    )
    placement: Placement = Field(
        default_factory=Placement,
        description="Which pools to use and how to spread the replicas.",
        json_schema_extra={"default": {}},
    )
    pod_disruption_budget: Literal["Enabled", "Disabled"] = Field(
        default="Enabled",
        description=(
            "Enabled: from when its minReplicas are first Ready, Paddock keeps a "
            "PodDisruptionBudget with minAvailable = minReplicas over the workload's pods, so "
            "kubectl drain, node upgrades and Karpenter's disruption never take it below its "
            "floor (not before: it would only block drains of pods never ready). Disabled: no "
            "PodDisruptionBudget (drains may evict every replica at once)."
        ),
    )
    image_policy: Literal["Tag", "PinDigest"] = Field(
        default="Tag",
        description=(
            "Tag: the Deployments run the images as written. PinDigest: Paddock renders the "
            "digest it checked for linux/arm64 into the Deployments (repository:tag@sha256:...), "
            "so every replica runs the very image that was checked, even if the tag moves."
        ),
    )
    template: PodTemplate = Field(
        description=(
            "The pod template of the replicas. Paddock owns CPU and memory requests and limits, "
            "node affinity and tolerations, and says so in an event when it overrides a value."
        )
    )

    rules = (
        Rule(
            cel="!has(self.minReplicas) || self.minReplicas <= self.replicas",
            message=(
                "spec.minReplicas must be <= spec.replicas: lower minReplicas or raise replicas"
            ),
            message_expression=(
                "'spec.minReplicas (%d) must be <= spec.replicas (%d): lower minReplicas or raise "
                "replicas'.format([self.minReplicas, self.replicas])"
            ),
            explain=lambda s: (
                f"spec.minReplicas ({s.min_replicas}) must be <= spec.replicas ({s.replicas}): "
                "lower minReplicas or raise replicas"
            ),
            check=lambda s: s.min_replicas is None or s.min_replicas <= s.replicas,
            field_path=".minReplicas",
        ),
    )

    @property
    def effective_min_replicas(self) -> int:
        """minReplicas, or replicas when unset."""
        return self.replicas if self.min_replicas is None else self.min_replicas

    @property
    def memory_bytes_per_replica(self) -> int:
        """memoryPerReplica in bytes."""
        return parse_memory_bytes(self.memory_per_replica)

    @property
    def requested_cores(self) -> int:
        """Cores for all wanted replicas."""
        return self.replicas * self.cores_per_replica


class Assignment(StatusModel):
    """Replicas admitted into one pool."""

    pool: Str = Field(description="CorePool name.")
    replicas: WholeInt = Field(ge=0, description="Replicas admitted into the pool.")


class ImageStatus(StatusModel):
    """One image of the pod template as the architecture check saw it."""

    container: Str = Field(description="Container name.")
    image: Str = Field(description="The image as written in the template.")
    kind: Str | None = Field(
        default=None, description="init container or sidecar; unset for a container."
    )
    outcome: Str = Field(
        description=(
            "Offered (has linux/arm64), Missing (the registry answered without linux/arm64), "
            "Unchecked (the registry could not be asked or refused) or Pending."
        )
    )
    platforms: Str | None = Field(
        default=None, description="The platforms the image offers, e.g. linux/amd64, linux/arm64."
    )
    digest: Str | None = Field(default=None, description="The digest the reference resolved to.")
    detail: Str | None = Field(default=None, description="Why it is not Offered.")
    checked_at: Str | None = Field(
        default=None,
        description=(
            "When the registry first gave this answer (the operator re-checks every cache TTL; "
            "an unchanged answer keeps the time)."
        ),
    )


class AgentWorkloadStatus(StatusModel):
    """Where the workload is and why, written by the operator."""

    phase: Phase | None = Field(
        default=None,
        # The API server shows a workload the operator has not written yet as Queued (a CRD
        # default, applied on read): a deep queue costs no write per workload (issue #15).
        json_schema_extra={"default": "Queued"},
        description=(
            "Queued: waiting for cores (also what a workload shows before the operator first "
            "writes its status: deep in a queue that is only when it nears the head; "
            "`kubectl paddock explain` tells its position and why at any time). Admitted: "
            "cores granted, pods starting. Running: all admitted replicas ready. Degraded: "
            "fewer ready than admitted, or admitted replicas lost their pods and wait for room "
            "(reason ReplicasUnplaced). Preempted: evicted to make room, queued again. "
            "Invalid: the spec cannot be used as written (the message names the field and the "
            "fix); replicas already running keep running."
        ),
    )
    observed_generation: WholeInt | None = Field(
        default=None, ge=0, description="The metadata.generation this status describes."
    )
    budget: Str | None = Field(
        default=None, description="The CoreBudget the workload draws on (spec.budget or resolved)."
    )
    reason: Str | None = Field(
        default=None,
        description="CamelCase reason of the latest decision, e.g. BudgetExhausted, NoFit.",
    )
    message: Str | None = Field(
        default=None, description="Human-readable explanation of the latest decision."
    )
    requested_cores: WholeInt | None = Field(
        default=None, ge=0, description="replicas x coresPerReplica."
    )
    admitted_cores: WholeInt | None = Field(
        default=None, ge=0, description="Cores of the admitted replicas."
    )
    admitted_replicas: WholeInt | None = Field(
        default=None, ge=0, description="Replicas admitted (between minReplicas and replicas)."
    )
    ready_replicas: WholeInt | None = Field(
        default=None, ge=0, description="Admitted replicas whose pods are ready."
    )
    assignments: Annotated[list[Assignment], AfterValidator(unique_by("pool"))] | None = Field(
        default=None,
        description="Admitted replicas per pool.",
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["pool"],
        },
    )
    pools: Str | None = Field(
        default=None,
        description="The assignments in short, pool:replicas, e.g. graviton4:3,graviton3:1.",
    )
    queue_position: WholeInt | None = Field(
        default=None, ge=1, description="1-based position in the budget's queue while Queued."
    )
    selector: Str | None = Field(
        default=None,
        description=(
            "Label selector of the workload's pods in every pool (paddock.dev/workload=NAME): the "
            "/scale subresource's selector, which HorizontalPodAutoscaler and KEDA use to find "
            "the pods whose metrics they read."
        ),
    )
    images: list[ImageStatus] | None = Field(
        default=None,
        description=(
            "Each image of the template and the platforms its registry offers (set while the "
            "image architecture check is enabled)."
        ),
    )
    conditions: Annotated[list[Condition], AfterValidator(unique_by("type"))] | None = Field(
        default=None,
        description="Admitted, Ready and others, each with its reason.",
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )


class AgentWorkload(ApiModel):
    """AgentWorkload is one replicated agent or CPU inference service (a llama.cpp server, a
    tool-calling agent, a code generator). Paddock admits it against a CoreBudget when its
    replicas fit both the budget and the arm64 pools, then runs one Deployment per pool."""

    api_version: Literal["paddock.dev/v1alpha1"] = "paddock.dev/v1alpha1"  # paddock.API_VERSION
    kind: Literal["AgentWorkload"] = "AgentWorkload"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: AgentWorkloadSpec
    status: AgentWorkloadStatus | None = None

    rules = (name_length_rule("paddock.dev/workload"),)


def pools_summary(assignments: list[Assignment]) -> str:
    """The status.pools text for assignments: `graviton4:3,graviton3:1`."""
    return ",".join(f"{a.pool}:{a.replicas}" for a in assignments)


AGENT_WORKLOAD_CRD = CrdInfo(
    kind="AgentWorkload",
    plural="agentworkloads",
    singular="agentworkload",
    scope="Namespaced",
    short_names=("aw",),
    printer_columns=(
        PrinterColumn("Budget", ".status.budget", "string", "CoreBudget the workload draws on."),
        PrinterColumn("Replicas", ".spec.replicas", "integer", "Replicas wanted."),
        PrinterColumn("Admitted", ".status.admittedReplicas", "integer", "Replicas admitted."),
        PrinterColumn("Ready", ".status.readyReplicas", "integer", "Replicas ready."),
        PrinterColumn("Cores", ".status.admittedCores", "integer", "Cores admitted."),
        PrinterColumn("Pools", ".status.pools", "string", "Admitted replicas per pool."),
        PrinterColumn("Phase", ".status.phase", "string", "Queued, Admitted, Running, ..."),
        PrinterColumn("Reason", ".status.reason", "string", "Reason of the latest decision."),
        AGE_COLUMN,
        PrinterColumn("Min", ".spec.minReplicas", "integer", "Elastic floor.", 1),
        PrinterColumn(
            "Cores/Replica", ".spec.coresPerReplica", "integer", "Whole cores per replica.", 1
        ),
        PrinterColumn("Priority", ".spec.priority", "integer", "Queue order.", 1),
        PrinterColumn("Queue", ".status.queuePosition", "integer", "Position while queued.", 1),
        PrinterColumn("Spec-Budget", ".spec.budget", "string", "spec.budget as written.", 1),
        PrinterColumn("Message", ".status.message", "string", "Latest decision, in words.", 1),
    ),
    selectable_fields=(".spec.budget", ".status.phase"),
    # kubectl scale, HorizontalPodAutoscaler and KEDA act through /scale: they set
    # spec.replicas and read back the admitted replicas (not the wanted ones) and the selector.
    scale=ScaleSubresource(
        spec_replicas_path=".spec.replicas",
        status_replicas_path=".status.admittedReplicas",
        label_selector_path=".status.selector",
    ),
)
