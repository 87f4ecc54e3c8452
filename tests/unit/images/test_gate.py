"""The operator's image-check settings come from the environment the chart sets."""

from __future__ import annotations

import pytest

from paddock.images.gate import from_env
from paddock.images.platforms import Platform


def test_disabled_unless_asked() -> None:
    assert from_env({}, lambda _r: None) is None
    assert from_env({"PADDOCK_IMAGE_CHECK": "Disabled"}, lambda _r: None) is None


def test_the_chart_settings_reach_the_checker() -> None:
    gate = from_env(
        {
            "PADDOCK_IMAGE_CHECK": "Enabled",
            "PADDOCK_IMAGE_CHECK_POLICY": "FailClosed",
            "PADDOCK_IMAGE_CACHE_TTL_SECONDS": "7",
            "PADDOCK_IMAGE_CACHE_SIZE": "5",
            "PADDOCK_IMAGE_REGISTRY_TIMEOUTS": "ghcr.io=2.5, 127.0.0.1:5000=1",
            "PADDOCK_IMAGE_INSECURE_REGISTRIES": "reg.local:5000",
            "PADDOCK_IMAGE_PLATFORM": "linux/arm64",
        },
        lambda _r: None,
    )
    assert gate is not None
    try:
        assert gate.policy == "FailClosed" and not gate.pull_secrets
        checker = gate.checker
        assert checker.ttl == 7 and checker.cache.max_entries == 5
        assert checker.wanted == Platform("linux", "arm64")
        assert checker.client.timeout_for("ghcr.io") == 2.5
        assert checker.client.timeout_for("quay.io") == 10
        assert checker.client.insecure == frozenset({"reg.local:5000"})
    finally:
        gate.close()


def test_a_bad_policy_stops_the_operator_with_the_values_it_takes() -> None:
    with pytest.raises(ValueError, match="FailOpen or FailClosed"):
        from_env(
            {"PADDOCK_IMAGE_CHECK": "Enabled", "PADDOCK_IMAGE_CHECK_POLICY": "Open"},
            lambda _r: None,
        )
