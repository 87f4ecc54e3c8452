"""Draw the chart's Grafana dashboard from a real Prometheus into one PNG, to look at it.

Grafana is not used (AGPL): this reads charts/paddock/dashboards/paddock-cost.json, puts
Grafana's variables in, asks Prometheus for each panel's targets over the last few minutes
(`/api/v1/query_range`, or `/api/v1/query` for instant targets) and lays the panels out on
the dashboard's own 24-column grid with matplotlib: stat panels as their last values,
time series as lines, bar gauges as bars, legends from each target's legendFormat.

    .venv/bin/pip install -e '.[bench]'              # matplotlib
    .venv/bin/python bench/render_dashboard.py --prometheus http://127.0.0.1:9090 \\
        --budget team-1a2b3c --minutes 5 --scrape-interval 15s --out dashboard.png

tests/integration/test_dashboard.py runs it against its own Prometheus and operator when
PADDOCK_DASHBOARD_PNG names the output file.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.prometheus import DASHBOARD, substitute  # noqa: E402

GRID_COLUMNS = 24


def seconds(duration: str) -> float:
    """A Prometheus duration with one unit (15s, 2m, 1h)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", duration)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {duration}")
    factor = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)]
    return float(match.group(1)) * factor


def api(url: str, path: str, **params: str) -> Any:
    query = urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(f"{url}/api/v1/{path}?{query}", timeout=30) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as error:
        body = json.loads(error.read() or b"{}")
    if body.get("status") != "success":
        raise RuntimeError(f"{params.get('query')}: {body.get('error')}")
    return body["data"]


def legend(fmt: str, labels: dict[str, str]) -> str:
    """Grafana's legendFormat: {{label}} replaced by the series' label value."""
    if not fmt:
        return ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), fmt)


def variables(args: argparse.Namespace) -> dict[str, str]:
    """What Grafana would send: $__interval is the step, $__rate_interval
    max($__interval + scrape interval, 4 x scrape interval), $__range the whole range."""
    scrape = seconds(args.scrape_interval)
    rate = max(args.step + scrape, 4 * scrape)
    if args.rate_interval:
        rate = seconds(args.rate_interval)
    return {
        "budget": args.budget,
        "pool": args.pool,
        "__interval": f"{int(args.step)}s",
        "__rate_interval": f"{int(rate)}s",
        "__range": f"{int(args.minutes * 60)}s",
    }


def panel_data(
    url: str, panel: dict[str, Any], chosen: dict[str, str], start: float, end: float, step: float
) -> list[tuple[str, list[float], list[float]]]:
    """(legend, times, values) per series of every target of the panel."""
    series = []
    for target in panel.get("targets", ()):
        expr = substitute(target["expr"], chosen)
        if target.get("instant"):
            result = api(url, "query", query=expr, time=str(end))["result"]
            for item in result:
                name = legend(target.get("legendFormat", ""), item["metric"])
                series.append((name, [end], [float(item["value"][1])]))
            continue
        result = api(
            url, "query_range", query=expr, start=str(start), end=str(end), step=str(step)
        )["result"]
        for item in result:
            name = legend(target.get("legendFormat", ""), item["metric"])
            times = [float(t) for t, _ in item["values"]]
            values = [float(v) for _, v in item["values"]]
            series.append((name, times, values))
    return series


def draw(
    axes: Any,
    panel: dict[str, Any],
    series: list[tuple[str, list[float], list[float]]],
    start: float,
) -> None:
    unit = (panel.get("fieldConfig", {}).get("defaults", {}) or {}).get("unit", "")
    title = panel["title"] + (f"  [{unit}]" if unit and unit != "short" else "")
    axes.set_title(title, fontsize=9, loc="left")
    if not series:
        axes.text(0.5, 0.5, "No data", ha="center", va="center", color="red", fontsize=12)
        axes.set_xticks([])
        axes.set_yticks([])
        return
    kind = panel.get("type")
    if kind == "stat":
        axes.axis("off")
        lines = []
        for name, _, values in series:
            last = next((v for v in reversed(values) if not math.isnan(v)), math.nan)
            lines.append(f"{last:.4g}  {name}")
        axes.text(0.02, 0.5, "\n".join(lines[:4]), va="center", fontsize=10, family="monospace")
        return
    if kind == "bargauge":
        names = [name for name, _, _ in series]
        lasts = [values[-1] for _, _, values in series]
        axes.barh(range(len(names)), lasts, color="tab:green")
        axes.set_yticks(range(len(names)), names, fontsize=7)
        for i, value in enumerate(lasts):
            axes.text(value, i, f" {value:.4g}", va="center", fontsize=8)
        axes.tick_params(labelsize=7)
        axes.margins(x=0.2)
        return
    for name, times, values in series:
        axes.plot([t - start for t in times], values, label=name, linewidth=1.2)
    axes.set_xlabel("seconds since range start", fontsize=7)
    axes.tick_params(labelsize=7)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=6, loc="best")


def render(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dashboard = json.loads(Path(args.dashboard).read_text())
    panels = [p for p in dashboard["panels"] if p.get("type") != "row"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    end = time.time()
    start = end - args.minutes * 60
    chosen = variables(args)
    figure = plt.figure(figsize=(18, rows * 0.55))
    grid = figure.add_gridspec(rows, GRID_COLUMNS, hspace=2.2, wspace=1.4)
    empty = []
    for panel in panels:
        pos = panel["gridPos"]
        axes = figure.add_subplot(
            grid[pos["y"] : pos["y"] + pos["h"], pos["x"] : pos["x"] + pos["w"]]
        )
        series = panel_data(args.prometheus, panel, chosen, start, end, args.step)
        if not series or all(math.isnan(v) for _, _, vs in series for v in vs):
            empty.append(panel["title"])
        draw(axes, panel, series, start)
    figure.suptitle(
        f"{dashboard['title']}  (budget={args.budget}, pool={args.pool}, "
        f"last {args.minutes:g} min, $__rate_interval={chosen['__rate_interval']})",
        fontsize=11,
    )
    figure.savefig(args.out, dpi=args.dpi, bbox_inches="tight")
    print(f"wrote {args.out}; panels without data: {empty or 'none'}")
    return 1 if empty else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prometheus", required=True, help="Prometheus base URL (loopback)")
    parser.add_argument("--dashboard", default=str(DASHBOARD))
    parser.add_argument("--budget", default=".*", help="$budget (a regex; .* is Grafana's All)")
    parser.add_argument("--pool", default=".*", help="$pool (a regex; .* is Grafana's All)")
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--step", type=float, default=5.0, help="query_range step, seconds")
    parser.add_argument("--scrape-interval", default="15s", help="the datasource's scrape interval")
    parser.add_argument(
        "--rate-interval", default="", help="$__rate_interval as given (default: from the above)"
    )
    parser.add_argument("--dpi", type=int, default=60)
    parser.add_argument("--out", default="dashboard.png")
    return render(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
