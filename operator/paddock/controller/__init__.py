"""The operator shell around the pure planner.

watch events (kopf indexes in `observed`) -> `snapshot` (plain data) -> planner
-> `applier` (Deployments, status, Events through the kubernetes client).
`loop` owns the single debounced scheduling cycle; `handlers` wires it to kopf.
"""
