"""The pod spec of an AgentWorkload is the real Kubernetes core/v1 PodSpec.

`k8s/podtemplatespec.json` is a verbatim copy of the schemas the kube-apiserver of the pinned
Kubernetes version serves at `/openapi/v3/api/v1`: `io.k8s.api.core.v1.PodTemplateSpec` and
every schema it refers to (written by hack/gen-pod-schema.py; an integration test compares it
with the running API server, so a Kubernetes bump that changes it is caught).

From that one document this module derives, deterministically:

- the structural schema of `spec.template.spec` in the AgentWorkload CRD, as controller-gen
  derives the pod template of a Job or JobSet: `$ref`s inlined, quantities and int-or-string
  fields as `x-kubernetes-int-or-string`, list types and list-map keys kept, strategic-merge
  and union extensions dropped, nested ObjectMeta reduced to labels and annotations (all a pod
  template's metadata may carry), descriptions kept only near the top so the CRD stays small;
- a small validator of exactly that schema, so the operator rejects a template that bypassed
  the API server (written before the CRD was upgraded) with the same verdict and a message that
  names the field: `spec.template.spec.containers[0].env: expected a list, got 5`.

The validator is a plain walk of the compiled schema (no JSON-schema library): a typical
template validates in tens of microseconds, which matters when 10,000 workloads are parsed at
start. It also returns the template as the API server stores it: nulls of non-nullable fields
pruned and the defaults of list-map keys (a port's `protocol: TCP`) applied.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

from paddock.api.common import DNS_LABEL_PATTERN

SCHEMA_FILE = Path(__file__).resolve().parent / "k8s" / "podtemplatespec.json"
"""The committed copy of the API server's PodTemplateSpec schemas."""

REF_PREFIX = "#/components/schemas/"
ROOT = "io.k8s.api.core.v1.PodTemplateSpec"
POD_SPEC = "io.k8s.api.core.v1.PodSpec"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

QUANTITY_PATTERN = (
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+"
    r"(\.[0-9]*)?)|(\.[0-9]+))))?$"
)
"""The pattern controller-gen puts on every resource.Quantity."""

DESCRIPTION_DEPTH = 2
"""Field descriptions are kept this many fields deep below spec.template.spec (containers is
1, containers[].env is 2): enough for `kubectl explain` of what users set, and the CRD stays
around 200 KB instead of over 1 MB with every description."""

POD_SPEC_DESCRIPTION = (
    "A Kubernetes core/v1 PodSpec, validated against the real schema of the Kubernetes version "
    "Paddock is built for (`kubectl explain pod.spec` documents every field). Paddock owns CPU "
    "and memory requests and limits, node affinity and tolerations, and says so in an event "
    "when it overrides a value."
)
CONTAINERS_DESCRIPTION = (
    "The containers of every replica; at least one, each with a name (a DNS label) and an "
    "image that supports arm64. Paddock sets the CPU and memory of the first container "
    "(integer CPU requests == limits) and its PADDOCK_CORES and OMP_NUM_THREADS variables."
)

IMAGE_DESCRIPTION = (
    "Container image name (https://kubernetes.io/docs/concepts/containers/images). Required "
    "by Paddock; the image must support arm64."
)

# Keywords of the API server's schemas, and what the conversion does with them.
_KEPT = {
    "type",
    "format",
    "enum",
    "required",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
}
_DROPPED = {
    "default",  # only list-map keys keep theirs (see _list_map_defaults)
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-patch-strategy",
    "x-kubernetes-unions",
}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
TYPE_NAME = "x-paddock-type"
"""Only in the validator's schema: the Kubernetes type a node is (for error messages)."""


class PodSchemaError(ValueError):
    """The Kubernetes schema uses a construct this conversion does not know."""


# --------------------------------------------------------------------------- the document


def closure(schemas: Mapping[str, Any], root: str = ROOT) -> dict[str, Any]:
    """`root` and every schema it refers to, transitively, by name (sorted)."""
    found: dict[str, Any] = {}
    pending = [root]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found[name] = schemas[name]
        pending += _refs(schemas[name])
    return {name: found[name] for name in sorted(found)}


def _refs(node: Any) -> list[str]:
    if isinstance(node, Mapping):
        names = []
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                names.append(value.removeprefix(REF_PREFIX))
            else:
                names += _refs(value)
        return names
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


