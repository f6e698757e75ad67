"""Load on ``llmrec serve``: 64 concurrent clients for 60 s on loopback.

Starts ``llmrec serve`` as its own process (or uses ``--url`` for any OpenAI-compatible server,
vLLM included), drives it with :func:`llmrec.backends.loadgen.run_load`, then stops it. Every
request carries an id the answer must echo, and asks one of 8 fixed prompts greedily, so lost,
duplicated or crossed answers are counted. The server's RSS is sampled at start, middle and end.

Run:

    OMP_NUM_THREADS=1 python eval/bench/serve_load.py --model tiny-random-llama \
        --clients 64 --seconds 60 --max-tokens 8
    python eval/bench/serve_load.py --url http://127.0.0.1:8000/v1 --name my-model

The last line is JSON: ``requests_per_s``, ``latency_ms`` (p50/p90/p99/max), ``errors_by_status``,
``lost``, ``duplicated``, ``wrong_id``, ``mismatched``, ``rss_mb`` and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time


def start_server(
    model: str, max_queue: int, batch_size: int | None
) -> tuple[subprocess.Popen, str]:
    """``llmrec serve`` on a free port; returns the process and its base URL once it listens."""
    cmd = [sys.executable, "-m", "llmrec", "serve", "--model", model, "--port", "0"]
    cmd += ["--max-queue", str(max_queue)]
    if batch_size:
        cmd += ["--batch-size", str(batch_size)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            raise RuntimeError(f"llmrec serve exited with {proc.returncode} before listening")
        match = re.search(r"at (http://\S+)", line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("llmrec serve did not start within 300 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-random-llama", help="backend for llmrec serve")
    parser.add_argument("--url", default=None, help="drive this server instead of starting one")
    parser.add_argument("--name", default=None, help="model id the server serves")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--max-queue", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()

    from llmrec.backends.loadgen import run_load

    proc = None
    url, name = args.url, args.name
    if url is None:
        proc, url = start_server(args.model, args.max_queue, args.batch_size)
        name = name or args.model
    try:
        report = run_load(
            url,
            name or "llmrec",
            clients=args.clients,
            seconds=args.seconds,
            max_requests=args.max_requests,
            max_tokens=args.max_tokens,
            server_pid=proc.pid if proc else None,
        )
        alive = proc is None or proc.poll() is None
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    report.update(model=name, server_alive_after=alive, load_avg=list(os.getloadavg()))
    lat = report["latency_ms"]
    print(
        f"{report['ok']} answered of {report['requests']} in {report['wall_s']:.1f} s: "
        f"{report['requests_per_s']:.1f} req/s, p50 {lat.get('p50', float('nan')):.0f} ms, "
        f"p99 {lat.get('p99', float('nan')):.0f} ms; errors {report['errors_by_status']}; "
        f"lost {report['lost']}, duplicated {report['duplicated']}, "
        f"mismatched {report['mismatched']}; RSS MB {report['rss_mb']}"
    )
    print(json.dumps(report))


if __name__ == "__main__":
    main()
