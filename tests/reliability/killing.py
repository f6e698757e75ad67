"""Running an ``llmrec`` command as a real process and killing it with SIGKILL at chosen points.

A kill point is either progress (the watched JSONL file holds at least N complete lines) or
time (seconds after the process started). Progress points make the test independent of the
machine's load; time points also land in start-up, model loading and final writes.
"""

from __future__ import annotations

import contextlib
import glob
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_OFFLINE": "1",
    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
}


@dataclass(frozen=True)
class KillPoint:
    """``kind`` is ``"rows"`` (kill once ``value`` complete lines exist), ``"file"`` (kill once
    a file matching the glob ``pattern`` exists) or ``"time"`` (kill ``value`` s after start)."""

    kind: str
    value: float
    pattern: str = ""


def complete_lines(pattern: str) -> int:
    """Complete (newline-ended) lines over every file matching the glob ``pattern``."""
    total = 0
    for path in glob.glob(pattern):
        with contextlib.suppress(FileNotFoundError):  # renamed away between glob and read
            total += Path(path).read_bytes().count(b"\n")
    return total


def llmrec(args: list[str], timeout: float = 900) -> subprocess.CompletedProcess:
    """Run ``python -m llmrec ARGS`` to the end; raises with its stderr when it fails."""
    proc = subprocess.run(
        [sys.executable, "-m", "llmrec", *args],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise AssertionError(f"llmrec {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return proc


def run_and_kill(args: list[str], point: KillPoint, watch: str, timeout: float = 900) -> bool:
    """Start ``llmrec ARGS``; SIGKILL it at ``point``. True when it was killed while running.

    A ``rows`` point counts lines written by this run (beyond those ``watch`` held at start).
    """
    import tempfile

    base = complete_lines(watch)
    with tempfile.TemporaryFile() as err:  # a pipe could fill up and stall the child
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmrec", *args], env=ENV, stdout=subprocess.DEVNULL, stderr=err
        )
        start = time.monotonic()
        try:
            while proc.poll() is None:
                elapsed = time.monotonic() - start
                if elapsed > timeout:
                    raise AssertionError(f"llmrec {' '.join(args)} ran past {timeout} s")
                due = (
                    (point.kind == "time" and elapsed >= point.value)
                    or (point.kind == "rows" and complete_lines(watch) - base >= point.value)
                    or (point.kind == "file" and glob.glob(point.pattern))
                )
                if due:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return True
                time.sleep(0.01)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            err.seek(0)
            text = err.read().decode(errors="replace")
            raise AssertionError(f"llmrec {' '.join(args)} failed before the kill:\n{text[-3000:]}")
    return False


def kill_points(
    n: int, seed: int, rows: int, seconds: float, file_pattern: str = ""
) -> list[KillPoint]:
    """``n`` seeded kill points cycling through progress, time and (when given) file kinds.

    Args:
        n: How many.
        seed: Seed of the draw.
        rows: Lines the finished output holds (progress points: ``1..rows // 2`` new lines).
        seconds: Duration of an uninterrupted run (time points fall in ``0.1..1.0`` of it).
        file_pattern: A glob that exists only during a write (a temporary file).
    """
    rng = np.random.default_rng(seed)
    kinds = ["rows", "time"] + (["file"] if file_pattern else [])
    if rows < 2:
        kinds.remove("rows")
    out = []
    for k in range(n):
        kind = kinds[k % len(kinds)]
        if kind == "rows":
            out.append(KillPoint("rows", int(rng.integers(1, max(2, rows // 2 + 1)))))
        elif kind == "time":
            out.append(KillPoint("time", float(rng.uniform(0.1, 1.0) * seconds)))
        else:
            out.append(KillPoint("file", 0, file_pattern))
    return out
