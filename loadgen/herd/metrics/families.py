"""Metric families whose every sample carries the run's identity labels.

``loadtest``, ``namespace``, ``run`` and ``runner`` go on every series, so one
Prometheus (or Pushgateway) can hold many runs and runners apart, and dashboards
can select by them. Families with no samples are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)

from herd.metrics.buckets import Buckets

Samples = Iterable[tuple[Sequence[str], float]]


class LabelledFamilies:
    def __init__(self, identity: Mapping[str, str]):
        self._names = list(identity)
        self._values = list(identity.values())

    def counter(
        self, name: str, doc: str, samples: Samples, labels: Sequence[str] = ()
    ) -> Metric | None:
        return self._fill(CounterMetricFamily(name, doc, labels=[*self._names, *labels]), samples)

    def gauge(
        self, name: str, doc: str, samples: Samples, labels: Sequence[str] = ()
    ) -> Metric | None:
        return self._fill(GaugeMetricFamily(name, doc, labels=[*self._names, *labels]), samples)

    def histogram(
        self,
        name: str,
        doc: str,
        samples: Iterable[tuple[Sequence[str], Buckets, float]],
        labels: Sequence[str] = (),
    ) -> Metric | None:
        family = HistogramMetricFamily(name, doc, labels=[*self._names, *labels])
        for values, buckets, total in samples:
            family.add_metric([*self._values, *values], buckets, total)
        return family if family.samples else None

    def info(self, name: str, doc: str, value: Mapping[str, str]) -> Metric:
        family = InfoMetricFamily(name, doc, labels=self._names)
        family.add_metric(self._values, dict(value))
        return family

    def _fill(
        self, family: CounterMetricFamily | GaugeMetricFamily, samples: Samples
    ) -> Metric | None:
        for values, value in samples:
            family.add_metric([*self._values, *values], value)
        return family if family.samples else None
