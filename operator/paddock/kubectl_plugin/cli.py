"""kubectl paddock: why a workload waits, and what would admit it.

  kubectl paddock status [-n NS] [-o text|json]
      budgets (used, borrowed, lent, free cores), pools (free cores, largest free block)
      and the queue of workloads not fully admitted
  kubectl paddock explain WORKLOAD [-n NS] [-o text|json] [--no-what-if]
      the decision for one AgentWorkload with its numbers: budget math, each pool's fit,
      what blocks it, and which single change would admit it
  kubectl paddock cost [-o text|json|csv]
      core-hours and cost per budget, pool and namespace in each budget's window

Read-only: it lists nodes, pods, deployments, namespaces and the paddock.dev objects, builds
the same snapshot the operator builds and runs the same planner on it.
Options anywhere: --kubeconfig PATH, --context NAME, -n/--namespace NS, -o/--output FORMAT.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any, TextIO

from paddock.controller.usage.cycle import gate_from_statuses

from .cluster import (
    PluginError,
    connect,
    read_cluster,
    read_events,
    workload_names,
)
from .cost import cost_csv, cost_report, cost_text, read_budgets
from .explain import explain
from .render import explain_text, status_text, to_json
from .scaling import read_scaling
from .view import View, budget_math, pool_rows, queue_rows


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Options accepted before and after the subcommand (kubectl users put -n anywhere)."""

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("--kubeconfig", default=default(None), help="path to a kubeconfig")
    parser.add_argument("--context", default=default(None), help="kubeconfig context to use")
    parser.add_argument(
        "-n", "--namespace", default=default(None), help="namespace (default: the context's)"
    )
    parser.add_argument(
        "-o",
        "--output",
        choices=("text", "json", "csv"),
        default=default("text"),
        help="text tables (default), json, or csv (cost only)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="kubectl paddock",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _common(top, suppress=False)
    commands = top.add_subparsers(dest="command", required=True)
    status = commands.add_parser(
        "status", help="budgets, pools and the queue", description="Budgets, pools and the queue."
    )
    _common(status, suppress=True)
    status.add_argument(
        "-A",
        "--all-namespaces",
        action="store_true",
        help="show the queue of every namespace (the default unless -n is given)",
    )
    why = commands.add_parser(
        "explain",
        help="why a workload waits and what would admit it",
        description="Why an AgentWorkload waits, with the numbers, and what would admit it.",
    )
    _common(why, suppress=True)
    why.add_argument("workload", help="AgentWorkload name (or aw/NAME)")
    why.add_argument(
        "--no-what-if",
        action="store_true",
        help="skip the counterfactual plans (faster on very large clusters)",
    )
    cost = commands.add_parser(
        "cost",
        help="core-hours and cost per budget, pool and namespace",
        description="Core-hours and cost per budget, pool and namespace in each budget's window.",
    )
    _common(cost, suppress=True)
    return top


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    args = parser().parse_args(argv)
    try:
        conn = connect(args.kubeconfig, args.context)
        if args.command == "cost":
            report = cost_report(read_budgets(conn.api))
            if args.output == "json":
                out.write(to_json({"budgets": report}))
            else:
                out.write(cost_csv(report) if args.output == "csv" else cost_text(report))
            return 0
        if args.output == "csv":
            raise PluginError("-o csv is for `kubectl paddock cost`; use text or json")
        state = gate_from_statuses(read_cluster(conn.api))  # core-hours, as the operator
        view = View.from_state(state)
        if args.command == "status":
            namespace = None if args.all_namespaces else args.namespace
            budgets = list(budget_math(view).values())
            pools = pool_rows(view)
            queue = queue_rows(view, namespace)
            if args.output == "json":
                out.write(
                    to_json(
                        {
                            "budgets": budgets,
                            "pools": pools,
                            "queue": queue,
                            "invalid": list(view.problems),
                        }
                    )
                )
            else:
                out.write(status_text(budgets, pools, queue, view.problems))
            return 0

        namespace = args.namespace or conn.namespace
        name = args.workload.split("/", 1)[1] if "/" in args.workload else args.workload
        key = f"{namespace}/{name}"
        parsed = state.workloads.get(key)
        if parsed is None:
            known = workload_names(state, namespace)
            hint = f"; workloads there: {', '.join(known[:12])}" if known else ""
            raise PluginError(f'agentworkload "{name}" not found in namespace "{namespace}"{hint}')
        result = explain(view, namespace, name, errors=parsed.errors, suggest=not args.no_what_if)
        result = dataclasses.replace(
            result,
            events=tuple(read_events(conn.api, namespace, name)),
            scaling=read_scaling(
                conn.api,
                namespace,
                name,
                result.budget_math,
                result.cores_per_replica,
                result.admitted_replicas,
            ),
        )
        out.write(to_json(result) if args.output == "json" else explain_text(result))
        return 0
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
