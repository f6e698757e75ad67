"""The end-to-end pipeline's configuration: embedded defaults, overridable from YAML.

Every section is a small dataclass; YAML values override the defaults key by key, and an unknown
key is an error naming the file and the key path (``profiles.userz``), so a typo never silently
falls back to a default.

Example:
    >>> from llmrec.pipeline.config import PipelineConfig
    >>> cfg = PipelineConfig()            # the embedded defaults (what `make demo` runs)
    >>> cfg.data.name
    'ml-100k'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class DataConfig:
    name: str = "ml-100k"  # a named dataset or a path any llmrec loader reads
    split: str = "leave_one_out"


@dataclass
class ModelsConfig:
    llm: str = "smollm2-135m-instruct"  # alias, hub id, local path, or openai:<url>#<model>
    encoder: str = "all-minilm-l6-v2"
    batch_size: int = 16


@dataclass
class ProfilesConfig:
    users: int = 24
    formats: list[str] = field(default_factory=lambda: ["free", "structured"])
    strategy: str = "recent"
    window: int = 20
    max_new_tokens: int = 160
    show: int = 4  # sample profiles shown next to their histories in the report


@dataclass
class EvaluationConfig:
    recommenders: list[str] = field(
        default_factory=lambda: ["random", "most_popular", "item_knn", "ease", "bpr", "sasrec"]
    )
    metrics: list[str] = field(
        default_factory=lambda: ["hr@10", "ndcg@10", "mrr", "recall@20", "coverage@10"]
    )
    ks: list[int] = field(default_factory=lambda: [1, 5, 10, 20, 50])
    sasrec_epochs: int = 20
    rerank_users: int = 24
    rerank_candidates: int = 10
    rerank_base: str = "ease"
    bootstrap: int = 1000


@dataclass
class JudgeConfig:
    users: int = 24
    negatives: int = 3
    context: str = "profile"  # profile | history | both
    compare: list[str] = field(default_factory=lambda: ["ease", "most_popular"])
    compare_users: int = 12
    compare_k: int = 5
    # A LoRA judge trained with recipes/judge.py (its output_dir): validated beside the
    # zero-shot judge on the same pairs, in the views and history length it was trained on.
    adapter: str | None = None
    adapter_views: list[str] = field(default_factory=lambda: ["history"])
    adapter_max_history: int = 8


@dataclass
class EmbeddingsConfig:
    enabled: bool = True
    train_users: int = 120
    eval_users: int = 150
    epochs: int = 1
    batch_size: int = 32


@dataclass
class SFTConfig:
    enabled: bool = False
    config: str = "recipes/smollm2/sft/config_demo.yaml"


@dataclass
class PipelineConfig:
    """What ``llmrec run`` does; the defaults are the demo on ml-100k with the embedded models."""

    out: str = "demo-out"
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    profiles: ProfilesConfig = field(default_factory=ProfilesConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _merge(obj: Any, values: dict[str, Any], where: str, source: str) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"{source}: {where or 'top level'} must be a mapping, got {values!r}")
    names = {f.name: f for f in dataclasses.fields(obj)}
    updates = {}
    for key, value in values.items():
        path = f"{where}.{key}" if where else key
        if key not in names:
            raise ValueError(f"{source}: unknown key {path!r}; allowed here: {sorted(names)}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            updates[key] = _merge(current, value or {}, path, source)
        else:
            expected = type(current)
            if expected is float and isinstance(value, int):
                value = float(value)
            if current is not None and not isinstance(value, expected):
                raise ValueError(
                    f"{source}: {path} must be {expected.__name__}, got {type(value).__name__} "
                    f"({value!r})"
                )
            updates[key] = value
    return dataclasses.replace(obj, **updates)


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None):
    """Defaults, then the YAML file at ``path``, then ``overrides`` (same nesting)."""
    import yaml

    config = PipelineConfig()
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pipeline config {path} does not exist")
        with open(path, encoding="utf-8") as handle:
            values = yaml.safe_load(handle) or {}
        config = _merge(config, values, "", str(path))
    if overrides:
        config = _merge(config, overrides, "", "overrides")
    return config
