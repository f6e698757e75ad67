"""kill -9 during long jobs, then re-run: every user once, outputs byte-identical, caches intact.

Each job runs as a real ``llmrec`` process on a synthetic world with the tiny random Llama (or
the real MiniLM for embeddings). A chain of seeded kill points (progress and time) interrupts
it; after each kill the outputs hold only complete rows, no user twice, and the SQLite cache
passes ``PRAGMA integrity_check``. A final uninterrupted re-run must then produce exactly the
bytes of a run that was never killed. The default suite takes 3 kill points per job; the
``slow`` tests take 20.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .killing import complete_lines, kill_points, llmrec, run_and_kill


@dataclass
class Job:
    """One job: its argv in a work folder, the file whose lines show progress, its outputs."""

    name: str

    def args(self, work: Path, world: Path, tiny: str) -> list[str]:
        if self.name == "profile":
            return ["profile", "--data", str(world), "--model", tiny, "--users", "16"] + [
                "--out", str(work / "profiles.jsonl"), "--batch-size", "2",
                "--max-new-tokens", "12", "--cache", str(work / "cache.sqlite"), "--quiet",
            ]  # fmt: skip
        if self.name == "judge":
            return ["judge", "validate", "--data", str(world), "--model", tiny, "--users", "8"] + [
                "--out", str(work / "judge"), "--cache", str(work / "cache.sqlite"),
                "--no-pairwise", "--n-boot", "50", "--batch-size", "4", "--views", "profile,history",
            ]  # fmt: skip
        if self.name == "embed":
            return ["embed", "users", "--data", str(world), "--model", "all-minilm-l6-v2"] + [
                "--out", str(work / "users.safetensors"), "--batch-size", "8",
            ]  # fmt: skip
        if self.name == "pipeline":
            return [
                "run",
                "--config",
                str(work.parent / "pipeline.yaml"),
                "--out",
                str(work / "run"),
            ]
        raise ValueError(self.name)

    def watch(self, work: Path) -> str:
        return {
            "profile": str(work / "profiles.jsonl"),
            "judge": str(work / "judge" / "profiles_*.jsonl"),
            "embed": str(work / "none"),
            "pipeline": str(work / "run" / "profiles" / "*.jsonl"),
        }[self.name]

    def temp_file(self, work: Path) -> str:
        # A file that exists only while the final output is being written.
        return str(work / ".users.safetensors.tmp-*") if self.name == "embed" else ""

    def outputs(self, work: Path) -> dict[str, object]:
        """What must be identical to an uninterrupted run: file bytes, or step results.

        The work folder's own path (which differs between runs) is replaced by ``<WORK>``.
        """

        def read(path: Path) -> bytes:
            return path.read_bytes().replace(str(work).encode(), b"<WORK>")

        if self.name == "pipeline":
            run = work / "run"
            out: dict[str, object] = {
                p.relative_to(run).as_posix(): read(p)
                for p in sorted((run / "profiles").glob("*.jsonl"))
            }
            for step in sorted((run / "steps").glob("*.json")):
                record = json.loads(read(step))
                out[step.name] = (record["key"], without_accounting(record["result"]))
            return out
        files = [p for p in sorted(work.rglob("*")) if p.is_file() and "cache.sqlite" not in p.name]
        return {p.relative_to(work).as_posix(): read(p) for p in files}


# How a run went, not what it produced: wall times, and how much of a step was generated now
# rather than resumed (a killed-and-resumed run differs there by design).
ACCOUNTING = {"seconds", "generated_now", "resumed", "completion_tokens"}


def without_accounting(value: object) -> object:
    """``value`` without its :data:`ACCOUNTING` entries, at any depth."""
    if isinstance(value, dict):
        return {k: without_accounting(v) for k, v in value.items() if k not in ACCOUNTING}
    if isinstance(value, list):
        return [without_accounting(v) for v in value]
    return value


JOBS = ["profile", "judge", "embed", "pipeline"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    llmrec(["data", "synth", "--users", "60", "--items", "80", "--mean-history", "12"]
           + ["--seed", "0", "--out", str(out)])  # fmt: skip
    return out


@pytest.fixture(scope="module")
def pipeline_yaml(tmp_path_factory, world, tiny_llama_path) -> Path:
    import yaml

    folder = tmp_path_factory.mktemp("jobs")
    config = {
        "data": {"name": str(world)},
        "models": {"llm": tiny_llama_path, "batch_size": 8},
        "profiles": {"users": 6, "window": 8, "max_new_tokens": 16, "show": 2},
        "evaluation": {
            "recommenders": ["random", "most_popular"],
            "metrics": ["hr@10", "ndcg@10"],
            "ks": [10],
            "rerank_users": 4,
            "rerank_candidates": 3,
            "bootstrap": 50,
        },
        "judge": {"users": 4, "negatives": 2, "compare_users": 3, "compare_k": 3},
        "embeddings": {"enabled": False},
    }
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return folder


class References(dict):
    """Each job run once, uninterrupted, on first use: ``name -> (outputs, wall seconds)``."""

    def __init__(self, folder: Path, world: Path, tiny: str) -> None:
        super().__init__()
        self.folder, self.world, self.tiny = folder, world, tiny

    def __missing__(self, name: str) -> tuple[dict, float]:
        job = Job(name)
        work = self.folder / f"reference-{name}"
        work.mkdir()
        start = time.monotonic()
        llmrec(job.args(work, self.world, self.tiny))
        self[name] = (job.outputs(work), time.monotonic() - start)
        return self[name]


@pytest.fixture(scope="module")
def references(pipeline_yaml, world, tiny_llama_path) -> References:
    return References(pipeline_yaml, world, tiny_llama_path)


def users_of(path_glob: str) -> list[list[str]]:
    """User ids of every complete line, per file; every complete line must parse."""
    import glob

    per_file = []
    for path in sorted(glob.glob(path_glob)):
        data = Path(path).read_bytes()
        lines = data.split(b"\n")[:-1]  # the part after the last newline is a torn tail
        per_file.append([json.loads(line)["user_id"] for line in lines if line.strip()])
    return per_file


def check_intact(job: Job, work: Path) -> None:
    """After a kill: complete rows parse, no user twice, the cache passes integrity_check."""
    for users in users_of(job.watch(work)):
        assert len(users) == len(set(users)), f"a user written twice in {job.watch(work)}"
    cache = work / "cache.sqlite"
    if cache.exists():
        with sqlite3.connect(cache, timeout=60) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            for (value,) in db.execute("SELECT value FROM responses"):
                json.loads(value)
    if job.name == "embed":
        from llmrec.embeddings.store import EmbeddingTable

        table = work / "users.safetensors"
        if table.exists():  # written whole or not at all
            EmbeddingTable.load(table)


def survive(name: str, n: int, seed: int, work: Path, world, tiny, references) -> int:
    job = Job(name)
    want, seconds = references[name]
    rows = sum(v.count(b"\n") for k, v in want.items() if k.endswith(".jsonl"))
    points = kill_points(n, seed, rows, seconds, job.temp_file(work))
    work.mkdir()
    args = job.args(work, world, tiny)
    killed = 0
    for point in points:
        killed += run_and_kill(args, point, job.watch(work))
        check_intact(job, work)
    llmrec(args)  # the final, uninterrupted re-run
    check_intact(job, work)
    got = job.outputs(work)
    assert got.keys() == want.keys()
    for key in want:
        assert got[key] == want[key], f"{name}: {key} differs from the uninterrupted run"
    for users in users_of(job.watch(work)):
        assert len(users) == len(set(users))
    return killed


@pytest.mark.parametrize("name", JOBS)
def test_kill9_three_points(name, pipeline_yaml, world, tiny_llama_path, references):
    killed = survive(
        name, 3, 0, pipeline_yaml / f"kill3-{name}", world, tiny_llama_path, references
    )
    assert killed >= 2  # most points land while the job runs


@pytest.mark.slow
@pytest.mark.parametrize("name", JOBS)
def test_kill9_twenty_points(name, pipeline_yaml, world, tiny_llama_path, references):
    killed = survive(
        name, 20, 1, pipeline_yaml / f"kill20-{name}", world, tiny_llama_path, references
    )
    print(f"kill9 {name}: {killed} of 20 kill points landed while the job ran")
    assert killed >= 15


def test_complete_lines_ignores_a_torn_tail(tmp_path):
    (tmp_path / "a.jsonl").write_bytes(b'{"user_id": "1"}\n{"user_id": "2"}\n{"us')
    assert complete_lines(str(tmp_path / "*.jsonl")) == 2
    assert users_of(str(tmp_path / "*.jsonl")) == [["1", "2"]]