def snapshot(openapi: Mapping[str, Any], kubernetes_version: str) -> dict[str, Any]:
    """The document committed as k8s/podtemplatespec.json, from the API server's
    `/openapi/v3/api/v1` and its `/version` gitVersion."""
    return {
        "kubernetesVersion": kubernetes_version,
        "source": "/openapi/v3/api/v1 of the kube-apiserver (components.schemas)",
        "generator": "hack/gen-pod-schema.py",
        "root": ROOT,
        "schemas": closure(openapi["components"]["schemas"]),
    }


def dump(document: Mapping[str, Any]) -> str:
    """The committed text of a document: sorted, one key a line, so diffs are readable."""
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


@functools.cache
def load() -> dict[str, Any]:
    """The committed document."""
    document: dict[str, Any] = json.loads(SCHEMA_FILE.read_text())
    return document


def kubernetes_version() -> str:
    """The Kubernetes version the committed schema came from, e.g. `v1.37.2`."""
    return str(load()["kubernetesVersion"])


def kubernetes_minor() -> str:
    """`1.37` for `v1.37.2`."""
    return ".".join(kubernetes_version().lstrip("v").split(".")[:2])


# --------------------------------------------------------------------------- conversion


@dataclass(frozen=True)
class _Converter:
    schemas: Mapping[str, Any]
    description_depth: int
    type_names: bool

    def resolve(self, node: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """(referenced name, node with `$ref` / single-`allOf` inlined; siblings win)."""
        node = dict(node)
        ref = node.pop("$ref", None)
        if "allOf" in node:
            parts = node.pop("allOf")
            if len(parts) != 1 or set(parts[0]) != {"$ref"}:
                raise PodSchemaError(f"allOf other than one $ref: {parts}")
            ref = parts[0]["$ref"]
        if ref is None:
            return None, node
        name = str(ref).removeprefix(REF_PREFIX)
        return name, {**self.schemas[name], **node}

    def convert(self, raw: Mapping[str, Any], depth: int, path: str) -> dict[str, Any]:
        name, node = self.resolve(raw)
        special = self.special(name, node, depth)
        if special is not None:
            return special
        out: dict[str, Any] = {}
        if self.type_names and name:
            out[TYPE_NAME] = name.rsplit(".", 1)[-1]
        for key, value in node.items():
            if key == "description":
                if 1 <= depth <= self.description_depth:
                    out["description"] = " ".join(str(value).split())
            elif key == "format" and value == "int-or-string":
                continue
            elif key == "properties":
                out["properties"] = {
                    prop: self.convert(child, depth + 1, f"{path}.{prop}")
                    for prop, child in sorted(value.items())
                }
            elif key == "items":
                out["items"] = self.convert(value, depth, f"{path}[]")
            elif key == "additionalProperties":
                out["additionalProperties"] = self.convert(value, depth, f"{path}{{}}")
            elif key in _KEPT:
                out[key] = value
            elif key not in _DROPPED:
                raise PodSchemaError(f"{path or '<root>'}: keyword {key!r} is not supported")
        if "type" not in out:
            raise PodSchemaError(f"{path or '<root>'}: no type")
        if out.get("x-kubernetes-list-type") == "map":
            self.list_map_defaults(node, out, path)
        return out

    def special(
        self, name: str | None, node: Mapping[str, Any], depth: int
    ) -> dict[str, Any] | None:
        """Quantities and int-or-strings as controller-gen writes them; nested ObjectMeta as
        the labels and annotations a template's metadata may carry (Kubernetes rejects the
        other fields there)."""
        out: dict[str, Any]
        if name == QUANTITY:
            out = {"x-kubernetes-int-or-string": True, "pattern": QUANTITY_PATTERN}
        elif name == INT_OR_STRING:
            out = {"x-kubernetes-int-or-string": True}
        elif name == OBJECT_META:
            out = {
                "type": "object",
                "properties": {"annotations": dict(_STRING_MAP), "labels": dict(_STRING_MAP)},
            }
        else:
            return None
        if self.type_names:
            out[TYPE_NAME] = name.rsplit(".", 1)[-1]
        if "description" in node and 1 <= depth <= self.description_depth:
            out["description"] = " ".join(str(node["description"]).split())
        return out

    def list_map_defaults(self, raw: Mapping[str, Any], out: dict[str, Any], path: str) -> None:
        """A list-map key that is not required keeps its Kubernetes default (a port's
        protocol: TCP): the API server needs one to identify the item."""
        _, raw_items = self.resolve(raw["items"])
        items = out["items"]
        for key in out.get("x-kubernetes-list-map-keys", []):
            if key in items.get("required", []):
                continue
            default = raw_items.get("properties", {}).get(key, {}).get("default")
            if default is None:
                raise PodSchemaError(
                    f"{path}: list-map key {key} is neither required nor defaulted"
                )
            items["properties"][key]["default"] = default


def _paddock_rules(spec: dict[str, Any]) -> dict[str, Any]:
    """What Paddock asks beyond Kubernetes: at least one container, each with a DNS-label name
    and a non-empty image (Kubernetes checks these too, but only when the pod is created)."""
    spec["description"] = POD_SPEC_DESCRIPTION
    containers = spec["properties"]["containers"]
    containers["minItems"] = 1
    containers["description"] = CONTAINERS_DESCRIPTION
    container = containers["items"]
    container["required"] = sorted({*container.get("required", []), "name", "image"})
    container["properties"]["name"].update(pattern=DNS_LABEL_PATTERN, maxLength=63)
    container["properties"]["image"]["minLength"] = 1
    if "description" in container["properties"]["image"]:
        container["properties"]["image"]["description"] = IMAGE_DESCRIPTION
    return spec


def pod_spec_schema(
    document: Mapping[str, Any] | None = None,
    *,
    description_depth: int = DESCRIPTION_DEPTH,
    type_names: bool = False,
) -> dict[str, Any]:
    """The structural schema of spec.template.spec (a new dict each call)."""
    document = load() if document is None else document
    converter = _Converter(document["schemas"], description_depth, type_names)
    return _paddock_rules(converter.convert({"$ref": REF_PREFIX + POD_SPEC}, 0, ""))


# --------------------------------------------------------------------------- validation

_MISSING: Any = object()
_NOUNS = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
}


