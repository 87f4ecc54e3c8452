"""The pod template's schema and validator (paddock.api.podspec).

The verdicts on whole objects are in bad_objects.py (shared with the API server); here: the
messages an operator user reads, what the validator returns, its robustness against arbitrary
JSON written past the schema, and the conversion of the Kubernetes OpenAPI.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from paddock.api import AgentWorkload, describe_errors, podspec
from tests.unit.api.bad_objects import agent, edit

C0 = "spec.template.spec.containers[0]"


def _errors(edits: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        AgentWorkload.model_validate(edit(agent(), edits))
    return describe_errors(caught.value)


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        (
            {f"{C0}.env": 5},
            f"{C0}.env: expected a list, got 5: write env as a list of EnvVar objects",
        ),
        (
            {f"{C0}.portz": [{"containerPort": 80}]},
            f'{C0}.portz: unknown field "portz": a Kubernetes Container has no such field '
            '(did you mean "ports"?); remove it or fix its name',
        ),
        (
            {f"{C0}.resources": {"limits": {"cpu": "lots"}}},
            f'{C0}.resources.limits.cpu: "lots" is not a Kubernetes quantity: use a number with '
            "an optional suffix, such as 500m, 2, 512Mi or 1.5Gi",
        ),
        (
            {f"{C0}.resources": {"limits": {"cpu": 1.5}}},
            f"{C0}.resources.limits.cpu: expected a quantity (a string such as 500m or 1.5Gi, "
            'or an integer), got 1.5: quote it ("1.5")',
        ),
        (
            {f"{C0}.env": [{"value": "1"}]},
            f"{C0}.env[0].name: required: set name",
        ),
        (
            {f"{C0}.ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "TCP"}]},
            f'{C0}.ports[1]: duplicate entry containerPort=80, protocol="TCP" (also at [0]): '
            "each may appear once",
        ),
        (
            {f"{C0}.ports": [{"containerPort": "80"}]},
            f'{C0}.ports[0].containerPort: expected an integer, got "80" (write the number '
            "without quotes)",
        ),
        (
            {"spec.template.spec.hostNetwork": "true"},
            'spec.template.spec.hostNetwork: expected a boolean (true or false), got "true"',
        ),
        (
            {f"{C0}.name": "Agent_1"},
            f'{C0}.name: "Agent_1" is not a DNS label: use lower-case letters, digits and '
            "'-', starting and ending with a letter or digit",
        ),
        (
            {"spec.template.spec.volumes": [{"name": "v", "emptyDir": "yes"}]},
            'spec.template.spec.volumes[0].emptyDir: expected an object, got "yes": write '
            "emptyDir as a mapping of EmptyDirVolumeSource fields",
        ),
        (
            {f"{C0}.imagePullPolicy": "Sometimes"},
            f'{C0}.imagePullPolicy: "Sometimes" is not allowed: use one of "Always", '
            '"IfNotPresent", "Never"',
        ),
        (
            {f"{C0}.env": [None]},
            f"{C0}.env[0]: expected an object, got null: remove the null item",
        ),
        (
            {f"{C0}.env": ["A=1"]},
            f'{C0}.env[0]: expected an object, got "A=1": write each item of env as a mapping '
            "of EnvVar fields",
        ),
        (
            {f"{C0}.ports": [{"containerPort": 2**40}]},
            f"{C0}.ports[0].containerPort: 1099511627776 is out of range: use -2147483648 to "
            "2147483647",
        ),
        (
            {"spec.template.spec.activeDeadlineSeconds": 1e30},
            "spec.template.spec.activeDeadlineSeconds: expected an integer, got 1e+30: out of "
            "the 64-bit integer range",
        ),
        (
            {"spec.template.spec.containers": []},
            "spec.template.spec.containers: must have at least 1 item(s)",
        ),
        (
            {"spec.template.spec.nodeSelector": {"disk": 1}},
            "spec.template.spec.nodeSelector.disk: expected a string, got 1 (quote the value)",
        ),
    ],
    ids=lambda value: "" if isinstance(value, str) else next(iter(value)).rsplit(".", 1)[-1],
)
def test_errors_name_the_field_and_the_fix(edits: dict[str, Any], expected: str) -> None:
    assert _errors(edits) == [expected]


def test_every_problem_is_reported_with_its_own_location() -> None:
    errors = _errors(
        {
            f"{C0}.env": 5,
            f"{C0}.ports": "x",
            "spec.template.spec.initContainers": [{"image": "busybox:1"}],
        }
    )
    assert [line.split(":", 1)[0] for line in errors] == [
        f"{C0}.env",
        f"{C0}.ports",
        "spec.template.spec.initContainers[0].name",
    ]


def test_the_pydantic_location_is_precise() -> None:
    with pytest.raises(ValidationError) as caught:
        AgentWorkload.model_validate(edit(agent(), {f"{C0}.env": 5}))
    (error,) = caught.value.errors()
    assert error["loc"] == ("spec", "template", "spec", "containers", 0, "env")
    assert error["type"] == "pod_spec"
    assert error["input"] == 5


def test_the_result_is_what_the_api_server_stores() -> None:
    spec = {
        "containers": [
            {
                "name": "a",
                "image": "i",
                "ports": [{"containerPort": 80, "protocol": None}, {"containerPort": 81}],
                "workingDir": None,
            }
        ],
        "imagePullSecrets": [{}],
        "nodeSelector": {"disk": "ssd"},
    }
    original = copy.deepcopy(spec)
    cleaned = podspec.validate_pod_spec(spec)
    assert cleaned == {
        "containers": [
            {
                "name": "a",
                "image": "i",
                "ports": [
                    {"containerPort": 80, "protocol": "TCP"},
                    {"containerPort": 81, "protocol": "TCP"},
                ],
            }
        ],
        "imagePullSecrets": [{"name": ""}],
        "nodeSelector": {"disk": "ssd"},
    }
    assert spec == original  # the input is not changed
    assert podspec.validate_pod_spec(cleaned) == cleaned


def test_mappings_and_tuples_are_read_as_the_json_they_stand_for() -> None:
    from types import MappingProxyType

    container = MappingProxyType({"name": "a", "image": "i", "args": ("x", "y")})
    cleaned = podspec.validate_pod_spec(MappingProxyType({"containers": (container,)}))
    assert cleaned == {"containers": [{"name": "a", "image": "i", "args": ["x", "y"]}]}
    assert type(cleaned["containers"][0]) is dict and type(cleaned["containers"]) is list


def test_the_committed_schema_records_its_kubernetes_version() -> None:
    document = podspec.load()
    assert document["kubernetesVersion"] == "v1.37.2"  # hack/tools/go.mod pins k8s.io/* v0.37.2
    assert podspec.kubernetes_minor() == "1.37"
    assert document["root"] == podspec.ROOT
    assert podspec.POD_SPEC in document["schemas"]
    # Exactly the closure of PodTemplateSpec, as hack/gen-pod-schema.py writes it.
    assert podspec.closure(document["schemas"]) == document["schemas"]
    assert podspec.dump(document) == podspec.SCHEMA_FILE.read_text()


def _openapi(schemas: dict[str, Any]) -> dict[str, Any]:
    return {"components": {"schemas": schemas}}


def test_conversion_inlines_refs_and_keeps_list_maps() -> None:
    ref = podspec.REF_PREFIX
    schemas = {
        podspec.ROOT: {"type": "object", "properties": {"spec": {"$ref": ref + podspec.POD_SPEC}}},
        podspec.POD_SPEC: {
            "type": "object",
            "required": ["containers"],
            "properties": {
                "containers": {
                    "type": "array",
                    "items": {"allOf": [{"$ref": ref + "Container"}], "default": {}},
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "x-kubernetes-patch-strategy": "merge",
                }
            },
        },
        "Container": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "default": "", "description": "Name."},
                "image": {"type": "string"},
                "cpu": {"$ref": ref + podspec.QUANTITY},
            },
        },
        podspec.QUANTITY: {"oneOf": [{"type": "string"}, {"type": "number"}]},
        "Unused": {"type": "string"},
    }
    document = podspec.snapshot(_openapi(schemas), "v9.9.9")
    assert "Unused" not in document["schemas"] and document["kubernetesVersion"] == "v9.9.9"
    schema = podspec.pod_spec_schema(document)
    container = schema["properties"]["containers"]
    assert container["x-kubernetes-list-map-keys"] == ["name"]
    assert "x-kubernetes-patch-strategy" not in container
    assert container["items"]["properties"]["cpu"] == {
        "x-kubernetes-int-or-string": True,
        "pattern": podspec.QUANTITY_PATTERN,
    }
    assert container["items"]["properties"]["name"]["description"] == "Name."
    assert "default" not in container["items"]["properties"]["name"]
    assert "$ref" not in json.dumps(schema) and "allOf" not in json.dumps(schema)


def test_conversion_refuses_what_it_does_not_know() -> None:
    schemas = {
        podspec.POD_SPEC: {"type": "object", "properties": {"x": {"type": "string", "not": {}}}}
    }
    with pytest.raises(podspec.PodSchemaError, match="'not'"):
        podspec.pod_spec_schema({"schemas": schemas})


# --------------------------------------------------------------------------- properties

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
"""Any string JSON can carry (no lone surrogates)."""

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
"""Any JSON value (what a client can store when the schema is bypassed)."""


def _field_paths(
    node: Mapping[str, Any], path: str, depth: int
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, schema) of the pod spec's fields, with [0] for list items, `depth` levels deep."""
    if depth == 0:
        return
    for name, child in sorted(node.get("properties", {}).items()):
        child_path = f"{path}.{name}"
        yield child_path, child
        if child.get("type") == "array" and "items" in child:
            yield from _field_paths(child["items"], f"{child_path}[0]", depth - 1)
        else:
            yield from _field_paths(child, child_path, depth - 1)


