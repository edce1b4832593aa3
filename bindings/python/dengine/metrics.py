"""dengine.Metrics: a snapshot of what a node counts (:meth:`Node.metrics`).

``docs/operations.md`` ("Metrics and health") lists every metric; the names
and labels are the Prometheus ones, and :meth:`Metrics.text` is the
Prometheus text format that dengined serves at ``/metrics``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _dengine

MetricType = Literal["counter", "gauge", "histogram"]

_TYPES: dict[int, MetricType] = {
    _dengine.METRIC_COUNTER: "counter",
    _dengine.METRIC_GAUGE: "gauge",
    _dengine.METRIC_HISTOGRAM: "histogram",
}


@dataclass(frozen=True)
class Metric:
    """One sample: a metric, or one label value of a labelled metric (e.g.
    ``dengine_peer_match_index`` of ``{"peer": "2"}``)."""

    name: str  #: e.g. "dengine_commit_index"
    help: str  #: one line saying what it is
    type: MetricType
    #: ``{}``, or the one label of the sample, e.g. ``{"status": "ok"}``
    labels: dict[str, str] = field(hash=False)
    #: counters and gauges: the value; histograms: the sum of the observations
    value: float
    count: int = 0  #: histograms: how many observations
    #: histograms: ``(upper_bound, observations <= upper_bound)``, cumulative
    #: as Prometheus counts them, ascending, the last ``(math.inf, count)``
    buckets: tuple[tuple[float, int], ...] = ()


class Metrics:
    """A node's metrics at one moment: iterate over its :class:`Metric`
    samples, look one up with :meth:`sample` or ``metrics[name]``, or take
    the Prometheus text with :meth:`text`. Immutable."""

    def __init__(self, samples: Iterable[Metric], text: str) -> None:
        self._samples = tuple(samples)
        self._text = text

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._samples)

    def __len__(self) -> int:
        return len(self._samples)

    def __contains__(self, name: object) -> bool:
        """Whether the snapshot has a sample of metric ``name``."""
        return any(m.name == name for m in self._samples)

    def __getitem__(self, name: str) -> float:
        """The value of the unlabelled metric ``name`` (a histogram's: the
        sum of its observations). Raises KeyError if it has no such sample,
        as a labelled metric has not: use :meth:`sample` for those."""
        sample = self.sample(name)
        if sample is None:
            raise KeyError(name)
        return sample.value

    def sample(self, name: str, **labels: str | int) -> Metric | None:
        """The sample of metric ``name`` with exactly ``labels`` (none: the
        unlabelled one), or None: ``sample("dengine_proposals_total",
        status="ok")``, ``sample("dengine_peer_match_index", peer=2)``."""
        wanted = {key: str(value) for key, value in labels.items()}
        for m in self._samples:
            if m.name == name and m.labels == wanted:
                return m
        return None

    def samples(self, name: str) -> list[Metric]:
        """Every sample of metric ``name`` (one per label value), in order."""
        return [m for m in self._samples if m.name == name]

    def text(self) -> str:
        """The snapshot in the Prometheus text exposition format (0.0.4)."""
        return self._text

    @classmethod
    def _from_native(cls, native: tuple[list[Any], str]) -> Metrics:
        samples, text = native
        return cls((_metric(*sample) for sample in samples), text)

    def __repr__(self) -> str:
        return f"<dengine.Metrics {len(self._samples)} samples>"


def _metric(
    name: str,
    help: str,
    type: int,
    label_name: str,
    label_value: str,
    value: float,
    count: int,
    buckets: list[tuple[float, int]],
) -> Metric:
    if type == _dengine.METRIC_HISTOGRAM:
        # The C API leaves out the +Inf bucket: its count is the total.
        buckets = [*buckets, (math.inf, count)]
    return Metric(
        name=name,
        help=help,
        type=_TYPES[type],
        labels={label_name: label_value} if label_name else {},
        value=value,
        count=count,
        buckets=tuple(buckets),
    )