@dataclass(eq=False)
class _Node:
    """One compiled schema node."""

    kind: str | None = None
    type_name: str = ""
    int_or_string: bool = False
    properties: dict[str, _Node] | None = None
    required: tuple[str, ...] = ()
    items: _Node | None = None
    values: _Node | None = None
    enum: tuple[Any, ...] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_text: str = ""
    min_items: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    list_type: str | None = None
    map_keys: tuple[str, ...] = ()
    default: Any = _MISSING
    int32: bool = False
    names: list[str] = field(default_factory=list)


def _compile(schema: Mapping[str, Any]) -> _Node:
    node = _Node(
        kind=schema.get("type"),
        type_name=schema.get(TYPE_NAME, ""),
        int_or_string=bool(schema.get("x-kubernetes-int-or-string")),
        required=tuple(schema.get("required", ())),
        enum=tuple(schema["enum"]) if "enum" in schema else None,
        min_items=schema.get("minItems"),
        min_length=schema.get("minLength"),
        max_length=schema.get("maxLength"),
        list_type=schema.get("x-kubernetes-list-type"),
        map_keys=tuple(schema.get("x-kubernetes-list-map-keys", ())),
        default=schema.get("default", _MISSING),
        int32=schema.get("format") == "int32",
    )
    if "pattern" in schema:
        # Go's `$` is the end of the text; Python's also matches before a final newline.
        text = schema["pattern"]
        node.pattern = re.compile(text[:-1] + r"\Z" if text.endswith("$") else text)
        node.pattern_text = text
    if "properties" in schema:
        node.properties = {name: _compile(child) for name, child in schema["properties"].items()}
        node.names = sorted(node.properties)
    if "items" in schema:
        node.items = _compile(schema["items"])
    if isinstance(schema.get("additionalProperties"), Mapping):
        node.values = _compile(schema["additionalProperties"])
    return node


Loc = tuple[int | str, ...]


@dataclass(frozen=True)
class Problem:
    """One reason a pod spec is invalid: where (below the pod spec), why, and the value."""

    loc: Loc
    message: str
    value: Any


