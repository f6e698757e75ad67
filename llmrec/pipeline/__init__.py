"""The end-to-end pipeline behind ``make demo`` and ``llmrec run --config``.

Example:
    >>> from llmrec.pipeline import run_pipeline
    >>> from llmrec.pipeline.config import load_config
    >>> result = run_pipeline(load_config("eval/demo.yaml"))  # doctest: +SKIP
    >>> result.report_html  # doctest: +SKIP
    PosixPath('demo-out/report.html')
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec.pipeline.config import PipelineConfig, load_config


@dataclass(frozen=True)
class PipelineResult:
    """Where the report went, and every step's record (result, seconds, cached)."""

    out: Path
    report_html: Path
    report_md: Path
    results_json: Path
    records: dict[str, dict[str, Any]]


def run_pipeline(
    config: PipelineConfig | None = None, fresh: bool = False, progress: bool = False
) -> PipelineResult:
    """Run every enabled step (cached ones are loaded), then write the report.

    Args:
        config: The pipeline configuration; default the embedded demo settings.
        fresh: Forget cached step results (profiles are regenerated too).
        progress: Show progress bars (tqdm). Step starts and times are logged at INFO on
            ``llmrec.pipeline.runner``; `llmrec run` shows them.
    """
    from llmrec.pipeline.report import build_report
    from llmrec.pipeline.runner import Context, run_steps
    from llmrec.pipeline.steps import STEPS

    config = config or PipelineConfig()
    out = Path(config.out)
    if fresh and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    ctx = Context(config, out, progress=progress)
    records = run_steps(STEPS, ctx)
    paths = build_report(records, config.to_dict(), out)
    return PipelineResult(out, paths["html"], paths["markdown"], paths["json"], records)


__all__ = ["PipelineConfig", "PipelineResult", "load_config", "run_pipeline"]
