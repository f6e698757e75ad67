"""Runs the pipeline's steps in order, caching each step's result on disk.

A step's result is stored in ``OUT/steps/<step>.json`` with a key hashed from the configuration
the step depends on (plus the keys of the steps it reads). A second run with the same
configuration loads every cached result and finishes in seconds; a run killed half-way resumes
at the first step without a stored result (and the profile step resumes inside itself).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from llmrec.pipeline.config import PipelineConfig

logger = logging.getLogger(__name__)


@dataclass
class Step:
    """A named unit of work: ``run(ctx) -> dict`` (JSON-serialisable) and what it depends on."""

    name: str
    title: str
    run: Callable[[Context], dict[str, Any]]
    sections: tuple[str, ...]  # config sections that change its result
    after: tuple[str, ...] = ()  # steps whose results it reads
    enabled: Callable[[PipelineConfig], bool] = lambda cfg: True


@dataclass
class Context:
    """Shared state of one pipeline run: config, output folder, lazily loaded heavy objects."""

    config: PipelineConfig
    out: Path
    progress: bool = True
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)  # cache key of each step, once known

    @cached_property
    def dataset(self):
        from llmrec.data import load_dataset

        return load_dataset(self.config.data.name)

    @cached_property
    def split(self):
        from llmrec.data import splits

        if not hasattr(splits, self.config.data.split):
            raise ValueError(f"data.split {self.config.data.split!r} is not a split in llmrec.data")
        return getattr(splits, self.config.data.split)(self.dataset)

    @cached_property
    def backend(self):
        from llmrec.backends import load_backend

        return load_backend(self.config.models.llm, batch_size=self.config.models.batch_size)

    def path(self, *parts: str) -> Path:
        """A file path under the output folder, its parent folder created."""
        target = self.out.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def folder(self, *parts: str) -> Path:
        """A folder under the output folder, created."""
        target = self.out.joinpath(*parts)
        target.mkdir(parents=True, exist_ok=True)
        return target


def step_key(step: Step, config: PipelineConfig, upstream: dict[str, str]) -> str:
    cfg = config.to_dict()
    payload = {
        "step": step.name,
        "seed": config.seed,
        "data": cfg["data"],
        "models": cfg["models"],
        "sections": {s: cfg[s] for s in step.sections},
        "upstream": {name: upstream.get(name) for name in step.after},
    }
    blob = json.dumps(payload, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def run_steps(steps: list[Step], ctx: Context) -> dict[str, dict[str, Any]]:
    """Run (or load from cache) each enabled step; returns ``{step: record}``.

    Each record holds ``result``, ``seconds`` (of the run that computed it), ``cached`` and ``key``.
    """
    records: dict[str, dict[str, Any]] = {}
    keys = ctx.keys
    for step in steps:
        if not step.enabled(ctx.config):
            continue
        key = step_key(step, ctx.config, keys)
        keys[step.name] = key
        store = ctx.path("steps", f"{step.name}.json")
        if store.is_file():
            stored = json.loads(store.read_text())
            if stored.get("key") == key:
                stored["cached"] = True
                records[step.name] = stored
                ctx.results[step.name] = stored["result"]
                logger.info("%s: cached (%.1f s before)", step.title, stored["seconds"])
                continue
        logger.info("%s ...", step.title)
        start = time.perf_counter()
        # A JSON round trip makes a fresh result identical to one loaded from the cache.
        result = json.loads(json.dumps(step.run(ctx), default=str))
        seconds = time.perf_counter() - start
        record = {"key": key, "result": result, "seconds": seconds, "cached": False}
        tmp = store.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=2, default=str))
        tmp.replace(store)  # atomic: a kill never leaves a half-written result
        records[step.name] = record
        ctx.results[step.name] = result
        logger.info("%s: done in %.1f s", step.title, seconds)
    return records
