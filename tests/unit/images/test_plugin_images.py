"""`kubectl paddock explain` shows each image's platforms and the age of the answer."""

from __future__ import annotations

from paddock.kubectl_plugin.explain import Explanation
from paddock.kubectl_plugin.images import image_block, image_lines
from paddock.kubectl_plugin.render import explain_text

STATUS = {
    "reason": "ImageArchMismatch",
    "message": "image r/a:1 offers linux/amd64 but not linux/arm64",
    "images": [
        {
            "container": "agent",
            "image": "r/a:1",
            "outcome": "Offered",
            "platforms": "linux/amd64, linux/arm64",
            "checkedAt": "1970-01-01T00:01:00Z",
        },
        {
            "container": "logs",
            "kind": "sidecar",
            "image": "r/logs:1",
            "outcome": "Missing",
            "platforms": "linux/amd64",
        },
    ],
}


def test_explain_prints_every_image_with_platforms_and_age() -> None:
    lines = image_lines(STATUS, now=90.0)
    assert [(i.container, i.outcome, i.age) for i in lines] == [
        ("agent", "Offered", 30.0),
        ("logs", "Missing", None),
    ]
    text = explain_text(
        Explanation(workload="ns/w", namespace="ns", name="w", replicas=1, images=lines)
    )
    assert "IMAGES" in text
    assert "logs (sidecar)  r/logs:1  Missing  linux/amd64" in text
    assert "linux/amd64, linux/arm64  30s" in text


def test_the_operators_image_verdict_is_planned_only_for_the_current_generation() -> None:
    assert image_block(STATUS, current=True) == ("ImageArchMismatch", STATUS["message"])
    assert image_block(STATUS, current=False) is None
    assert image_block({"reason": "BudgetExhausted"}, current=True) is None
