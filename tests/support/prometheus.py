"""A real Prometheus server on loopback, scraping the test operator's /metrics.

Why a real one: the chart's Grafana dashboard is PromQL, and only Prometheus itself says
whether a query parses, what `rate`/`increase`/`histogram_quantile` make of the operator's
series, and whether a panel would be empty. Grafana is not used (AGPL); the dashboard's
variables are substituted here as Grafana would (`dashboard_queries`).

The binary is built once by hack/build-prometheus.sh into the version-keyed cache, or named
by PADDOCK_PROMETHEUS_BIN.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.cluster import REPO_ROOT
from tests.support.operator import free_port
from tests.support.waiting import wait_for

BUILD_SCRIPT = REPO_ROOT / "hack" / "build-prometheus.sh"
DASHBOARD = REPO_ROOT / "charts" / "paddock" / "dashboards" / "paddock-cost.json"


def prometheus_binary() -> Path | None:
    """PADDOCK_PROMETHEUS_BIN, else the cached build of the version the build script pins."""
    named = os.environ.get("PADDOCK_PROMETHEUS_BIN")
    if named:
        return Path(named) if Path(named).is_file() else None
    version = re.search(r"^PROMETHEUS_VERSION=(\S+)$", BUILD_SCRIPT.read_text(), re.M)
    assert version, f"no PROMETHEUS_VERSION= line in {BUILD_SCRIPT}"
    cache = Path(
        os.environ.get("PADDOCK_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "paddock"
    )
    binary = cache / "bin" / f"prometheus-{version.group(1)}" / "prometheus"
    return binary if binary.is_file() else None


class QueryError(AssertionError):
    """Prometheus answered a query with an error (a bad expression, a bad range)."""


@dataclass
class PrometheusServer:
    """`prometheus` with one static scrape job for `target` (host:port), data in `workdir`."""

    binary: Path
    workdir: Path
    target: str
    scrape_interval: str = "2s"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text(
            json.dumps(  # JSON is YAML
                {
                    "global": {
                        "scrape_interval": self.scrape_interval,
                        "evaluation_interval": self.scrape_interval,
                    },
                    "scrape_configs": [
                        {"job_name": "paddock", "static_configs": [{"targets": [self.target]}]}
                    ],
                }
            )
        )
        data = self.workdir / "data"
        shutil.rmtree(data, ignore_errors=True)
        log = (self.workdir / "prometheus.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(self.binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        try:
            wait_for(self.ready, timeout=timeout, interval=0.5, what=f"prometheus on {self.url}")
        except BaseException:
            self.stop()
            raise

    def ready(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited; log tail:\n{self.log_tail()}")
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # loopback
            return bool(response.status == 200)

    def api(self, path: str, **params: str) -> Any:
        """GET /api/v1/<path>; the `data` of a success, else QueryError with Prometheus' words."""
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:  # 400/422: a bad query, with a JSON body
            body = json.loads(error.read() or b"{}")
        if body.get("status") != "success":
            raise QueryError(f"{params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query: its vector (a scalar comes back as one unlabelled sample)."""
        data = self.api("query", query=expr)
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=str(start), end=str(end), step=str(step))
        result: list[dict[str, Any]] = data["result"]
        return result

    def target_up(self) -> bool:
        """The operator's target scraped, and healthy."""
        targets = self.api("targets")["activeTargets"]
        return any(t["health"] == "up" for t in targets)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        path = self.workdir / "prometheus.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@dataclass(frozen=True)
class PanelQuery:
    """One target of one dashboard panel, with Grafana's variables put in."""

    panel: str
    ref: str
    expr: str
    legend: str


def dashboard_queries(variables: dict[str, str], dashboard: Path = DASHBOARD) -> list[PanelQuery]:
    """Every target expression of every panel (rows' nested panels too), substituted.

    `variables` maps names without `$` (budget, pool, __rate_interval, __range, ...) to the
    text Grafana would put in; `${name}` and `[[name]]` forms are substituted too. A variable
    left over is an error: the query would not be what Grafana sends.
    """
    panels: list[dict[str, Any]] = []
    for panel in json.loads(dashboard.read_text())["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", ()))
    found = []
    for panel in panels:
        for target in panel.get("targets", ()):
            expr = substitute(target["expr"], variables)
            found.append(
                PanelQuery(
                    panel["title"], target.get("refId", "A"), expr, target.get("legendFormat", "")
                )
            )
    return found


def substitute(expr: str, variables: dict[str, str]) -> str:
    """Grafana's `$name`, `${name}` and `[[name]]`, longest names first."""
    for name in sorted(variables, key=len, reverse=True):
        value = variables[name]
        expr = expr.replace(f"${{{name}}}", value).replace(f"[[{name}]]", value)
        literal = value.replace("\\", "\\\\")  # a replacement string reads backslashes
        expr = re.sub(rf"\${re.escape(name)}\b", literal, expr)
    left = re.findall(r"\$\{?\w+", expr)
    assert not left, f"dashboard variables not substituted in {expr!r}: {left}"
    return expr


def wait_scrapes(server: PrometheusServer, selector: str, count: int, timeout: float) -> None:
    """Wait until `selector` has at least `count` samples in Prometheus (so rates have data)."""

    def enough() -> bool:
        found = server.query(f"count_over_time({selector}[5m])")
        return bool(found) and min(float(s["value"][1]) for s in found) >= count

    wait_for(enough, timeout=timeout, interval=1.0, what=f"{count} scrapes of {selector}")