def _shown(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


INT64 = (-(2**63), 2**63 - 1)
INT32 = (-(2**31), 2**31 - 1)


def _is_whole(value: Any) -> bool:
    """A JSON integer or a whole float, of any size."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_integer(value: Any) -> bool:
    """An OpenAPI integer as the API server sees one: a JSON integer or a whole float, within
    64 bits (a larger number reaches the API server's validation as a float)."""
    return _is_whole(value) and INT64[0] <= value <= INT64[1]


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    # Any mapping or sequence a Python caller may hold (a kopf body view, a tuple) is read as
    # the JSON it stands for; the result is plain dicts and lists.
    "object": lambda v: type(v) is dict or isinstance(v, Mapping),
    "array": lambda v: isinstance(v, list | tuple),
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
}


class _Walk:
    """One validation: collects (loc, message) problems and builds the cleaned copy."""

    MAX_PROBLEMS = 50

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, loc: Loc, message: str, value: Any) -> None:
        if len(self.problems) < self.MAX_PROBLEMS:
            self.problems.append(Problem(loc, message, value))

    def value(self, node: _Node, value: Any, loc: Loc) -> Any:
        if node.int_or_string:
            return self.int_or_string(node, value, loc)
        kind = node.kind or "object"
        if not _TYPE_CHECKS[kind](value):
            self.fail(loc, self.wrong_type(node, kind, value, loc), value)
            return value
        if kind == "object":
            return self.object(node, value, loc)
        if kind == "array":
            return self.array(node, value, loc)
        if kind == "string":
            self.string(node, value, loc)
        elif node.int32 and not INT32[0] <= value <= INT32[1]:
            self.fail(loc, f"{_shown(value)} is out of range: use {INT32[0]} to {INT32[1]}", value)
        if node.enum is not None and value not in node.enum:
            allowed = ", ".join(_shown(v) for v in node.enum)
            self.fail(loc, f"{_shown(value)} is not allowed: use one of {allowed}", value)
        return value

    def wrong_type(self, node: _Node, kind: str, value: Any, loc: Loc) -> str:
        message = f"expected {_NOUNS[kind]}, got {_shown(value)}"
        if kind == "integer" and _is_whole(value):
            return f"{message}: out of the 64-bit integer range"
        field_name = next((part for part in reversed(loc) if isinstance(part, str)), "")
        if value is None:
            return f"{message}: remove the null item"
        if loc and isinstance(loc[-1], int):
            field_name = f"each item of {field_name}"
        if not field_name:
            return message
        if kind == "array" and node.items is not None and node.items.type_name:
            message += f": write {field_name} as a list of {node.items.type_name} objects"
        elif kind == "array" and node.items is not None and node.items.kind:
            message += f": write {field_name} as a list of {node.items.kind}s"
        elif kind == "object" and node.type_name:
            message += f": write {field_name} as a mapping of {node.type_name} fields"
        elif kind == "object" and node.values is not None:
            message += f": write {field_name} as a mapping of names to values"
        elif kind == "integer" and isinstance(value, str):
            message += " (write the number without quotes)"
        elif kind == "string" and not isinstance(value, dict | list):
            message += " (quote the value)"
        return message

    def int_or_string(self, node: _Node, value: Any, loc: Loc) -> Any:
        if isinstance(value, str):
            if node.pattern is not None and not node.pattern.search(value):
                self.fail(
                    loc,
                    f"{_shown(value)} is not a Kubernetes quantity: use a number with an "
                    "optional suffix, such as 500m, 2, 512Mi or 1.5Gi",
                    value,
                )
            return value
        if _is_integer(value):
            return value
        if node.pattern is not None:
            message = (
                "expected a quantity (a string such as 500m or 1.5Gi, or an integer), got "
                f"{_shown(value)}"
            )
            if isinstance(value, float) and math.isfinite(value):
                message += f': quote it ("{value}")'
            self.fail(loc, message, value)
        else:
            self.fail(loc, f"expected an integer or a string, got {_shown(value)}", value)
        return value

    def string(self, node: _Node, value: str, loc: Loc) -> None:
        if node.min_length is not None and len(value) < node.min_length:
            self.fail(loc, f"must not be empty (at least {node.min_length} character)", value)
        if node.max_length is not None and len(value) > node.max_length:
            self.fail(loc, f"must be at most {node.max_length} characters, got {len(value)}", value)
        if node.pattern is not None and not node.pattern.search(value):
            if node.pattern_text == DNS_LABEL_PATTERN:
                self.fail(
                    loc,
                    f"{_shown(value)} is not a DNS label: use lower-case letters, digits and "
                    "'-', starting and ending with a letter or digit",
                    value,
                )
            else:
                self.fail(loc, f"{_shown(value)} does not match {node.pattern_text}", value)

    def object(self, node: _Node, value: Mapping[Any, Any], loc: Loc) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                self.fail(loc, f"field names must be strings, got {_shown(key)}", key)
                continue
            child = node.properties.get(key) if node.properties is not None else node.values
            if child is None:
                self.fail((*loc, key), self.unknown(node, key), item)
                continue
            if item is None:  # the API server prunes nulls of non-nullable fields
                if child.default is not _MISSING:
                    out[key] = child.default
                continue
            out[key] = self.value(child, item, (*loc, key))
        for key in node.required:
            if key not in out:
                self.fail((*loc, key), f"required: set {key}", None)
        if node.properties is not None:
            for key, child in node.properties.items():
                if child.default is not _MISSING and key not in out:
                    out[key] = child.default
        return out

    def unknown(self, node: _Node, key: str) -> str:
        what = f"a Kubernetes {node.type_name}" if node.type_name else "this object"
        message = f"unknown field {_shown(key)}: {what} has no such field"
        close = difflib.get_close_matches(key, node.names, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {_shown(close[0])}?)"
        return message + "; remove it or fix its name"

    def array(self, node: _Node, value: Sequence[Any], loc: Loc) -> list[Any]:
        if node.min_items is not None and len(value) < node.min_items:
            self.fail(loc, f"must have at least {node.min_items} item(s)", value)
        out = [
            self.value(node.items, item, (*loc, index)) if node.items is not None else item
            for index, item in enumerate(value)
        ]
        if node.list_type == "map":
            self.unique_keys(node, out, loc)
        elif node.list_type == "set":
            self.unique_values(out, loc)
        return out

    def unique_keys(self, node: _Node, items: list[Any], loc: Loc) -> None:
        seen: dict[tuple[Any, ...], int] = {}
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            key = tuple(_hashable(item.get(name)) for name in node.map_keys)
            if key in seen:
                described = ", ".join(f"{name}={_shown(item.get(name))}" for name in node.map_keys)
                self.fail(
                    (*loc, index),
                    f"duplicate entry {described} (also at [{seen[key]}]): each may appear once",
                    item,
                )
            else:
                seen[key] = index

    def unique_values(self, items: list[Any], loc: Loc) -> None:
        seen: dict[Any, int] = {}
        for index, item in enumerate(items):
            key = _hashable(item)
            if key in seen:
                self.fail(
                    (*loc, index),
                    f"duplicate value {_shown(item)} (also at [{seen[key]}]): list it once",
                    item,
                )
            else:
                seen[key] = index


