"""A load generator for any OpenAI-compatible server: N concurrent clients for T seconds.

Each client keeps one HTTP/1.1 connection and sends chat completions back to back. Every
request carries an ``X-Request-Id`` that the answer must echo, and asks one of a few fixed
prompts greedily, so the reply to a prompt must be the same every time: a lost, duplicated or
crossed answer shows up as a missing id, an id seen twice or a reply that differs. The run is
bounded in time and in count and stops by itself.

Example:
    >>> from llmrec.backends.loadgen import run_load
    >>> report = run_load("http://127.0.0.1:8000/v1", "smollm2", clients=64, seconds=60)
    >>> report["requests_per_s"], report["latency_ms"]["p99"], report["errors_by_status"]
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import numpy as np

PROMPTS = tuple(f"Reply with one word about the number {k}." for k in range(8))


def rss_of(pid: int) -> int:
    """Resident set size of a process in bytes, from ``/proc/<pid>/status`` (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ValueError(f"no VmRSS for pid {pid}")


def run_load(
    base_url: str,
    model: str,
    clients: int = 64,
    seconds: float = 60.0,
    max_requests: int = 1_000_000,
    max_tokens: int = 8,
    api_key: str | None = None,
    timeout: float = 120.0,
    server_pid: int | None = None,
    memory: Callable[[], int] | None = None,
) -> dict[str, Any]:
    """Drive ``base_url`` with ``clients`` concurrent clients; returns the measured report.

    Args:
        base_url: API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        model: The model id the server serves.
        clients: Concurrent clients, one connection each.
        seconds: Stop sending after this long.
        max_requests: Stop sending after this many requests in all.
        max_tokens: Reply length asked for (greedy).
        api_key: Bearer token, when the server wants one.
        timeout: Seconds a client waits for one answer.
        server_pid: Sample this process's RSS at start, middle and end (Linux).
        memory: Or any callable returning the bytes to sample.

    Returns:
        ``requests``, ``ok``, ``requests_per_s`` (answered 200 per second), ``latency_ms``
        (p50/p90/p99/max of 200s), ``errors_by_status`` (``"exception:<type>"`` for
        transport failures), ``lost`` (sent, never answered), ``duplicated`` (an id answered twice),
        ``wrong_id`` (an answer echoing another id), ``mismatched`` (a reply that differs from
        the first reply to the same prompt), ``rss_mb`` and the settings.
    """
    if clients < 1 or seconds <= 0 or max_requests < 1:
        raise ValueError("clients, seconds and max_requests must be positive")
    parts = urlsplit(base_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url must look like http://host:port/v1, got {base_url!r}")
    path = parts.path + "/chat/completions"
    if memory is None and server_pid is not None:
        pid = server_pid

        def memory() -> int:
            return rss_of(pid)

    lock = threading.Lock()
    sent: list[str] = []
    answered: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    replies: dict[int, str] = {}
    mismatched = wrong_id = 0
    start = time.monotonic()
    stop_at = start + seconds

    def claim() -> int | None:
        with lock:
            if len(sent) >= max_requests or time.monotonic() >= stop_at:
                return None
            sent.append("")
            return len(sent) - 1

    def client(index: int) -> None:
        nonlocal mismatched, wrong_id
        conn_cls = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        while (number := claim()) is not None:
            request_id = f"c{index}-r{number}"
            with lock:
                sent[number] = request_id
            prompt = number % len(PROMPTS)
            body = {
                "model": model,
                "messages": [{"role": "user", "content": PROMPTS[prompt]}],
                "max_tokens": max_tokens,
                "temperature": 0,
            }
            began = time.monotonic()
            try:
                conn.request(
                    "POST", path, json.dumps(body), {**headers, "X-Request-Id": request_id}
                )
                response = conn.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as err:
                with lock:
                    statuses[f"exception:{type(err).__name__}"] += 1
                conn.close()
                conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
                continue
            elapsed = time.monotonic() - began
            echoed = response.getheader("X-Request-Id")
            with lock:
                statuses[str(response.status)] += 1
                if echoed is not None:
                    answered[echoed] += 1
                    wrong_id += echoed != request_id
                if response.status == 200:
                    latencies.append(elapsed)
                    text = json.loads(data)["choices"][0]["message"]["content"]
                    first = replies.setdefault(prompt, text)
                    mismatched += text != first
            if response.status in (429, 503):
                time.sleep(min(5.0, float(response.getheader("Retry-After") or 1)))
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = conn_cls(parts.hostname, parts.port, timeout=timeout)
        conn.close()

    samples: dict[str, float] = {}
    if memory is not None:
        samples["start"] = memory() / 2**20
    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for thread in threads:
        thread.start()
    if memory is not None:
        time.sleep(min(seconds / 2, max(0.0, stop_at - time.monotonic())))
        samples["middle"] = memory() / 2**20
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    if memory is not None:
        samples["end"] = memory() / 2**20
    ok = statuses.get("200", 0)
    lat = np.array(latencies) * 1000.0
    quantiles = (
        {q: float(np.percentile(lat, int(q[1:]))) for q in ("p50", "p90", "p99")}
        if len(lat)
        else {}
    )
    return {
        "base_url": base_url,
        "clients": clients,
        "seconds": seconds,
        "max_tokens": max_tokens,
        "wall_s": wall,
        "requests": len(sent),
        "ok": ok,
        "requests_per_s": ok / wall if wall > 0 else 0.0,
        "latency_ms": {**quantiles, "max": float(lat.max()) if len(lat) else None},
        "errors_by_status": {k: v for k, v in sorted(statuses.items()) if k != "200"},
        "lost": sum(1 for rid in sent if answered[rid] == 0),
        "duplicated": sum(1 for n in answered.values() if n > 1),
        "wrong_id": wrong_id,
        "mismatched": mismatched,
        "rss_mb": samples,
    }
