"""Shared pieces of the Paddock API: base models, field types, selectors, conditions, quantities.

Every CRD schema in `crds/` is generated from the pydantic models of this package, so the
models are the single source of truth. Three rules keep the operator and the API server from
ever disagreeing about an object:

- types are strict the way the API server is strict: an integer field takes a JSON integer (or a
  whole float such as `2.0`), never a string or a boolean; a string field takes only a string;
- spec models forbid unknown fields, as `kubectl`'s default strict field validation does;
- every cross-field rule is a `Rule`: one declaration that carries both the CEL expression the
  API server evaluates (`x-kubernetes-validations`) and its Python twin the models evaluate,
  with the same message.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

# --------------------------------------------------------------------------- patterns

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
"""RFC 1123 label: lower-case alphanumerics and '-', starting and ending alphanumeric."""

DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
"""RFC 1123 subdomain: dot-separated labels (the form of most Kubernetes object names)."""

LABEL_KEY_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
"""A label key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters."""

LABEL_VALUE_PATTERN = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
"""A label value: empty, or alphanumerics, '-', '_' and '.', starting and ending alphanumeric."""

MEMORY_QUANTITY_PATTERN = r"^[1-9][0-9]*(\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
"""A positive memory quantity: a number that starts with a non-zero digit and an optional
binary (Ki..Ei) or decimal (k..E) suffix, e.g. `512Mi`, `1.5Gi`, `8G`, `1073741824`.
A subset of the Kubernetes quantity syntax: no sign, no exponent, no milli-bytes, no zero."""

MAX_NAME_LENGTH = 63
"""Paddock object names are used as label values (`paddock.dev/workload`, `paddock.dev/pool`)."""

MAX_SELECTOR_REQUIREMENTS = 32
MAX_TOLERATIONS = 32
"""List bounds: they keep the API server's CEL cost estimate of per-item rules within budget."""

# --------------------------------------------------------------------------- quantities

_QUANTITY_RE = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<binary>Ki|Mi|Gi|Ti|Pi|Ei)|(?P<decimal>[numkMGTPE])|"
    r"(?:[eE](?P<exponent>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))))?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: str) -> Decimal:
    """The exact value of a Kubernetes quantity string (`"1.5Gi"`, `"500m"`, `"2e3"`, `"4"`).

    Raises ValueError naming the accepted syntax when the string is not a quantity.
    """
    if not isinstance(value, str):
        raise ValueError(f"a quantity must be a string, not {type(value).__name__}")
    match = _QUANTITY_RE.match(value.strip())
    if match is None:
        raise ValueError(
            f"{value!r} is not a Kubernetes quantity: use a number with an optional suffix "
            "such as 512Mi, 1.5Gi, 2G, 500m or 2e3"
        )
    number = Decimal(match["number"])
    if match["binary"]:
        return number * Decimal(1024) ** _BINARY[match["binary"]]
    if match["decimal"]:
        return number.scaleb(_DECIMAL[match["decimal"]])
    if match["exponent"]:
        exponent = Decimal(match["exponent"])
        if exponent != exponent.to_integral_value():
            raise ValueError(f"{value!r}: the exponent of a quantity must be a whole number")
        return number.scaleb(int(exponent))
    return number


def _ceil(value: Decimal) -> int:
    try:
        return math.ceil(value)
    except (InvalidOperation, OverflowError) as error:  # pragma: no cover - absurd input
        raise ValueError(f"quantity {value} is out of range") from error


@functools.lru_cache(maxsize=4096)  # a cluster repeats a few quantities endlessly
def parse_memory_bytes(value: str) -> int:
    """Bytes in a memory quantity, rounded up as Kubernetes does (`"1Gi"` -> 1073741824).

    Negative quantities raise ValueError.
    """
    number = parse_quantity(value)
    if number < 0:
        raise ValueError(f"memory quantity {value!r} is negative")
    return _ceil(number)


@functools.lru_cache(maxsize=4096)  # a cluster repeats a few quantities endlessly
def parse_cpu_millicores(value: str | int | float) -> int:
    """Millicores in a CPU quantity, rounded up as Kubernetes does.

    `"500m"` -> 500, `"2"` -> 2000, `2` -> 2000, `1.5` -> 1500, `"0.1"` -> 100.
    Booleans and negative values raise ValueError.
    """
    if isinstance(value, bool):
        raise ValueError("a CPU quantity cannot be a boolean")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"CPU quantity {value} is not finite")
        number = Decimal(repr(value))
    else:
        number = parse_quantity(value)
    if number < 0:
        raise ValueError(f"CPU quantity {value!r} is negative")
    return _ceil(number * 1000)


# --------------------------------------------------------------------------- field types


