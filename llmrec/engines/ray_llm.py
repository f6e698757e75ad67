"""Free-text profiles on a GPU cluster with Ray's own vLLM pipeline (``ray.data.llm``).

Where a cluster has GPUs, ``ray.data.llm`` runs vLLM engines as a Ray Data stage, with its own
batching, autoscaling pool and per-row error handling; llmrec only renders the prompts (the
builder's strategy and template) and turns the replies into the profile records that
:func:`~llmrec.profiles.run_profile_job` writes. Single-pass prompts only: the structured
format (repair rounds) and the hierarchical strategy (a summary stage first) need the actor pool
of :func:`llmrec.engines.jobs.profile_job` instead.

Not run on this project's machines (no GPU was available); the code follows Ray 2.60's
``vLLMEngineProcessorConfig`` / ``build_processor`` API.

Example:
    >>> builder = ProfileBuilder(backend=None, strategy="recent")  # doctest: +SKIP
    >>> profile_job_ray_llm(builder, split.train, users, "p.jsonl", "Qwen/Qwen2.5-7B-Instruct",
    ...                     concurrency=8)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmrec.engines.jobs import shards_dir
from llmrec.engines.ray_pool import RayEngine, connect

if TYPE_CHECKING:
    from llmrec.data.records import InteractionDataset
    from llmrec.profiles.builder import ProfileBuilder


def profile_job_ray_llm(
    builder: ProfileBuilder,
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    out: str | os.PathLike,
    model: str,
    concurrency: int = 1,
    batch_size: int = 64,
    engine_kwargs: dict[str, Any] | None = None,
    engine: RayEngine | None = None,
) -> Path:
    """Profiles of ``user_ids`` through ``ray.data.llm`` vLLM engines into the JSONL ``out``.

    Args:
        builder: Gives the prompts (strategy, template) and reply budget; its backend is unused.
        dataset: Training interactions (``split.train``).
        user_ids: Users in output order.
        out: The JSONL output (replies also land as Parquet in ``<out>.shards/``).
        model: Hub id or local path every node can read.
        concurrency: vLLM engines (one per GPU with ``tensor_parallel_size=1``).
        batch_size: Rows per engine call.
        engine_kwargs: Further vLLM engine arguments (prefix caching is on by default).
        engine: Which cluster to join (default ``$RAY_ADDRESS`` or a local one).
    """
    if builder.format != "free" or builder.strategy.describe().startswith("hierarchical"):
        raise ValueError(
            "profile_job_ray_llm runs single-pass free-text prompts; use "
            "llmrec.engines.jobs.profile_job for the structured format or hierarchical strategy"
        )
    ray = connect(engine or RayEngine())
    from ray.data.llm import build_processor, vLLMEngineProcessorConfig

    from llmrec.models import resolve_model
    from llmrec.profiles.schema import ProfileRecord
    from llmrec.profiles.store import write_records

    users = list(dict.fromkeys(str(u) for u in user_ids))
    views = builder.views(dataset, users)
    rows = [{"user_id": v.user_id, "messages": builder.chat(v)} for v in views]
    p = builder.params
    sampling = {"max_tokens": p.max_new_tokens, "temperature": p.temperature, "top_p": p.top_p}
    if p.seed is not None:
        sampling["seed"] = p.seed
    config = vLLMEngineProcessorConfig(
        model_source=resolve_model(model),
        engine_kwargs={"enable_prefix_caching": True, **(engine_kwargs or {})},
        concurrency=concurrency,
        batch_size=batch_size,
    )
    processor = build_processor(
        config,
        preprocess=lambda row: {"messages": row["messages"], "sampling_params": sampling},
        postprocess=lambda row: {"user_id": row["user_id"], "reply": row["generated_text"]},
    )
    folder = shards_dir(out)
    processor(ray.data.from_items(rows)).write_parquet(str(folder))
    replies = {r["user_id"]: r["reply"] for r in ray.data.read_parquet(str(folder)).take_all()}
    records = []
    for view in views:
        raw = replies.get(view.user_id, "")
        text = raw.strip()
        records.append(
            ProfileRecord(
                user_id=view.user_id,
                status="ok" if text else "failed",
                text=text,
                raw=raw,
                error=None if text else "empty reply",
                format="free",
                strategy=builder.strategy.describe(),
                prompt=builder.prompt_version,
                model=f"ray-llm:{model}",
                n_interactions=view.n_interactions,
            )  # fmt: skip
        )
    write_records(out, records)
    return Path(out)