FIELD_SCHEMAS = dict(_field_paths(podspec.pod_spec_schema(description_depth=0), "", 4))
FIELDS = sorted(FIELD_SCHEMAS)
"""Hundreds of template fields: containers[0].env[0].valueFrom... and so on."""

QUANTITIES = st.sampled_from(["1", "500m", "1.5Gi", "2e3", "http", "+1", ".5", "1Ki", "-1"])


def conforming(node: Mapping[str, Any], depth: int = 3) -> st.SearchStrategy[Any]:
    """Values of the type `node` asks for (with its required fields): most are valid, so the
    accepted side, defaults and pruning are exercised too, not only rejections."""
    if node.get("x-kubernetes-int-or-string"):
        return st.integers(min_value=-(2**31), max_value=2**31) | QUANTITIES
    kind = node.get("type")
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if kind == "string":
        return TEXT | st.sampled_from(["a", "agent", "TCP", "Always", "/models"])
    if kind == "integer":
        bound = 2**31 if node.get("format") == "int32" else 2**63
        return st.integers(min_value=-bound, max_value=bound)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        if depth == 0 or "items" not in node:
            return st.just([])
        return st.lists(conforming(node["items"], depth - 1), max_size=2)
    if depth == 0:
        return st.just({})
    properties = node.get("properties", {})
    if properties:
        required = node.get("required", [])
        optional = [name for name in sorted(properties) if name not in required][:8]
        return st.fixed_dictionaries(
            {name: conforming(properties[name], depth - 1) for name in required},
            optional={name: conforming(properties[name], depth - 1) for name in optional},
        )
    values = node.get("additionalProperties")
    if isinstance(values, Mapping):
        return st.dictionaries(TEXT, conforming(values, depth - 1), max_size=2)
    return st.just({})


