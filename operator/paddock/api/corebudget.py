"""CoreBudget: the whole cores a team may use (cluster-scoped, `cbudget`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from paddock.api.common import (
    AGE_COLUMN,
    CONDITIONS_SCHEMA_EXTRA,
    ApiModel,
    Condition,
    CrdInfo,
    DnsLabel,
    LabelSelector,
    ObjectMeta,
    ObjectName,
    PrinterColumn,
    Rule,
    StatusModel,
    Str,
    WholeInt,
    name_length_rule,
    unique_by,
    unique_items,
)

Queueing = Literal["BestEffortFIFO", "StrictFIFO"]
WithinBudgetPreemption = Literal["Never", "LowerPriority"]
CohortPreemption = Literal["Never", "LowerPriority", "Any"]
OnExhausted = Literal["Queue", "ScaleToMin"]
WindowType = Literal["Calendar", "Rolling"]
WINDOW_PATTERN = r"^([1-9][0-9]{0,6}(s|m|h|d|w)|month)$"
"""A window: a whole number of seconds, minutes, hours, days or weeks ("10m", "30d"), or
`month` (calendar months, UTC)."""
Window = Annotated[str, StringConstraints(strict=True, max_length=16, pattern=WINDOW_PATTERN)]


class CoreHours(ApiModel):
    """A cap on cores x hours over a window: what finance budgets, as opposed to `cores`, which
    caps cores at one instant."""

    limit: float = Field(
        ge=0,
        description=(
            "Core-hours the budget's workloads may use per window: the cores of their running "
            "pods times the hours they run, e.g. 20000 (a month of about 27 cores). Fractions "
            "are allowed (0.5)."
        ),
    )
    window: Window = Field(
        description=(
            'How long a window is: a whole number with a unit s, m, h, d or w ("10m", '
            '"30d"), or `month` for calendar months (UTC; Calendar only).'
        ),
    )
    window_type: WindowType = Field(
        default="Calendar",
        description=(
            "Calendar: fixed windows aligned to the Unix epoch in UTC (a 1d window is a UTC "
            "day, 1h an hour, month a calendar month); usage starts again from 0 at each window "
            "start. Rolling: the window ends now and moves on, in steps of 1/24 of its length; "
            "usage frees up as old steps leave it."
        ),
    )
    on_exhausted: OnExhausted = Field(
        default="Queue",
        description=(
            "What happens once usage in the window reaches the limit. Queue: nothing new is "
            "admitted and nothing grows until the window frees enough (reason "
            "CoreHoursExhausted); what runs keeps running. ScaleToMin: elastic workloads are "
            "also shrunk to minReplicas."
        ),
    )

    rules = (
        Rule(
            cel="self.window != 'month' || self.windowType == 'Calendar'",
            message=(
                "spec.coreHours.window month needs windowType Calendar: a rolling window is a "
                "fixed length such as 30d"
            ),
            check=lambda s: s.window != "month" or s.window_type == "Calendar",
            field_path=".window",
        ),
    )


ImageCheckPolicy = Literal["FailOpen", "FailClosed"]


class Preemption(ApiModel):
    """When pending workloads may take cores from admitted ones."""

    within_budget: WithinBudgetPreemption = Field(
        default="Never",
        description=(
            "Never: a pending workload waits for cores of its own budget to free up. "
            "LowerPriority: it may shrink (toward minReplicas) or evict lower-priority "
            "workloads of the same budget."
        ),
    )
    reclaim_from_cohort: CohortPreemption = Field(
        default="Never",
        description=(
            "Never: lent cores come back only when borrowers finish. LowerPriority: a workload "
            "that fits within this budget's nominal cores may preempt lower-priority workloads of "
            "other budgets in the cohort that borrowed them. Any: it may preempt any borrower."
        ),
    )


class CoreBudgetSpec(ApiModel):
    """Which namespaces the budget covers, how many cores it grants and how it shares them."""

    namespace_selector: LabelSelector = Field(
        description=(
            "Selects the namespaces whose AgentWorkloads draw on this budget, e.g. matchLabels "
            "{paddock.dev/team: search}. An empty selector selects every namespace. A workload "
            "whose namespace matches several budgets must name one in spec.budget."
        )
    )
    cores: WholeInt = Field(
        ge=0,
        description=(
            "Nominal whole cores the team may use: the sum of coresPerReplica x replicas over its "
            "admitted workloads. 0 makes a budget that only borrows from its cohort."
        ),
    )
    pools: Annotated[list[ObjectName], AfterValidator(unique_items)] | None = Field(
        default=None,
        description=(
            "Names of the CorePools the budget may use, in order of preference. "
            "Unset: every pool, by pool weight."
        ),
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    cohort: DnsLabel | None = Field(
        default=None,
        description=(
            "Sharing group: budgets with the same cohort lend unused nominal cores to each other."
        ),
    )
    borrowing_limit: WholeInt | None = Field(
        default=None,
        ge=0,
        description=(
            "Most cores the budget may borrow from its cohort on top of cores. "
            "Unset: no limit. Needs cohort."
        ),
    )
    lending_limit: WholeInt | None = Field(
        default=None,
        ge=0,
        description=(
            "Most of its unused nominal cores the budget lends to its cohort; must not exceed "
            "cores. Unset: all unused cores may be lent. Needs cohort."
        ),
    )
    queueing: Queueing = Field(
        default="BestEffortFIFO",
        description=(
            "BestEffortFIFO: pending workloads are tried by priority then age, and one that does "
            "not fit does not block the ones behind it. StrictFIFO: nothing is admitted past the "
            "head of the queue until it fits."
        ),
    )
    preemption: Preemption = Field(
        default_factory=Preemption,
        description="When pending workloads may take cores from admitted ones.",
        json_schema_extra={"default": {}},
    )
    core_hours: CoreHours | None = Field(
        default=None,
        description=(
            "A cap on core-hours per window (rolling or calendar) and what to do once it is "
            "used up. Unset: no cap; usage and cost are still counted, per calendar month."
        ),
    )
    image_check: ImageCheckPolicy | None = Field(
        default=None,
        description=(
            "What Paddock does with a workload whose image registry cannot be reached or "
            "refuses to answer (an image known to lack linux/arm64 is never admitted). "
            "FailOpen: admit it, and say so in its ImagesChecked condition. FailClosed: keep "
            "it queued (reason ImageCheckFailed) until the registry answers. Unset: the "
            "cluster default (the chart's imageCheck.policy)."
        ),
    )

    rules = (
        Rule(
            cel="!has(self.lendingLimit) || self.lendingLimit <= self.cores",
            message="spec.lendingLimit must be <= spec.cores: lower lendingLimit or raise cores",
            message_expression=(
                "'spec.lendingLimit (%d) must be <= spec.cores (%d): lower lendingLimit or raise "
                "cores'.format([self.lendingLimit, self.cores])"
            ),
            explain=lambda s: (
                f"spec.lendingLimit ({s.lending_limit}) must be <= spec.cores ({s.cores}): "
                "lower lendingLimit or raise cores"
            ),
            check=lambda s: s.lending_limit is None or s.lending_limit <= s.cores,
            field_path=".lendingLimit",
        ),
        Rule(
            cel="!has(self.borrowingLimit) || has(self.cohort)",
            message=(
                "spec.borrowingLimit needs spec.cohort: set a cohort to borrow from or remove "
                "borrowingLimit"
            ),
            check=lambda s: s.borrowing_limit is None or s.cohort is not None,
            field_path=".borrowingLimit",
            reason="FieldValueForbidden",
        ),
        Rule(
            cel="!has(self.lendingLimit) || has(self.cohort)",
            message=(
                "spec.lendingLimit needs spec.cohort: set a cohort to lend to or remove "
                "lendingLimit"
            ),
            check=lambda s: s.lending_limit is None or s.cohort is not None,
            field_path=".lendingLimit",
            reason="FieldValueForbidden",
        ),
    )


class UsageRow(StatusModel):
    """Usage of one pool by one namespace in one step of the window."""

    start: Str = Field(description="Start of the step (RFC 3339, UTC).")
    pool: Str = Field(description="The CorePool.")
    namespace: Str = Field(description="The namespace of the workloads.")
    core_seconds: float = Field(ge=0, description="Cores x seconds of running pods.")
    cost: float = Field(default=0, ge=0, description="Cost of those core-seconds.")


class CoreHoursStatus(StatusModel):
    """What the budget used in the window, as of `checkpointTime`."""

    window_start: Str | None = Field(default=None, description="Start of the window (UTC).")
    window_end: Str | None = Field(
        default=None, description="End of a calendar window (UTC); unset for a rolling one."
    )
    used: float | None = Field(default=None, ge=0, description="Core-hours used in the window.")
    limit: float | None = Field(default=None, ge=0, description="spec.coreHours.limit.")
    cost: Str | None = Field(
        default=None, description='Cost in the window with its currency, e.g. "12.34 USD".'
    )
    held_cores: WholeInt | None = Field(
        default=None, ge=0, description="Cores of the budget's running pods at the checkpoint."
    )
    projected: float | None = Field(
        default=None,
        ge=0,
        description=(
            "Core-hours the window will hold if the held cores keep running: for a calendar "
            "window, used + held cores x the time left; for a rolling one, held cores x the "
            "window length."
        ),
    )
    exhausts_at: Str | None = Field(
        default=None,
        description="When used reaches the limit at the current burn (unset: not this window).",
    )
    frees_at: Str | None = Field(
        default=None,
        description="While exhausted: when the window frees enough to admit again.",
    )
    checkpoint_time: Str | None = Field(
        default=None,
        description=(
            "When these figures were taken. After a crash the operator goes on from here and "
            "counts the running pods since then from their start times."
        ),
    )
    usage: list[UsageRow] | None = Field(
        default=None,
        description="Core-seconds and cost per step of the window, pool and namespace.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )
    previous_window: dict[str, Str] | None = Field(
        default=None,
        description="The last completed calendar window: start, used core-hours and cost.",
    )


class CoreBudgetStatus(StatusModel):
    """How the budget is used now, observed by the operator."""

    used_cores: WholeInt | None = Field(
        default=None, ge=0, description="Cores of admitted workloads, borrowed ones included."
    )
    borrowed_cores: WholeInt | None = Field(
        default=None, ge=0, description="Of usedCores, the cores above cores, lent by the cohort."
    )
    lent_cores: WholeInt | None = Field(
        default=None, ge=0, description="Unused nominal cores other budgets of the cohort use."
    )
    pending_cores: WholeInt | None = Field(
        default=None, ge=0, description="Cores that pending workloads are waiting for."
    )
    admitted_workloads: WholeInt | None = Field(
        default=None, ge=0, description="AgentWorkloads admitted against the budget."
    )
    pending_workloads: WholeInt | None = Field(
        default=None, ge=0, description="AgentWorkloads queued on the budget."
    )
    core_hours: CoreHoursStatus | None = Field(
        default=None,
        description=(
            "Core-hours and cost used in the current window, per pool and namespace, "
            "checkpointed by the operator (see docs/concepts.md, Core-hours and cost)."
        ),
    )
    conditions: Annotated[list[Condition], AfterValidator(unique_by("type"))] | None = Field(
        default=None,
        description=(
            "Active: the budget is valid and admits workloads. CoreHoursAvailable: False "
            "(reason CoreHoursExhausted) while the window's core-hours are used up."
        ),
        json_schema_extra=CONDITIONS_SCHEMA_EXTRA,
    )


class CoreBudget(ApiModel):
    """CoreBudget is what a team may use: a number of whole arm64 cores for the AgentWorkloads of
    the namespaces it selects, the pools they may run in, and how unused cores are shared with
    other budgets of the same cohort."""

    api_version: Literal["paddock.dev/v1alpha1"] = "paddock.dev/v1alpha1"  # paddock.API_VERSION
    kind: Literal["CoreBudget"] = "CoreBudget"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: CoreBudgetSpec
    status: CoreBudgetStatus | None = None

    rules = (name_length_rule("paddock.dev/budget"),)


CORE_BUDGET_CRD = CrdInfo(
    kind="CoreBudget",
    plural="corebudgets",
    singular="corebudget",
    scope="Cluster",
    short_names=("cbudget",),
    printer_columns=(
        PrinterColumn("Cores", ".spec.cores", "integer", "Nominal whole cores."),
        PrinterColumn("Used", ".status.usedCores", "integer", "Cores of admitted workloads."),
        PrinterColumn(
            "Borrowed", ".status.borrowedCores", "integer", "Cores borrowed from the cohort."
        ),
        PrinterColumn(
            "Pending", ".status.pendingCores", "integer", "Cores pending workloads wait for."
        ),
        PrinterColumn(
            "Admitted", ".status.admittedWorkloads", "integer", "Admitted AgentWorkloads."
        ),
        PrinterColumn("Cohort", ".spec.cohort", "string", "Sharing group."),
        PrinterColumn("Lent", ".status.lentCores", "integer", "Cores lent to the cohort.", 1),
        PrinterColumn("Queued", ".status.pendingWorkloads", "integer", "Queued AgentWorkloads.", 1),
        PrinterColumn("Queueing", ".spec.queueing", "string", "Queueing strategy.", 1),
        PrinterColumn(
            "Core-h", ".status.coreHours.used", "number", "Core-hours used in the window."
        ),
        PrinterColumn("Limit-h", ".spec.coreHours.limit", "number", "Core-hours per window."),
        PrinterColumn("Cost", ".status.coreHours.cost", "string", "Cost in the window."),
        PrinterColumn(
            "Projected-h",
            ".status.coreHours.projected",
            "number",
            "Core-hours the window holds if the held cores keep running.",
            1,
        ),
        AGE_COLUMN,
    ),
    selectable_fields=(".spec.cohort",),
)
