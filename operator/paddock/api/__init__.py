"""The Paddock API (group paddock.dev, version v1alpha1): pydantic models for CorePool,
CoreBudget and AgentWorkload, the single source of truth for the CRDs in `crds/` and for
`docs/api.md`.

Operators and tools import from here:

    from paddock.api import AgentWorkload, parse_object, parse_cpu_millicores
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paddock.api.agentworkload import (
    AGENT_WORKLOAD_CRD,
    AgentWorkload,
    AgentWorkloadSpec,
    AgentWorkloadStatus,
    Assignment,
    Phase,
    Placement,
    PodSpec,
    PodTemplate,
    Spread,
    TemplateMetadata,
    pools_summary,
)
from paddock.api.common import (
    Condition,
    CrdInfo,
    LabelSelector,
    LabelSelectorRequirement,
    ObjectMeta,
    PrinterColumn,
    Rule,
    Toleration,
    describe_errors,
    format_location,
    parse_cpu_millicores,
    parse_memory_bytes,
    parse_quantity,
)
from paddock.api.corebudget import (
    CORE_BUDGET_CRD,
    CohortPreemption,
    CoreBudget,
    CoreBudgetSpec,
    CoreBudgetStatus,
    Preemption,
    Queueing,
    WithinBudgetPreemption,
)
from paddock.api.corepool import CORE_POOL_CRD, CorePool, CorePoolSpec, CorePoolStatus

PaddockObject = CorePool | CoreBudget | AgentWorkload

KINDS: dict[str, tuple[type[CorePool] | type[CoreBudget] | type[AgentWorkload], CrdInfo]] = {
    "CorePool": (CorePool, CORE_POOL_CRD),
    "CoreBudget": (CoreBudget, CORE_BUDGET_CRD),
    "AgentWorkload": (AgentWorkload, AGENT_WORKLOAD_CRD),
}
"""kind -> (model, CRD info), in dependency order (pools, budgets, workloads)."""


def parse_object(manifest: Mapping[str, Any]) -> PaddockObject:
    """Validate a Paddock object (a dict as kubectl or kopf gives it) by its `kind`.

    Raises pydantic.ValidationError when the object is invalid (`describe_errors` turns it into
    `field: message` lines) and ValueError when the kind is not a Paddock kind.
    """
    kind = manifest.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind {kind!r} is not a Paddock kind: use one of {', '.join(KINDS)}")
    model, _ = KINDS[kind]
    return model.model_validate(manifest)


__all__ = [
    "AGENT_WORKLOAD_CRD",
    "CORE_BUDGET_CRD",
    "CORE_POOL_CRD",
    "KINDS",
    "AgentWorkload",
    "AgentWorkloadSpec",
    "AgentWorkloadStatus",
    "Assignment",
    "CohortPreemption",
    "Condition",
    "CoreBudget",
    "CoreBudgetSpec",
    "CoreBudgetStatus",
    "CorePool",
    "CorePoolSpec",
    "CorePoolStatus",
    "CrdInfo",
    "LabelSelector",
    "LabelSelectorRequirement",
    "ObjectMeta",
    "PaddockObject",
    "Phase",
    "Placement",
    "PodSpec",
    "PodTemplate",
    "Preemption",
    "PrinterColumn",
    "Queueing",
    "Rule",
    "Spread",
    "TemplateMetadata",
    "Toleration",
    "WithinBudgetPreemption",
    "describe_errors",
    "format_location",
    "parse_cpu_millicores",
    "parse_memory_bytes",
    "parse_object",
    "parse_quantity",
    "pools_summary",
]
