"""kubectl paddock cost: spend per budget, pool and namespace in each budget's window.

Reads only the CoreBudgets: the operator checkpoints every budget's usage into
status.coreHours (see docs/concepts.md, Core-hours and cost), so the figures are those of the
last checkpoint (`checkpointTime`, at most about 30 s old), the same numbers finance gets from
the CSV or JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paddock import GROUP, VERSION

from .cluster import PluginError

CSV_FIELDS = (
    "budget",
    "pool",
    "namespace",
    "window_start",
    "window_end",
    "core_hours",
    "cost",
    "currency",
    "checkpoint_time",
)


def read_budgets(api: client.ApiClient) -> list[dict[str, Any]]:
    try:
        listed = cast(
            dict[str, Any],
            client.CustomObjectsApi(api).list_cluster_custom_object(GROUP, VERSION, "corebudgets"),
        )
    except ApiException as error:
        raise PluginError(f"cannot list corebudgets: {error.status} {error.reason}") from None
    return sorted(listed.get("items") or [], key=lambda b: b["metadata"]["name"])


def _currency(cost: str | None) -> tuple[float, str]:
    """'12.34 USD' -> (12.34, 'USD')."""
    number, _, currency = (cost or "0").partition(" ")
    try:
        return float(number), currency
    except ValueError:
        return 0.0, currency


def cost_report(budgets: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per budget: its window figures and its spend per pool and namespace."""
    report = []
    for budget in budgets:
        status = (budget.get("status") or {}).get("coreHours") or {}
        spec = budget.get("spec") or {}
        _, currency = _currency(status.get("cost"))
        by_key: dict[tuple[str, str], list[float]] = {}
        for row in status.get("usage") or ():
            key = (str(row.get("pool", "")), str(row.get("namespace", "")))
            found = by_key.setdefault(key, [0.0, 0.0])
            found[0] += float(row.get("coreSeconds") or 0) / 3600.0
            found[1] += float(row.get("cost") or 0)
        report.append(
            {
                "budget": budget["metadata"]["name"],
                "windowStart": status.get("windowStart"),
                "windowEnd": status.get("windowEnd"),
                "window": (spec.get("coreHours") or {}).get("window", "month"),
                "used": status.get("used", 0.0),
                "limit": (spec.get("coreHours") or {}).get("limit"),
                "cost": _currency(status.get("cost"))[0],
                "currency": currency,
                "projected": status.get("projected"),
                "heldCores": status.get("heldCores"),
                "checkpointTime": status.get("checkpointTime"),
                "rows": [
                    {"pool": pool, "namespace": ns, "coreHours": round(v[0], 4), "cost": v[1]}
                    for (pool, ns), v in sorted(by_key.items())
                ],
            }
        )
    return report


def cost_csv(report: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for budget in report:
        for row in budget["rows"]:
            writer.writerow(
                (
                    budget["budget"],
                    row["pool"],
                    row["namespace"],
                    budget["windowStart"] or "",
                    budget["windowEnd"] or "",
                    f"{row['coreHours']:.4f}",
                    f"{row['cost']:.4f}",
                    budget["currency"],
                    budget["checkpointTime"] or "",
                )
            )
    return out.getvalue()


def cost_text(report: Iterable[Mapping[str, Any]]) -> str:
    lines = []
    header = ("BUDGET", "POOL", "NAMESPACE", "CORE-HOURS", "LIMIT", "COST", "PROJECTED")
    table: list[tuple[str, ...]] = [header]
    for budget in report:
        limit = "" if budget["limit"] is None else f"{budget['limit']:g}"
        projected = "" if budget["projected"] is None else f"{budget['projected']:.2f}"
        table.append(
            (
                budget["budget"],
                "*",
                "*",
                f"{float(budget['used'] or 0):.2f}",
                limit,
                f"{budget['cost']:.2f} {budget['currency']}".strip(),
                projected,
            )
        )
        for row in budget["rows"]:
            table.append(
                (
                    "",
                    row["pool"],
                    row["namespace"],
                    f"{row['coreHours']:.2f}",
                    "",
                    f"{row['cost']:.2f} {budget['currency']}".strip(),
                    "",
                )
            )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        lines.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip())
    windows = sorted({(b["budget"], b["windowStart"], b["checkpointTime"]) for b in report})
    lines.append("")
    for name, start, at in windows:
        lines.append(f"{name}: window from {start or '?'}, as of {at or 'no checkpoint yet'}")
    return "\n".join(lines) + "\n"