@st.composite
def template_values(draw: st.DrawFn, path: str) -> Any:
    """Arbitrary JSON, or a value of the field's own type."""
    return draw(JSON | conforming(FIELD_SCHEMAS[path]))


def set_path(spec: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """`spec` with `value` at `path`, creating the objects and one-item lists on the way."""
    result = copy.deepcopy(spec)
    steps = path.strip(".").replace("[0]", ".[0]").split(".")
    node: Any = result
    for step, following in zip(steps, [*steps[1:], None], strict=True):
        if step == "[0]":
            continue
        last = following is None
        if last:
            node[step] = value
        elif following == "[0]":
            current = node.get(step)
            if not (isinstance(current, list) and current and isinstance(current[0], dict)):
                node[step] = [{}]
            node = node[step][0]
        else:
            if not isinstance(node.get(step), dict):
                node[step] = {}
            node = node[step]
    return result


def test_the_field_list_covers_the_pod_spec() -> None:
    assert len(FIELDS) > 500
    assert ".containers[0].env[0].valueFrom" in FIELDS
    assert ".volumes[0].ephemeral.volumeClaimTemplate" in FIELDS


BASE = agent()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(paths=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3), values=st.data())
def test_arbitrary_json_in_template_fields_never_escapes_as_another_exception(
    paths: list[str], values: st.DataObject
) -> None:
    spec = BASE["spec"]["template"]["spec"]
    for path in paths:
        spec = set_path(spec, path, values.draw(template_values(path)))
    manifest = edit(BASE, {"spec.template.spec": spec})
    try:
        workload = AgentWorkload.model_validate(manifest)
    except ValidationError as error:
        lines = describe_errors(error)
        assert lines and all(line.startswith("spec.template.spec") for line in lines), lines
        return
    # Valid: the renderer's input is plain JSON, and validating it again changes nothing.
    template = workload.spec.template.model_dump(by_alias=True, exclude_none=True)
    json.dumps(template)
    again = AgentWorkload.model_validate(edit(BASE, {"spec.template.spec": template["spec"]}))
    assert again.spec.template == workload.spec.template


@settings(max_examples=200, deadline=None)
@given(value=JSON)
def test_an_arbitrary_template_never_escapes_as_another_exception(value: Any) -> None:
    for path in ("spec.template", "spec.template.spec", f"{C0}"):
        try:
            AgentWorkload.model_validate(edit(BASE, {path: value}))
        except ValidationError as error:
            assert describe_errors(error)
