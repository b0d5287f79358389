"""From pydantic models to a Kubernetes *structural* OpenAPI v3 schema.

The API server only accepts CRD schemas that are structural (see "Specifying a
structural schema" in the Kubernetes CRD docs): every node has a ``type`` (unless it
is int-or-string or preserves unknown fields), there are no ``$ref``s, logic
junctors (``anyOf`` …) carry no types, descriptions, defaults or nullability, and
``properties`` never appear beside ``additionalProperties``. Pydantic's JSON schema
is rewritten to that shape:

- ``$ref`` → the definition, inlined (field description and default win);
- ``X | None`` → ``X`` with ``nullable: true``; ``Literal``/``const`` → ``enum``;
- ``exclusiveMinimum: n`` (JSON Schema 2020) → ``minimum: n, exclusiveMinimum: true``;
- ``dict[str, Any]`` → ``x-kubernetes-preserve-unknown-fields`` (the only free form);
- defaults are written as the wire shows them (``150.0`` seconds → ``"2m30s"``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import SchemaSerializer, core_schema, to_jsonable_python

# Keys a JSONSchemaProps node may keep, in the order they are written (so the
# generated YAML reads top-down); anything else pydantic emits is dropped.
_KEPT = (
    "description",
    "type",
    "format",
    "default",
    "enum",
    "pattern",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "items",
    "properties",
    "required",
    "additionalProperties",
    "nullable",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
)


class SchemaError(ValueError):
    """A model uses a construct that has no structural-schema equivalent."""


class _WireDefaults(GenerateJsonSchema):
    """Writes defaults (including ``default_factory`` ones) as they appear on the wire."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> dict[str, Any]:
        json_schema = self.generate_inner(schema["schema"])
        if "default_factory" in schema:
            if schema.get("default_factory_takes_data"):
                return json_schema
            default = schema["default_factory"]()  # type: ignore[call-arg]  # takes no data
        else:
            default = schema.get("default")
        if default is not None:
            json_schema["default"] = _wire_value(default, schema["schema"])
        return json_schema


def _wire_value(value: Any, inner: core_schema.CoreSchema) -> Any:
    if isinstance(value, BaseModel):
        # Nested defaults are applied by the API server field by field.
        return value.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    try:
        return SchemaSerializer(inner).to_python(value, mode="json")
    except Exception:  # schemas with references cannot be serialized on their own
        return to_jsonable_python(value)


def structural_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of ``model`` (camelCase field names)."""
    raw = model.model_json_schema(by_alias=True, schema_generator=_WireDefaults)
    definitions = raw.pop("$defs", {})
    return _convert(raw, definitions, path=model.__name__, seen=())


def _convert(
    node: dict[str, Any], definitions: dict[str, Any], path: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    node = dict(node)
    if "$ref" in node:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        if name in seen:
            raise SchemaError(f"{path}: recursive model {name} cannot be inlined")
        seen = (*seen, name)
        node = {**definitions[name], **node}  # the field's description/default win
    if "allOf" in node and len(node["allOf"]) == 1:  # pydantic's wrapper for a described $ref
        node = {**_convert(node.pop("allOf")[0], definitions, path, seen), **node}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if node.get("x-kubernetes-int-or-string"):
        return _ordered(node)
    if "anyOf" in node:
        node = _collapse_union(node, definitions, path, seen)
    if isinstance(node.get("exclusiveMinimum"), int | float) and not isinstance(
        node.get("exclusiveMinimum"), bool
    ):
        node["minimum"] = node["exclusiveMinimum"]
        node["exclusiveMinimum"] = True
    if isinstance(node.get("exclusiveMaximum"), int | float) and not isinstance(
        node.get("exclusiveMaximum"), bool
    ):
        node["maximum"] = node["exclusiveMaximum"]
        node["exclusiveMaximum"] = True
    if "description" in node:
        node["description"] = " ".join(node["description"].split())
    if node.get("type") == "object":
        node = _convert_object(node, definitions, path, seen)
    if node.get("type") == "array" and "items" in node:
        node["items"] = _convert(node["items"], definitions, f"{path}[]", seen)
    if node.get("default") in ({}, []) and "properties" not in node:
        del node["default"]  # an empty collection is what absence means anyway
    if "type" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
        raise SchemaError(f"{path}: no type (a union pydantic could not express?)")
    return _ordered(node)


def _ordered(node: dict[str, Any]) -> dict[str, Any]:
    return {key: node[key] for key in _KEPT if key in node}


def _convert_object(
    node: dict[str, Any], definitions: dict[str, Any], path: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    extra = node.pop("additionalProperties", None)
    if "properties" in node:
        node["properties"] = {
            name: _convert(child, definitions, f"{path}.{name}", seen)
            for name, child in node["properties"].items()
        }
    elif extra is True or extra is None:
        node["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(extra, dict):
        node["additionalProperties"] = _convert(extra, definitions, f"{path}.*", seen)
    # With properties, unknown fields are pruned by the API server (and the operator's
    # models reject them): additionalProperties: false is not allowed beside properties.
    return node


def _collapse_union(
    node: dict[str, Any], definitions: dict[str, Any], path: str, seen: tuple[str, ...]
) -> dict[str, Any]:
    members = node.pop("anyOf")
    nullable = any(member.get("type") == "null" for member in members)
    members = [
        _convert(member, definitions, path, seen)
        for member in members
        if member.get("type") != "null"
    ]
    if len(members) == 1:
        merged = {**members[0], **{k: v for k, v in node.items() if k != "default"}}
        if node.get("default") is not None:
            merged["default"] = node["default"]
    elif all(member.get("type") == "string" and "enum" in member for member in members):
        merged = {**node, "type": "string", "enum": [v for m in members for v in m["enum"]]}
    else:
        raise SchemaError(f"{path}: a union of {len(members)} types is not structural")
    if nullable:
        merged["nullable"] = True
    return merged
