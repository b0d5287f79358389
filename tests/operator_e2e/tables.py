"""``meta.k8s.io/v1`` Tables: what the API server answers ``kubectl get`` with.

kubectl asks for a Table and prints its columns; for a custom resource, the API server
builds them from the CRD's ``additionalPrinterColumns``. Without a Table, kubectl
prints only NAME and AGE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

AGE_ONLY = [{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]


def wants_table(accept_header: str) -> bool:
    return "as=Table" in accept_header


def human_age(timestamp: str | None) -> str | None:
    """A ``date`` cell as the API server writes it: ``45s``, ``3m``, ``2h``, ``5d``."""
    if not timestamp:
        return None
    seconds = int((datetime.now(UTC) - datetime.fromisoformat(timestamp)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def _lookup(obj: dict[str, Any], json_path: str) -> Any:
    """A printer column's simple JSONPath (``.status.summary.p95``)."""
    value: Any = obj
    for part in json_path.strip(".").split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def table(
    items: list[dict[str, Any]], columns: list[dict[str, Any]], revision: str
) -> dict[str, Any]:
    """Name, then ``columns`` (a CRD version's ``additionalPrinterColumns``)."""
    definitions = [
        {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0}
    ] + [
        {
            "name": column["name"],
            "type": column["type"],
            "format": "",
            "description": column.get("description", ""),
            "priority": column.get("priority", 0),
        }
        for column in columns
    ]
    rows = []
    for item in items:
        cells: list[Any] = [item["metadata"]["name"]]
        for column in columns:
            value = _lookup(item, column["jsonPath"])
            cells.append(human_age(value) if column["type"] == "date" else value)
        partial = {
            "kind": "PartialObjectMetadata",
            "apiVersion": "meta.k8s.io/v1",
            "metadata": item["metadata"],
        }
        rows.append({"cells": cells, "object": partial})
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": revision},
        "columnDefinitions": definitions,
        "rows": rows,
    }
