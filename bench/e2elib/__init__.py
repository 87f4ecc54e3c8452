"""Helpers of `bench/e2e.py`: the end-to-end benchmark of the real operator on a real control plane.

- `kube`: a thin, fast HTTP client (raw JSON over the kubernetes client's TLS pool).
- `cluster`: bring the bench control plane up and down, install CRDs, make kwok nodes and pods.
- `observe`: a watcher process that timestamps admissions and Deployments as they happen.
- `under_test`: the operator subprocess, its /metrics, its RSS and CPU.
- `pyspy`: an optional py-spy profile of the operator.
- `leanwatch`: a reference compact list+watch, to size what a leaner watch would cost.
- `whatif/`: kopf setting overrides for what-if runs (the operator's code is untouched).
- `scenarios`: the sub-benchmarks (throughput, rss, kueue).
- `report`: percentiles, machine facts and load averages.
"""