def _hashable(value: Any) -> Any:
    """A key that tells JSON values apart (True is not 1) and never fails to hash."""
    if isinstance(value, str | int | float | bool) or value is None:
        return (type(value).__name__, value)
    return ("json", _shown(value, limit=10_000))


@functools.cache
def _validator() -> _Node:
    return _compile(pod_spec_schema(description_depth=0, type_names=True))


def check_pod_spec(value: Any) -> tuple[Any, list[Problem]]:
    """(the pod spec as the API server stores it, the problems found)."""
    walk = _Walk()
    cleaned = walk.value(_validator(), value, ())
    return cleaned, walk.problems


def validate_pod_spec(value: Any) -> dict[str, Any]:
    """A pydantic validator: the cleaned pod spec, or a ValidationError whose locations name
    each bad field below the pod spec (pydantic prefixes the location of the spec itself)."""
    cleaned, problems = check_pod_spec(value)
    if problems:
        raise ValidationError.from_exception_data(
            "PodSpec",
            [
                InitErrorDetails(
                    type=PydanticCustomError("pod_spec", "{message}", {"message": problem.message}),
                    loc=problem.loc,
                    input=problem.value,
                )
                for problem in problems
            ],
        )
    assert isinstance(cleaned, dict)  # no problem means the type matched
    return cleaned
