"""`kubectl paddock`: the user's side of Paddock, read-only.

A user whose agent is Queued asks why, and what would fix it. The plugin reads the cluster,
builds the operator's own snapshot (`paddock.controller.cluster_state.SnapshotBuilder` over the same
`paddock.controller.observed` facts), runs the operator's planner on it, and shows the decision
with its numbers; `explain` also re-plans single changes (fewer replicas, fewer cores, another
pool, a higher priority) to say which would admit the workload.

Modules: `cluster` (read the API), `view` (the plan and its figures), `explain` (one workload),
`whatif` (counterfactual plans), `render` (text tables and JSON), `cli` (arguments).
Installed as the console script `kubectl-paddock`, which kubectl finds on PATH.
"""

from .cli import main

__all__ = ["main"]
