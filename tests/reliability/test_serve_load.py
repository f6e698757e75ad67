"""The load generator against a real ``llmrec serve``: every request answered once, correctly."""

from __future__ import annotations

import pytest

from llmrec.backends.loadgen import run_load
from llmrec.backends.server import serve_in_thread


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=16)


def test_concurrent_clients_lose_nothing(tiny):
    calls = []
    with serve_in_thread(tiny, "tiny", batch_wait=0.01) as server:
        report = run_load(
            server.url,
            "tiny",
            clients=8,
            seconds=30,
            max_requests=32,
            max_tokens=4,
            memory=lambda: calls.append(1) or 100 * 2**20,
        )
    assert report["requests"] == report["ok"] == 32  # bounded by count, all answered
    assert report["errors_by_status"] == {}
    assert (report["lost"], report["duplicated"], report["wrong_id"], report["mismatched"]) == (
        0,
        0,
        0,
        0,
    )
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    assert set(report["rss_mb"]) == {"start", "middle", "end"} and len(calls) == 3


def test_overload_is_answered_429_and_counted(tiny):
    with serve_in_thread(tiny, "tiny", batch_wait=0.2, max_queue=2, max_batch=2) as server:
        report = run_load(server.url, "tiny", clients=12, seconds=30, max_requests=36, max_tokens=4)
    assert report["requests"] == 36
    assert report["ok"] + report["errors_by_status"].get("429", 0) == 36
    assert report["errors_by_status"].get("429", 0) > 0
    assert report["lost"] == report["duplicated"] == report["mismatched"] == 0


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="base_url"):
        run_load("localhost:8000", "m")
