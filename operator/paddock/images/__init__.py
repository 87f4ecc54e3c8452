"""The image architecture check: every image of a workload must offer linux/arm64.

A workload is admitted onto arm64 nodes only, so an image built for amd64 alone would
crash-loop (`exec format error`) on cores that were reserved for it. This package resolves
image references against their registries (OCI index, Docker manifest list, or a single
manifest's config) before admission, off the scheduling loop, and hands the planner plain
verdicts:

- `reference`: parse `[registry/]repository[:tag][@digest]` as Docker and containerd do.
- `registry`: a small Distribution API client (anonymous, Basic or Bearer token auth).
- `cache`: results by reference, with a TTL and a size bound.
- `checker`: bounded, asynchronous resolution with per-registry timeouts and metrics.
- `verdict`: pure functions from results to what the planner and the status need.
"""
