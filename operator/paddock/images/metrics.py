"""Prometheus metrics of the image check, in the operator's registry (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from paddock.controller.metrics import REGISTRY

CHECKS = Counter(
    "paddock_image_checks_total",
    "Image references resolved against their registry, by result "
    "(offered: has linux/arm64, missing: answered without it, error: no usable answer).",
    ["result"],
    registry=REGISTRY,
)
CHECK_DURATION = Histogram(
    "paddock_image_check_duration_seconds",
    "Wall time of one resolution (manifest, and config blob for a single-platform image).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
CACHE_LOOKUPS = Counter(
    "paddock_image_cache_lookups_total",
    "Image cache lookups by the scheduling loop, by result (hit, stale, miss).",
    ["result"],
    registry=REGISTRY,
)
CACHE_ENTRIES = Gauge(
    "paddock_image_cache_entries", "Image references in the cache.", registry=REGISTRY
)
REGISTRY_ERRORS = Counter(
    "paddock_image_registry_errors_total",
    "Registry errors by registry host and kind (Unreachable, Unauthorized, NotFound, "
    "BadResponse, BadReference).",
    ["registry", "kind"],
    registry=REGISTRY,
)
