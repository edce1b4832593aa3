"""Node.metrics() and Client.metrics(): what a node counts as writes apply,
looked up by name and label, and as Prometheus text."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FAST, free_port

import dengine


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[dengine.Node, str]]:
    """A one-node cluster leading itself and serving clients, and the
    address it serves them at."""
    address = f"127.0.0.1:{free_port()}"
    with dengine.Node(
        id=1, data_dir=tmp_path, initial_voters=[1], client_address=address, **FAST
    ) as node:
        node.wait_for_leader()
        yield node, address


def test_samples_move_as_writes_apply(served: tuple[dengine.Node, str]) -> None:
    node, _ = served
    before = node.metrics()
    for i in range(10):
        node.put(f"k{i}", "v")
    after = node.metrics()

    assert after["dengine_is_leader"] == 1
    assert after["dengine_node_id"] == 1
    assert after["dengine_commit_index"] >= before["dengine_commit_index"] + 10
    proposals = after.sample("dengine_proposals_total", status="ok")
    assert proposals is not None
    assert proposals.type == "counter"
    assert proposals.labels == {"status": "ok"}
    assert proposals.value >= 10
    assert proposals in after.samples("dengine_proposals_total")

    commit = after.sample("dengine_commit_index")
    assert commit is not None and commit.type == "gauge" and commit.labels == {}
    assert commit.help and commit.count == 0 and commit.buckets == ()

    fsync = after.sample("dengine_fsync_latency_seconds")
    assert fsync is not None and fsync.type == "histogram"
    assert fsync.count >= 1
    assert fsync.value > 0  # the seconds spent, summed
    bounds = [bound for bound, _ in fsync.buckets]
    counts = [count for _, count in fsync.buckets]
    assert bounds == sorted(bounds) and bounds[-1] == math.inf
    assert counts == sorted(counts) and counts[-1] == fsync.count


def test_every_sample_is_well_formed(served: tuple[dengine.Node, str]) -> None:
    node, _ = served
    metrics = node.metrics()
    assert len(metrics) == len(list(metrics)) > 30
    for m in metrics:
        assert m.name.startswith("dengine_") and m.name in metrics
        assert m.type in ("counter", "gauge", "histogram")
        assert len(m.labels) <= 1
        if m.type == "histogram":
            assert m.buckets[-1] == (math.inf, m.count)
        else:
            assert m.count == 0 and m.buckets == ()


def test_an_absent_metric_is_none_or_a_key_error(
    served: tuple[dengine.Node, str],
) -> None:
    node, _ = served
    metrics = node.metrics()
    assert metrics.sample("dengine_no_such_metric") is None
    assert metrics.sample("dengine_proposals_total", status="nope") is None
    assert metrics.samples("dengine_no_such_metric") == []
    assert "dengine_no_such_metric" not in metrics
    with pytest.raises(KeyError):
        metrics["dengine_no_such_metric"]
    # A labelled metric has no unlabelled sample.
    with pytest.raises(KeyError):
        metrics["dengine_proposals_total"]


def test_the_text_reaches_node_and_client_callers(
    served: tuple[dengine.Node, str],
) -> None:
    node, address = served
    text = node.metrics().text()
    assert "# TYPE dengine_commit_index gauge\n" in text
    assert 'dengine_fsync_latency_seconds_bucket{le="+Inf"}' in text

    with dengine.Client(address, timeout=10) as client:
        assert "\ndengine_node_id 1\n" in client.metrics()


def test_a_stopped_node_keeps_its_last_values(
    served: tuple[dengine.Node, str],
) -> None:
    node, _ = served
    node.put("k", "v")
    node.stop()
    assert node.metrics()["dengine_node_id"] == 1


def test_a_closed_node_or_client_refuses(served: tuple[dengine.Node, str]) -> None:
    node, address = served
    client = dengine.Client(address)
    client.close()
    with pytest.raises(dengine.ShuttingDownError):
        client.metrics()
    node.close()
    with pytest.raises(dengine.ShuttingDownError):
        node.metrics()
