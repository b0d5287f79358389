"""Names, labels, annotations and owner references of everything the operator creates.

Run names are deterministic (derived from what triggered the run), so a restarted
operator that tries to start the same run again gets ``AlreadyExists`` instead of a
duplicate. Names stay short enough for every name Kubernetes derives from them: an
Indexed Job's pods get the hostname ``<job>-<index>``, which must fit in 63 characters.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from herd import __version__
from herd.api.runs import RUN_KIND
from herd.api.spec import API_GROUP, API_VERSION, KIND

API = f"{API_GROUP}/{API_VERSION}"

# Labels (app.kubernetes.io/* as recommended by Kubernetes, herd.dev/* for selection).
NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"
LOADTEST_LABEL = f"{API_GROUP}/loadtest"
RUN_LABEL = f"{API_GROUP}/run"
TRIGGER_LABEL = f"{API_GROUP}/trigger"
MANAGER = "herd-operator"

TRIGGER_ANNOTATION = f"{API_GROUP}/trigger"
"""Set or change it on a LoadTest to start a run now:
``kubectl annotate lt NAME herd.dev/trigger="$(date +%s)" --overwrite``."""

MAX_RUN_NAME = 52
"""Room for ``-<index>`` (at most 99 runners) plus a margin within a 63-character hostname."""


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def bounded_name(base: str, suffix: str, limit: int = MAX_RUN_NAME) -> str:
    """``<base>-<suffix>``; a base too long is cut and tagged with its hash to stay unique."""
    name = f"{base}-{suffix}"
    if len(name) <= limit:
        return name
    tag = short_hash(base, 5)
    keep = limit - len(suffix) - len(tag) - 2
    return f"{base[:keep].rstrip('-')}-{tag}-{suffix}"


def label_value(text: str) -> str:
    """A valid label value (63 characters of ``[A-Za-z0-9._-]``, alphanumeric ends)."""
    value = re.sub(r"[^A-Za-z0-9._-]", "-", text)[:63]
    return value.strip("-_.")


def run_labels(loadtest_name: str | None, run_name: str, component: str) -> dict[str, str]:
    labels = {
        NAME_LABEL: "herd",
        INSTANCE_LABEL: label_value(loadtest_name or run_name),
        COMPONENT_LABEL: component,
        PART_OF_LABEL: "herd",
        MANAGED_BY_LABEL: MANAGER,
        VERSION_LABEL: label_value(__version__),
        RUN_LABEL: run_name,
    }
    if loadtest_name:
        labels[LOADTEST_LABEL] = loadtest_name
    return labels


def selector_labels(run_name: str) -> dict[str, str]:
    """The labels that find a run's Job and pods (stable across operator versions)."""
    return {NAME_LABEL: "herd", RUN_LABEL: run_name}


def owner_reference(kind: str, name: str, uid: str) -> dict[str, Any]:
    """Makes the owner's deletion delete the object (and marks the owner as its controller)."""
    return {
        "apiVersion": API,
        "kind": kind,
        "name": name,
        "uid": uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def run_owner_reference(run_name: str, run_uid: str) -> dict[str, Any]:
    return owner_reference(RUN_KIND, run_name, run_uid)


def loadtest_owner_reference(name: str, uid: str) -> dict[str, Any]:
    return owner_reference(KIND, name, uid)
