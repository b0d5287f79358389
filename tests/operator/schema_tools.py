"""Checking generated schemas: Kubernetes' structural rules, and JSON-schema validation
of objects against a CRD's openAPIV3Schema (OpenAPI v3.0 → JSON Schema)."""

from __future__ import annotations

from typing import Any

import jsonschema

_JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
_FORBIDDEN_IN_JUNCTORS = ("description", "type", "default", "additionalProperties", "nullable")


def structural_problems(node: Any, path: str = "", in_junctor: bool = False) -> list[str]:
    """Violations of the structural-schema rules of the Kubernetes CRD docs."""
    problems: list[str] = []
    if not isinstance(node, dict):
        return [f"{path}: not a schema object"]
    int_or_string = node.get("x-kubernetes-int-or-string") is True
    if "$ref" in node or "definitions" in node or "$defs" in node:
        problems.append(f"{path}: $ref/definitions are not allowed")
    if not in_junctor and "type" not in node and not int_or_string:
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            problems.append(f"{path}: no type")
    if in_junctor:
        problems += [
            f"{path}: {key} inside a junctor" for key in _FORBIDDEN_IN_JUNCTORS if key in node
        ]
    if "properties" in node and "additionalProperties" in node:
        problems.append(f"{path}: properties beside additionalProperties")
    for junctor in _JUNCTORS:
        if junctor in node:
            members = node[junctor] if isinstance(node[junctor], list) else [node[junctor]]
            if int_or_string and junctor == "anyOf":
                if members != [{"type": "integer"}, {"type": "string"}]:
                    problems.append(f"{path}: int-or-string anyOf must be [integer, string]")
                continue
            for member in members:
                problems += structural_problems(member, f"{path}/{junctor}", in_junctor=True)
    for name, child in (node.get("properties") or {}).items():
        problems += structural_problems(child, f"{path}.{name}", in_junctor)
    if isinstance(node.get("additionalProperties"), dict):
        problems += structural_problems(node["additionalProperties"], f"{path}.*", in_junctor)
    if "items" in node:
        problems += structural_problems(node["items"], f"{path}[]", in_junctor)
    return problems


def to_json_schema(node: Any) -> Any:
    """OpenAPI v3.0 → JSON Schema: ``nullable`` and boolean ``exclusiveMinimum``."""
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: to_json_schema(value) for key, value in node.items() if not key.startswith("x-")}
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if out.get(bound) is True:
            out[bound] = out.pop(limit)
        elif out.get(bound) is False:
            del out[bound]
    if node.get("x-kubernetes-preserve-unknown-fields") and "properties" not in node:
        out.setdefault("additionalProperties", True)
    if "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False  # structural pruning would drop the rest
    if out.pop("nullable", False):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


def validate_against(crd: dict[str, Any], document: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` when ``document`` breaks the CRD's schema."""
    schema = to_json_schema(crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"])
    schema["properties"]["metadata"]["additionalProperties"] = True  # only name is checked
    jsonschema.validate(document, schema)
