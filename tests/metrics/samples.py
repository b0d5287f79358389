"""Reading collected samples back, keyed by the labels that are not the run's identity."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample

IDENTITY = ("loadtest", "namespace", "run", "runner")


def all_samples(registry: CollectorRegistry) -> list[Sample]:
    return [sample for family in registry.collect() for sample in family.samples]


def by_labels(samples: Iterable[Sample], name: str, *ignore: str) -> dict[tuple, float]:
    """``{((label, value), ...): value}`` for samples named ``name``, identity labels left out."""
    left_out = set(IDENTITY) | set(ignore)
    return {
        tuple(sorted((k, v) for k, v in sample.labels.items() if k not in left_out)): sample.value
        for sample in samples
        if sample.name == name
    }


def single(samples: Iterable[Sample], name: str, **labels: str) -> float:
    matches = [
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(matches) == 1, (name, labels, matches)
    return matches[0]
