"""The user docs stay true: every reason code has its fix, every metric is documented, the quick
start is what hack/demo.sh does, and links between docs resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paddock.planner import Reason

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
OURS = (
    "concepts.md",
    "quickstart.md",
    "operations.md",
    "graviton-sizing.md",
    "troubleshooting.md",
    "kubectl-plugin.md",
)
OTHERS_MAY_BE_MISSING = {"benchmarks.md"}
"""Docs other people write; a link to one is fine before it lands."""


def read(name: str) -> str:
    return (DOCS / name).read_text()


def sections(text: str) -> dict[str, str]:
    """`## heading` -> the text up to the next `## `."""
    out: dict[str, str] = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = block.partition("\n")
        out[heading.strip()] = body
    return out


@pytest.mark.parametrize("reason", list(Reason), ids=str)
def test_every_reason_has_a_troubleshooting_section_with_its_fix(reason: Reason) -> None:
    found = sections(read("troubleshooting.md"))
    heading = f"`{reason.value}`"
    assert heading in found, f"docs/troubleshooting.md has no section '## {heading}'"
    body = found[heading]
    assert "**Means:**" in body and "**Fix" in body, f"section {heading} lacks Means/Fix"
    assert f"(#{reason.value.lower()})" in read("troubleshooting.md"), "missing from the table"


def test_troubleshooting_lists_no_unknown_reason() -> None:
    documented = {h.strip("`") for h in sections(read("troubleshooting.md")) if h.startswith("`")}
    assert documented == {r.value for r in Reason}


def test_every_metric_is_in_operations() -> None:
    source = (ROOT / "operator" / "paddock" / "controller" / "metrics.py").read_text()
    names = set(re.findall(r'"(paddock_[a-z_]+)"', source))
    assert names, "no metrics found in metrics.py"
    text = read("operations.md")
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"docs/operations.md does not list {missing}"


def demo_commands() -> list[str]:
    """The commands hack/demo.sh runs, as a user types them from the repository root (quotes
    dropped, the script's variables replaced by their values)."""
    script = (ROOT / "hack" / "demo.sh").read_text().replace("\\\n", " ")
    defaults = dict(re.findall(r"\$\{(\w+):-([^}]*)\}", script))
    out = []
    for raw in script.splitlines():
        line = raw.strip()
        if not re.match(r'(kubectl |"\$HACK_DIR/|nohup |eval |until curl )', line):
            continue
        line = re.sub(r"\$\{(\w+):-[^}]*\}", lambda m: defaults[m.group(1)], line)
        for variable, value in (
            ("$HACK_DIR/", "hack/"),
            ("$VENV_DIR/", ".venv/"),
            ("$REPO_ROOT/", ""),
            ("$DEMO_DIR/", ".local/demo/"),
        ):
            line = line.replace(variable, value)
        line = re.sub(r"\s+", " ", line.replace('"', "").replace(" >/dev/null", ""))
        out.append(line)
    return out


def unquoted(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.replace('"', ""))


def test_quickstart_runs_what_the_demo_runs() -> None:
    commands = demo_commands()
    assert len(commands) >= 8, commands
    text = unquoted(read("quickstart.md"))
    missing = [c for c in commands if c not in text]
    assert not missing, f"docs/quickstart.md lacks demo commands: {missing}"


def test_quickstart_repeats_the_demos_hints_and_paths() -> None:
    script = (ROOT / "hack" / "demo.sh").read_text()
    text = read("quickstart.md")
    for hint in re.findall(r'echo "((?:Try|Stop): [^"]+)"', script):
        assert hint in text, hint
    for port in re.findall(r"PADDOCK_\w+_PORT:-(\d+)", script):
        assert port in text, port
    assert ".local/demo/operator.log" in script and ".local/demo/operator.log" in text
    assert "examples" in script and "kubectl apply -f examples" in text


def anchors(text: str) -> set[str]:
    out = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("name", OURS)
def test_links_resolve(name: str) -> None:
    text = read(name)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"https?://", target):
            continue
        path, _, anchor = target.partition("#")
        file = (DOCS / path).resolve() if path else DOCS / name
        if not file.exists():
            assert Path(path).name in OTHERS_MAY_BE_MISSING, f"{name}: broken link {target}"
            continue
        if anchor and file.suffix == ".md":
            assert anchor in anchors(file.read_text()), f"{name}: no anchor #{anchor} in {path}"
