"""The vLLM offline backend: a GPU engine in-process (the ``vllm`` extra).

Generation goes through ``LLM.chat`` with the model's chat template. Scoring is exact: each
candidate is appended to the rendered prompt and vLLM returns that token's prompt log-probability
(``prompt_logprobs=0``), with prefix caching making the shared prompt cheap.

Building one needs vLLM and a device it runs on: a CUDA GPU with the ``vllm`` extra, or the CPU
build ``vllm-cpu`` (``make venv-vllm`` puts it in ``.venv-vllm``, since it pins transformers
below ours); otherwise it raises ``ImportError`` or ``RuntimeError`` saying what is missing.
vLLM starts an engine process, so a script that builds one needs an
``if __name__ == "__main__":`` guard. On CPU the default dtype is float32 (the same numbers as
the transformers backend); ``VLLM_CPU_OMP_THREADS_BIND=0-1 VLLM_CPU_NUM_OF_RESERVED_CPU=0`` lets
it use both cores of a 2-core machine (by default it keeps one for its front end).

Example:
    >>> from llmrec.backends.vllm import VLLMBackend
    >>> backend = VLLMBackend("HuggingFaceTB/SmolLM2-1.7B-Instruct", gpu_memory_utilization=0.8)
    >>> backend.generate([[{"role": "user", "content": "Hi"}]])
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from llmrec.backends.base import Chat, GenerationParams, UsageStats, cut_at_stop

logger = logging.getLogger(__name__)

# KV cache the CPU build gets unless VLLM_CPU_KVCACHE_SPACE (GiB) or kv_cache_memory_bytes says
# otherwise: 4 GiB holds about 90k tokens of SmolLM2-135M (46 KB a token in float32).
CPU_KV_CACHE_BYTES = 4 * 2**30

INSTALL_HINT = (
    "pip install 'llmrec[vllm]' on a machine with a CUDA GPU, or `make venv-vllm` for the CPU "
    "build (vllm-cpu) in .venv-vllm; otherwise use the transformers backend (--model <alias or "
    "hub id>) or a running server (--model openai:<url>#<model>)"
)


def on_cpu_build() -> bool:
    """Whether the installed vLLM is its CPU build (``vllm-cpu``)."""
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(current_platform.is_cpu())


def vllm_usable() -> bool:
    """Whether the ``vllm:`` backend can run here, judged without importing vLLM (slow).

    True with the CPU build (``vllm-cpu``) installed, or the GPU build and a CUDA GPU.
    """
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm-cpu", "vllm"):
        try:
            version(dist)
        except PackageNotFoundError:
            continue
        if dist == "vllm-cpu":
            return True
        import torch

        return bool(torch.cuda.is_available())
    return False


def require_vllm() -> Any:
    """Import vLLM and check it has a device (CUDA GPU or the CPU build); name what is missing."""
    try:
        import vllm
    except ImportError as err:
        raise ImportError(
            f"the vllm backend needs vLLM, which is not installed: {INSTALL_HINT}"
        ) from err
    import torch

    if not torch.cuda.is_available() and not on_cpu_build():
        raise RuntimeError(
            f"the vllm backend needs a CUDA GPU (torch sees none) or vLLM's CPU build: "
            f"{INSTALL_HINT}"
        )
    return vllm


class VLLMBackend:
    """A :class:`~llmrec.backends.base.Backend` over ``vllm.LLM``.

    Args:
        model: Alias, hub id or path (an alias resolves to its safetensors folder).
        dtype: ``"auto"``, ``"bfloat16"``, ``"float32"``, ...; default ``"float32"`` on the
            CPU build, ``"auto"`` on GPU.
        tensor_parallel_size: GPUs to shard the model over.
        gpu_memory_utilization: Share of GPU memory vLLM may take (GPU only; on the CPU build
            the KV cache is ``VLLM_CPU_KVCACHE_SPACE`` GiB, or ``kv_cache_memory_bytes``, or
            :data:`CPU_KV_CACHE_BYTES`).
        max_model_len: Context length to plan for (default the model's).
        trust_remote_code: Passed to vLLM.
        top_logprobs: Alternatives read per decode step in ``next_token_logprobs`` (at most
            vLLM's ``max_logprobs``, 20 by default); candidates outside them cost one more pass.
        batch_size: Accepted so that every backend takes the same ``load_backend`` arguments,
            and ignored: vLLM schedules its own batches (``max_num_seqs``).
        **engine_kwargs: Further ``vllm.LLM`` arguments.
    """

    def __init__(
        self,
        model: str,
        dtype: str | None = None,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.85,
        max_model_len: int | None = None,
        trust_remote_code: bool = False,
        top_logprobs: int = 20,
        batch_size: int | None = None,
        **engine_kwargs: Any,
    ) -> None:
        vllm = require_vllm()
        from llmrec.models import model_fingerprint, resolve_model

        self._vllm = vllm
        self.name = str(model)
        self.top_logprobs = top_logprobs
        cpu = on_cpu_build()
        dtype = dtype or ("float32" if cpu else "auto")
        engine_kwargs.setdefault("enable_prefix_caching", True)
        if not cpu:
            engine_kwargs["gpu_memory_utilization"] = gpu_memory_utilization
        elif "kv_cache_memory_bytes" not in engine_kwargs and not os.environ.get(
            "VLLM_CPU_KVCACHE_SPACE"
        ):
            # On the CPU build vLLM otherwise reserves 92% of the machine's memory at start-up and
            # refuses to start when anything else holds more than 8% (another model, a test run).
            engine_kwargs["kv_cache_memory_bytes"] = CPU_KV_CACHE_BYTES
        self.llm = vllm.LLM(
            model=resolve_model(model),
            dtype=dtype,
            tensor_parallel_size=tensor_parallel_size,
            max_model_len=max_model_len,
            trust_remote_code=trust_remote_code,
            **engine_kwargs,
        )
        self.tokenizer = self.llm.get_tokenizer()
        self.fingerprint = f"vllm:{model_fingerprint(str(model))}:{dtype}"
        self.usage = UsageStats()

    def _sampling(self, params: GenerationParams, **extra: Any) -> Any:
        return self._vllm.SamplingParams(
            n=params.n,
            max_tokens=params.max_new_tokens,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            stop=list(params.stop) or None,
            repetition_penalty=params.repetition_penalty,
            **extra,
        )

    def _prompt(self, chat: Chat) -> str:
        return self.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)

    def generate(self, chats: Sequence[Chat], params: GenerationParams | None = None) -> list[str]:
        params = params or GenerationParams()
        outputs = self.llm.chat(list(chats), self._sampling(params), use_tqdm=False)
        replies = []
        for out in outputs:
            self.usage.prompt_tokens += len(out.prompt_token_ids or [])
            for completion in out.outputs:
                self.usage.completion_tokens += len(completion.token_ids)
                replies.append(cut_at_stop(completion.text, params.stop).strip())
        self.usage.calls += 1
        self.usage.prompts += len(chats)
        return replies

    def _token_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def _score_token_lists(self, prompts: list[list[int]], cont_lengths: list[int]) -> list[float]:
        """Sum of the last ``cont_lengths[k]`` prompt logprobs of each token list."""
        sampling = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        inputs = [{"prompt_token_ids": ids} for ids in prompts]
        outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        scores = []
        for ids, n_cont, out in zip(prompts, cont_lengths, outputs):
            entries = out.prompt_logprobs  # one dict per prompt token, None first
            total = 0.0
            for pos in range(len(ids) - n_cont, len(ids)):
                total += entries[pos][ids[pos]].logprob
            scores.append(total)
        self.usage.calls += 1
        self.usage.prompts += len(prompts)
        return scores

    def next_token_logprobs(self, chats: Sequence[Chat], candidates: Sequence[str]) -> np.ndarray:
        """Candidates' log-probabilities as the first generated token, exactly.

        One decode step per chat returns the top ``top_logprobs`` alternatives (raw model
        log-probabilities, vLLM's default ``logprobs_mode``); a candidate outside them is scored
        exactly as a prompt log-probability of ``prompt + [candidate]`` instead of ``-inf``.
        """
        ids = []
        for cand in candidates:
            tokens = self._token_ids(cand)
            if len(tokens) != 1:
                raise ValueError(
                    f"candidate {cand!r} is {len(tokens)} tokens for {self.name}; "
                    "next_token_logprobs needs single-token candidates"
                )
            ids.append(tokens[0])
        prompts = [self._token_ids(self._prompt(chat)) for chat in chats]
        sampling = self._vllm.SamplingParams(
            max_tokens=1, temperature=0.0, logprobs=self.top_logprobs
        )
        inputs = [{"prompt_token_ids": ids_} for ids_ in prompts]
        outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        result = np.zeros((len(chats), len(ids)), dtype=np.float64)  # (n_chats, n_candidates)
        missing = []
        for row, out in enumerate(outputs):
            self.usage.prompt_tokens += len(prompts[row])
            top = out.outputs[0].logprobs[0]  # token id -> Logprob, for the one decoded step
            for col, token in enumerate(ids):
                if token in top:
                    result[row, col] = top[token].logprob
                else:
                    missing.append((row, col))
        if missing:
            rows = [prompts[r] + [ids[c]] for r, c in missing]
            for (r, c), value in zip(missing, self._score_token_lists(rows, [1] * len(rows))):
                result[r, c] = value
        self.usage.calls += 1
        self.usage.prompts += len(chats)
        return result.astype(np.float32)

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        if len(continuations) != len(chats):
            raise ValueError(f"continuations has {len(continuations)} lists for {len(chats)} chats")
        rows, lengths, owners = [], [], []
        for i, (chat, conts) in enumerate(zip(chats, continuations)):
            prompt = self._token_ids(self._prompt(chat))
            for text in conts:
                cont = self._token_ids(text)
                if not cont:
                    raise ValueError(f"an empty continuation for chat {i}: {text!r}")
                rows.append(prompt + cont)
                lengths.append(len(cont))
                owners.append(i)
        flat = self._score_token_lists(rows, lengths)
        out: list[list[float]] = [[] for _ in chats]
        for i, score in zip(owners, flat):
            out[i].append(score)
        return [np.asarray(s, dtype=np.float32) for s in out]

    def close(self) -> None:
        """Stop vLLM's engine process (it would otherwise live until this process exits)."""
        core = getattr(getattr(self.llm, "llm_engine", None), "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()

    def __repr__(self) -> str:
        return f"VLLMBackend(model={self.name!r})"