def _whole_number(value: Any) -> Any:
    """Accept what the API server accepts as an OpenAPI integer: ints and whole floats."""
    if isinstance(value, bool):
        raise PydanticCustomError("int_type", "Input should be an integer, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise PydanticCustomError(
            "int_fraction",
            "Input should be a whole number, not {value}: cores and counts are integers",
            {"value": value},
        )
    raise PydanticCustomError(
        "int_type", "Input should be an integer, not {kind}", {"kind": type(value).__name__}
    )


WholeInt = Annotated[int, BeforeValidator(_whole_number)]
"""An integer as the API server sees one: a JSON integer or a whole float, nothing else."""

Str = Annotated[str, StringConstraints(strict=True)]
"""A string that must arrive as a string (no number coerced into text)."""

DnsLabel = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)
]
ObjectName = Annotated[
    str,
    StringConstraints(
        strict=True, min_length=1, max_length=MAX_NAME_LENGTH, pattern=DNS_SUBDOMAIN_PATTERN
    ),
]
"""The name of a Paddock object (a CorePool or CoreBudget): a DNS subdomain of at most 63 chars."""

LabelKey = Annotated[
    str, StringConstraints(strict=True, min_length=1, max_length=317, pattern=LABEL_KEY_PATTERN)
]
LabelValue = Annotated[
    str, StringConstraints(strict=True, max_length=63, pattern=LABEL_VALUE_PATTERN)
]
ShortStr = Annotated[str, StringConstraints(strict=True, max_length=63)]
"""A string of at most 63 characters (a taint value)."""
KeyStr = Annotated[str, StringConstraints(strict=True, max_length=317)]
"""A string as long as a label key may be (a taint key, possibly empty)."""
MemoryQuantity = Annotated[
    str, StringConstraints(strict=True, max_length=32, pattern=MEMORY_QUANTITY_PATTERN)
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def unique_items(items: list[T]) -> list[T]:
    """Reject repeated items, as the API server does for `x-kubernetes-list-type: set`."""
    seen: list[T] = []
    for index, item in enumerate(items):
        if item in seen:
            raise PydanticCustomError(
                "duplicate",
                "[{index}]: duplicate value {value}: list each item once",
                {"index": index, "value": repr(item)},
            )
        seen.append(item)
    return items


def unique_by(key: str) -> Callable[[list[M]], list[M]]:
    """Reject items with a repeated `key`, as the API server does for `x-kubernetes-list-type:
    map` with `x-kubernetes-list-map-keys: [key]`."""

    def check(items: list[M]) -> list[M]:
        seen: set[Any] = set()
        for index, item in enumerate(items):
            value = getattr(item, key)
            if value in seen:
                raise PydanticCustomError(
                    "duplicate",
                    "[{index}]: duplicate {key} {value}: each {key} may appear once",
                    {"index": index, "key": key, "value": repr(value)},
                )
            seen.add(value)
        return items

    return check


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class Rule:
    """A cross-field rule, enforced twice from one declaration.

    The API server evaluates `cel` (an `x-kubernetes-validations` entry on the schema of the
    model that declares the rule; `self` is an instance of that model) and reports
    `message_expression`. The models evaluate `check` and report `explain`, which must produce
    the same text as `message_expression`; the integration test compares them.
    """

    cel: str
    message: str
    """Static message: what the API server says if `message_expression` cannot be evaluated."""
    check: Callable[[Any], bool]
    """Python twin of `cel`: true when the object is valid."""
    message_expression: str | None = None
    explain: Callable[[Any], str] | None = None
    """Python twin of `message_expression`."""
    field_path: str | None = None
    """JSON path, relative to the model, of the field the error is about (e.g. `.minReplicas`)."""
    reason: str | None = None
    """FieldValueInvalid (default), FieldValueForbidden, FieldValueRequired or
    FieldValueDuplicate."""

    def schema(self) -> dict[str, str]:
        """The `x-kubernetes-validations` entry."""
        entry = {"rule": self.cel, "message": self.message}
        if self.message_expression:
            entry["messageExpression"] = self.message_expression
        if self.field_path:
            entry["fieldPath"] = self.field_path
        if self.reason:
            entry["reason"] = self.reason
        return entry

    def error(self, model: Any) -> str:
        """The message for an object that breaks the rule."""
        return self.explain(model) if self.explain else self.message


# --------------------------------------------------------------------------- base models


class ApiModel(BaseModel):
    """Base of every Paddock API model.

    camelCase on the wire (`coresPerReplica`), snake_case in Python (`cores_per_replica`);
    either name is accepted on input. Unknown fields are rejected. Subclasses declare
    cross-field rules in `rules`.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        validate_default=False,
    )

    rules: ClassVar[tuple[Rule, ...]] = ()

    @model_validator(mode="after")
    def _check_rules(self) -> Any:
        for rule in type(self).rules:
            if not rule.check(self):
                context = {"message": rule.error(self), "field_path": rule.field_path or ""}
                raise PydanticCustomError("paddock_rule", "{message}", context)
        return self

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(core_schema)
        target = handler.resolve_ref_schema(json_schema)
        if cls.rules:
            target["x-kubernetes-validations"] = [rule.schema() for rule in cls.rules]
        return json_schema

    def to_wire(self) -> dict[str, Any]:
        """The object as JSON-ready data with camelCase keys, unset optional fields left out."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class StatusModel(ApiModel):
    """Base of status models: lenient on read, so an operator meets a newer status calmly."""

    model_config = ConfigDict(extra="ignore")


class ObjectMeta(BaseModel):
    """Standard Kubernetes object metadata (the API server validates it; kept as is)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    name: str | None = None
    generate_name: str | None = None
    namespace: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    finalizers: list[str] | None = None
    owner_references: list[dict[str, Any]] | None = None


def name_length_rule(label: str) -> Rule:
    """Root rule: the object name fits in a label value (`label` is the label it goes in)."""
    advice = f"the name is the value of the {label} label; choose a shorter name"
    return Rule(
        cel=f"!has(self.metadata.name) || self.metadata.name.size() <= {MAX_NAME_LENGTH}",
        message=f"metadata.name must be at most {MAX_NAME_LENGTH} characters: {advice}",
        message_expression=(
            f"'metadata.name (%d characters) must be at most {MAX_NAME_LENGTH} characters: "
            f"{advice}'.format([self.metadata.name.size()])"
        ),
        explain=lambda obj: (
            f"metadata.name ({len(obj.metadata.name)} characters) must be at most "
            f"{MAX_NAME_LENGTH} characters: {advice}"
        ),
        check=lambda obj: obj.metadata.name is None or len(obj.metadata.name) <= MAX_NAME_LENGTH,
    )


# --------------------------------------------------------------------------- selectors


class LabelSelectorRequirement(ApiModel):
    """One requirement of a label selector: a key, an operator and values."""

    key: LabelKey = Field(description="The label key the requirement applies to.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(
        description="How the key relates to the values: In, NotIn, Exists or DoesNotExist."
    )
    values: list[LabelValue] | None = Field(
        default=None,
        description=(
            "The values for In and NotIn (at least one); must be empty for Exists and DoesNotExist."
        ),
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )

    rules = (
        Rule(
            cel=(
                "self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0"
                " : !has(self.values) || size(self.values) == 0"
            ),
            message=(
                "values must be non-empty for operator In or NotIn and empty for Exists or "
                "DoesNotExist"
            ),
            message_expression=(
                "self.operator in ['In', 'NotIn'] ? 'values must list at least one value when "
                "operator is ' + self.operator : 'values must be empty when operator is ' + "
                "self.operator + ': remove values or use In or NotIn'"
            ),
            explain=lambda r: (
                f"values must list at least one value when operator is {r.operator}"
                if r.operator in ("In", "NotIn")
                else f"values must be empty when operator is {r.operator}: remove values or "
                "use In or NotIn"
            ),
            check=lambda r: bool(r.values) if r.operator in ("In", "NotIn") else not r.values,
            field_path=".values",
        ),
    )


class LabelSelector(ApiModel):
    """A Kubernetes label selector (metav1.LabelSelector). The requirements are ANDed; an empty
    selector selects everything."""

    match_labels: dict[str, LabelValue] | None = Field(
        default=None,
        description="Labels that must all be present with exactly these values.",
    )
    match_expressions: list[LabelSelectorRequirement] | None = Field(
        default=None,
        max_length=MAX_SELECTOR_REQUIREMENTS,
        description="Set-based requirements that must all hold.",
        json_schema_extra={"x-kubernetes-list-type": "atomic"},
    )

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether a set of labels satisfies the selector."""
        for key, value in (self.match_labels or {}).items():
            if labels.get(key) != value:
                return False
        for requirement in self.match_expressions or []:
            present = requirement.key in labels
            values = requirement.values or []
            if requirement.operator == "In" and labels.get(requirement.key) not in values:
                return False
            if requirement.operator == "NotIn" and present and labels[requirement.key] in values:
                return False
            if requirement.operator == "Exists" and not present:
                return False
            if requirement.operator == "DoesNotExist" and present:
                return False
        return True


# --------------------------------------------------------------------------- tolerations


class Toleration(ApiModel):
    """A core/v1 Toleration: lets a pod run on nodes with a matching taint."""

    key: KeyStr | None = Field(
        default=None,
        description="The taint key the toleration matches; empty with operator Exists matches all.",
    )
    operator: Literal["Exists", "Equal"] = Field(
        default="Equal", description="Equal (key and value match) or Exists (key matches)."
    )
    value: ShortStr | None = Field(
        default=None, description="The taint value to match; must be empty for operator Exists."
    )
    effect: Literal["", "NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        default=None,
        description="The taint effect to match: NoSchedule, PreferNoSchedule or NoExecute; "
        "empty matches all effects.",
    )
    toleration_seconds: WholeInt | None = Field(
        default=None,
        description="How long a NoExecute taint is tolerated before eviction; unset is forever.",
    )

    def tolerates(self, key: str, value: str, effect: str) -> bool:
        """Whether this toleration matches a node taint, as kube-scheduler decides it."""
        if self.effect and self.effect != effect:
            return False
        if not self.key:
            return self.operator == "Exists"
        if self.key != key:
            return False
        return self.operator == "Exists" or (self.value or "") == value

    rules = (
        Rule(
            cel="self.operator != 'Exists' || !has(self.value) || self.value == ''",
            message="value must be empty when operator is Exists: remove value or use Equal",
            check=lambda t: t.operator != "Exists" or not t.value,
            field_path=".value",
        ),
        Rule(
            cel="self.operator == 'Exists' || (has(self.key) && self.key != '')",
            message="key is required when operator is Equal: set key or use operator Exists",
            check=lambda t: t.operator == "Exists" or bool(t.key),
            field_path=".key",
            reason="FieldValueRequired",
        ),
        Rule(
            cel="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
            message="tolerationSeconds applies only to effect NoExecute: set effect NoExecute "
            "or remove tolerationSeconds",
            check=lambda t: t.toleration_seconds is None or t.effect == "NoExecute",
            field_path=".tolerationSeconds",
        ),
    )


# --------------------------------------------------------------------------- conditions


class Condition(StatusModel):
    """A metav1.Condition-style observation of one aspect of an object."""

    type: Str = Field(description="The aspect observed, in CamelCase (e.g. Admitted, Ready).")
    status: Literal["True", "False", "Unknown"] = Field(
        description="Whether the condition holds: True, False or Unknown."
    )
    reason: Str | None = Field(
        default=None, description="A CamelCase machine-readable cause of the last transition."
    )
    message: Str | None = Field(default=None, description="A human-readable explanation.")
    last_transition_time: datetime | None = Field(
        default=None, description="When status last changed."
    )
    observed_generation: WholeInt | None = Field(
        default=None,
        ge=0,
        description="The metadata.generation the condition was computed from.",
    )


CONDITIONS_SCHEMA_EXTRA: dict[str, Any] = {
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["type"],
}


# --------------------------------------------------------------------------- CRD metadata


@dataclass(frozen=True)
class PrinterColumn:
    """An `additionalPrinterColumns` entry: what `kubectl get` shows."""

    name: str
    json_path: str
    type: Literal["integer", "number", "string", "boolean", "date"]
    description: str
    priority: int = 0

    def schema(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            entry["priority"] = self.priority
        return entry


AGE_COLUMN = PrinterColumn(
    "Age", ".metadata.creationTimestamp", "date", "Time since the object was created."
)


@dataclass(frozen=True)
class ScaleSubresource:
    """The `/scale` subresource: what `kubectl scale`, HorizontalPodAutoscaler and KEDA read and
    write. JSON paths as the API server wants them (`.spec.replicas`)."""

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str

    def schema(self) -> dict[str, Any]:
        return {
            "specReplicasPath": self.spec_replicas_path,
            "statusReplicasPath": self.status_replicas_path,
            "labelSelectorPath": self.label_selector_path,
        }


@dataclass(frozen=True)
class CrdInfo:
    """How a kind is served: names, scope, columns. Read by the CRD and docs generators."""

    kind: str
    plural: str
    singular: str
    scope: Literal["Cluster", "Namespaced"]
    short_names: tuple[str, ...]
    printer_columns: tuple[PrinterColumn, ...]
    categories: tuple[str, ...] = ("paddock",)
    selectable_fields: tuple[str, ...] = ()
    scale: ScaleSubresource | None = None


# --------------------------------------------------------------------------- errors


def format_location(loc: Sequence[int | str]) -> str:
    """`('spec', 'tolerations', 0, 'key')` -> `spec.tolerations[0].key` (the API server's form)."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def describe_errors(error: ValidationError) -> list[str]:
    """One line per problem, `<field path>: <message>`, in the API server's path notation.

    Union and wrapper segments that pydantic adds (e.g. function-before[...]) are dropped; a
    broken `Rule` is reported at its field path, as the API server reports it.
    """
    lines = []
    for item in error.errors():
        loc = [
            part
            for part in item["loc"]
            if isinstance(part, int) or ("[" not in part and "(" not in part)
        ]
        where = format_location(loc)
        if item["type"] == "paddock_rule" and item.get("ctx", {}).get("field_path"):
            where += item["ctx"]["field_path"]
        lines.append(f"{where}: {item['msg']}" if where else item["msg"])
    return lines
