"""The cache's TTL and size bound, and picking a registry's entry out of a docker config."""

from __future__ import annotations

import base64

from paddock.images.cache import TtlCache
from paddock.images.credentials import credentials_for
from paddock.images.registry import Credentials


def test_entries_go_stale_after_their_ttl_and_the_least_recently_used_goes_first() -> None:
    now = [0.0]
    cache: TtlCache[str, int] = TtlCache(2, clock=lambda: now[0])
    cache.put("a", 1, ttl=10)
    cache.put("b", 2, ttl=10)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", 3, ttl=10)
    assert cache.get("b") is None and len(cache) == 2 and cache.evictions == 1
    now[0] = 9.9
    entry = cache.get("a")
    assert entry is not None and entry.fresh(now[0])
    now[0] = 10.0
    assert not entry.fresh(now[0]) and entry.age(now[0]) == 10.0


def test_the_entry_for_the_registry_is_used_in_either_form() -> None:
    auth = base64.b64encode(b"robot:s3cret").decode()
    config = {
        "auths": {
            "https://index.docker.io/v1/": {"auth": auth},
            "127.0.0.1:5001": {"username": "paddock", "password": "pw"},
        }
    }
    assert credentials_for(config, "docker.io") == Credentials("robot", "s3cret")
    assert credentials_for(config, "127.0.0.1:5001") == Credentials("paddock", "pw")
    assert credentials_for(config, "ghcr.io") is None


def test_credentials_never_show_the_secret() -> None:
    text = repr(Credentials("robot", "s3cret"))
    assert "s3cret" not in text and "robot" in text
