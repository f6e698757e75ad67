"""LLM backends behind one protocol (:class:`llmrec.backends.base.Backend`).

:func:`load_backend` turns a spec string into a backend, so jobs take ``--model SPEC`` and run
in-process, against a server, or on vLLM without code changes:

===========================================  ==================================================
spec                                         backend
===========================================  ==================================================
``smollm2-135m-instruct``, hub id, path      :class:`~llmrec.backends.hf.TransformersBackend`
``hf:<model>`` / ``transformers:<model>``    the same, explicitly
``openai:<base_url>#<model>``                :class:`~llmrec.backends.openai_compat.OpenAIBackend`
``http(s)://host/v1#<model>``                the same
``vllm:<model>``                             :class:`~llmrec.backends.vllm.VLLMBackend` (GPU)
===========================================  ==================================================

Example:
    >>> from llmrec.backends import load_backend
    >>> backend = load_backend("smollm2-135m-instruct", batch_size=16)
    >>> remote = load_backend("openai:http://127.0.0.1:8000/v1#smollm2-135m-instruct")
"""

from __future__ import annotations

import os
from typing import Any

from llmrec.backends.base import Backend, Chat, GenerationParams, UsageStats

__all__ = ["Backend", "Chat", "GenerationParams", "UsageStats", "load_backend", "parse_spec"]


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split a backend spec into its kind and arguments.

    Returns ``("transformers", {"model": ...})``, ``("openai", {"base_url": ..., "model": ...})``
    or ``("vllm", {"model": ...})``; raises ``ValueError`` on a malformed spec.
    """
    spec = str(spec).strip()
    if not spec:
        raise ValueError(
            "empty backend spec; give a model alias, hub id, path, openai:... or vllm:"
        )
    if spec.startswith(("http://", "https://")):
        spec = "openai:" + spec
    kind, sep, rest = spec.partition(":")
    if sep and kind in ("openai", "vllm", "hf", "transformers") and not os.path.exists(spec):
        if not rest:
            raise ValueError(f"backend spec {spec!r} names no model after '{kind}:'")
        if kind == "openai":
            base_url, hash_sep, model = rest.partition("#")
            if not hash_sep or not model or not base_url:
                raise ValueError(
                    f"backend spec {spec!r}: expected openai:<base_url>#<model>, e.g. "
                    "openai:http://127.0.0.1:8000/v1#smollm2-135m-instruct"
                )
            return "openai", {"base_url": base_url, "model": model}
        if kind == "vllm":
            return "vllm", {"model": rest}
        return "transformers", {"model": rest}
    return "transformers", {"model": spec}


def check_spec(spec: str) -> None:
    """Fail at once when a spec names a local model that does not exist (before any loading).

    Server specs (``openai:...``) are left to the server; model names (aliases, hub ids, paths,
    also behind ``vllm:``) go through :func:`llmrec.models.check_model_name`, which raises
    :class:`~llmrec.models.ModelNotFoundError` saying what the name is not.
    """
    kind, args = parse_spec(spec)
    if kind != "openai":
        from llmrec.models import check_model_name

        check_model_name(args["model"])


def load_backend(spec: str | Backend, cache: str | os.PathLike | None = None, **kwargs: Any):
    """A backend from a spec string (see the module table), or ``spec`` itself if it is one.

    Args:
        spec: Model alias, hub id, path, ``openai:<base_url>#<model>``, ``vllm:<model>``, or a
            ready backend object.
        cache: Path of a SQLite response cache to wrap the backend in
            (:class:`~llmrec.backends.cache.CachedBackend`); ``None`` for no cache.
        **kwargs: Passed to the backend's constructor (``batch_size``, ``device``, ``dtype``,
            ``api_key``, ``concurrency``, ...).

    Example:
        >>> backend = load_backend("tiny-random-llama", cache="/tmp/llmrec-cache.sqlite")
    """
    if isinstance(spec, Backend):
        if kwargs:
            raise ValueError(
                f"load_backend got a ready backend and constructor arguments {sorted(kwargs)}; "
                "pass a spec string to build one"
            )
        backend = spec
    else:
        kind, args = parse_spec(spec)
        if kind == "openai":
            from llmrec.backends.openai_compat import OpenAIBackend

            backend = OpenAIBackend(args["model"], base_url=args["base_url"], **kwargs)
        elif kind == "vllm":
            from llmrec.backends.vllm import VLLMBackend

            backend = VLLMBackend(args["model"], **kwargs)
        else:
            from llmrec.backends.hf import TransformersBackend

            backend = TransformersBackend(args["model"], **kwargs)
    if cache is not None:
        from llmrec.backends.cache import CachedBackend

        backend = CachedBackend(backend, cache)
    return backend
