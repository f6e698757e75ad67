"""The in-process transformers backend: batched generation and one-pass scoring.

Prompts are rendered with the model's chat template, sorted by length so that each left-padded
batch holds prompts of similar length (little padding), run with the KV cache, and the replies
are put back in input order. Scoring (``next_token_logprobs``, ``score_continuations``) is one
forward pass per batch that keeps only the logits it needs.

Example:
    >>> from llmrec.backends.hf import TransformersBackend
    >>> from llmrec.backends.base import GenerationParams
    >>> backend = TransformersBackend("smollm2-135m-instruct")
    >>> backend.generate([[{"role": "user", "content": "Say hi"}]], GenerationParams(8))
    ['Hi! How can I help you today?']
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from llmrec.backends.base import Chat, GenerationParams, UsageStats, cut_at_stop
from llmrec.backends.prefill import CPU_ROWS_PER_PASS, cache_kwarg, prefill_rows
from llmrec.control_tokens import neutralise, tokenizer_special_tokens

logger = logging.getLogger(__name__)

CPU_MAX_BATCH = 32  # generated tokens/s stops growing past about 32 on CPU (STACK-NOTES)
GPU_MAX_BATCH = 256
MEMORY_SHARE = 0.6  # share of free memory a batch may plan to use


class TransformersBackend:
    """A :class:`~llmrec.backends.base.Backend` over a transformers causal LM.

    Args:
        model: Alias (``"smollm2-135m-instruct"``), hub id or local folder.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...; default the GPU when present.
        dtype: torch dtype or its name; default fp32 on CPU, bf16 on a GPU that supports it.
        quantization: ``None``, ``"8bit"`` or ``"4bit"`` (bitsandbytes).
        batch_size: Prompts per forward pass; ``None`` chooses one from free memory, the
            prompt and reply lengths (at most 32 on CPU, 256 on GPU).
        max_input_tokens: Longest prompt accepted, in tokens; default the model's context
            length minus the reply budget. A longer prompt raises ``ValueError``.
        trust_remote_code: Passed to transformers; off unless you trust the model's code.

    Example:
        >>> backend = TransformersBackend("tiny-random-llama", batch_size=8)
        >>> backend.next_token_logprobs([[{"role": "user", "content": "1 or 2?"}]], ["1", "2"])
        array([[-6.93, -6.91]], dtype=float32)
    """

    def __init__(
        self,
        model: str = "smollm2-135m-instruct",
        device: str | None = None,
        dtype: Any = None,
        quantization: str | None = None,
        batch_size: int | None = None,
        max_input_tokens: int | None = None,
        trust_remote_code: bool = False,
    ) -> None:
        from llmrec.models import load_causal_lm, model_fingerprint

        lm, tokenizer = load_causal_lm(
            model,
            dtype=dtype,
            device=device,
            trust_remote_code=trust_remote_code,
            quantization=quantization,
        )
        self._setup(lm, tokenizer, batch_size, max_input_tokens)
        self.name = str(model)
        self.quantization = quantization
        self.fingerprint = _join_fingerprint(
            "transformers", model_fingerprint(str(model)), str(lm.dtype), quantization
        )

    @classmethod
    def from_model(
        cls,
        model: Any,
        tokenizer: Any,
        batch_size: int | None = None,
        max_input_tokens: int | None = None,
    ) -> TransformersBackend:
        """Wrap an already loaded model and tokenizer (a fine-tuned or PEFT model, say).

        The fingerprint hashes a sample of every parameter, so a model changed by training gets
        a new fingerprint and never reads stale cached replies.

        Example:
            >>> model, tok = load_causal_lm("tiny-random-llama")
            >>> backend = TransformersBackend.from_model(model, tok, batch_size=4)
        """
        self = cls.__new__(cls)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        tokenizer.padding_side = "left"
        self._setup(model, tokenizer, batch_size, max_input_tokens)
        self.name = str(getattr(model.config, "name_or_path", type(model).__name__))
        self.quantization = None
        self.fingerprint = _join_fingerprint(
            "transformers", _weights_fingerprint(model), str(model.dtype), None
        )
        return self

    def _setup(
        self, model: Any, tokenizer: Any, batch_size: int | None, max_input_tokens: int | None
    ) -> None:
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None (auto), got {batch_size}")
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_input_tokens = max_input_tokens
        self.usage = UsageStats()
        self._special_tokens = tokenizer_special_tokens(tokenizer)
        self.device = next(model.parameters()).device
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(
                f"tokenizer of {getattr(model.config, 'name_or_path', model)!r} has no chat "
                "template; set tokenizer.chat_template before building a backend"
            )
        # A PEFT wrapper forwards keyword arguments: inspect the model underneath.
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        forward = inspect.signature(base.forward).parameters
        self._takes_position_ids = "position_ids" in forward or "kwargs" in forward
        self._takes_logits_to_keep = "logits_to_keep" in forward

    # -- encoding ---------------------------------------------------------------------------
    def encode_chat(self, chat: Chat) -> list[int]:
        """Token ids of a chat rendered with its template and the generation prompt."""
        # Message text is data: its special-token strings are neutralised, so control ids come
        # only from the template (a title holding "<|im_start|>" cannot open a turn).
        safe = [{**m, "content": self.safe_text(m["content"])} for m in chat]
        text = self.tokenizer.apply_chat_template(safe, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def safe_text(self, text: str) -> str:
        """``text`` with this tokenizer's special-token strings and generic chat markers defanged."""
        if not isinstance(text, str):
            return text
        return neutralise(text, self._special_tokens)

    def count_tokens(self, text: str) -> int:
        """Number of tokens of ``text`` (no special tokens), for fitting prompts to budgets."""
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def context_length(self) -> int:
        config = self.model.config
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
            value = getattr(config, key, None)
            if isinstance(value, int) and value > 0:
                return value
        return 2048

    def _encode_all(self, chats: Sequence[Chat], reply_budget: int) -> list[list[int]]:
        limit = self.max_input_tokens or max(1, self.context_length() - reply_budget)
        encoded = []
        for i, chat in enumerate(chats):
            ids = self.encode_chat(chat)
            if len(ids) > limit:
                raise ValueError(
                    f"chat {i} has {len(ids)} prompt tokens, more than the limit of {limit} "
                    "(max_input_tokens, or context length minus max_new_tokens); shorten it"
                )
            encoded.append(ids)
        return encoded

    def _pad_left(self, rows: Sequence[Sequence[int]]):
        import torch

        width = max(len(r) for r in rows)
        pad = self.tokenizer.pad_token_id
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)  # (batch, width)
        attention = torch.zeros((len(rows), width), dtype=torch.long)  # (batch, width)
        for b, row in enumerate(rows):
            if row:
                input_ids[b, width - len(row) :] = torch.tensor(row, dtype=torch.long)
                attention[b, width - len(row) :] = 1
        return input_ids.to(self.device), attention.to(self.device)

    def _forward(self, input_ids, attention, keep: int):
        if self.device.type == "cpu" and input_ids.shape[0] > CPU_ROWS_PER_PASS:
            import torch

            # On CPU a forward pass costs less per row in a few rows than in many
            step = CPU_ROWS_PER_PASS
            return torch.cat(
                [
                    self._forward(input_ids[i : i + step], attention[i : i + step], keep)
                    for i in range(0, input_ids.shape[0], step)
                ]
            )
        kwargs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention}
        if self._takes_position_ids:
            # Left padding: positions count real tokens only, as in generate().
            kwargs["position_ids"] = (attention.cumsum(-1) - 1).clamp(min=0)
        if self._takes_logits_to_keep:
            kwargs["logits_to_keep"] = keep
        logits = self.model(**kwargs).logits  # (batch, keep or width, vocab)
        return logits[:, -keep:, :]

    # -- batching ---------------------------------------------------------------------------
    def _batch_size_for(self, longest: int) -> int:
        if self.batch_size is not None:
            return self.batch_size
        return auto_batch_size(self.model, longest)

    def _batches(self, lengths: Sequence[int], extra_tokens: int) -> Iterator[list[int]]:
        """Indices grouped into batches, longest prompts first (a memory error shows at once)."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        start = 0
        while start < len(order):
            size = self._batch_size_for(lengths[order[start]] + extra_tokens)
            yield order[start : start + size]
            start += size

    # -- the protocol -----------------------------------------------------------------------
    def generate(self, chats: Sequence[Chat], params: GenerationParams | None = None) -> list[str]:
        """One reply per chat (``params.n`` per chat, flattened in chat order).

        Greedy when ``params.temperature == 0``; otherwise sampled. With ``params.seed`` the
        sample of a chat depends only on the seed, the chat and the sample index (not on the
        other chats, the batch size or the global RNG); without one it uses torch's RNG.
        """
        params = params or GenerationParams()
        return self._generate_ids(self._encode_all(chats, params.max_new_tokens), params)

    def complete(self, prompts: Sequence[str], params: GenerationParams | None = None) -> list[str]:
        """Like :meth:`generate` for raw text prompts, without the chat template.

        Example:
            >>> backend.complete(["The capital of France is"], GenerationParams(4))
        """
        params = params or GenerationParams()
        encoded = [self.tokenizer(p, add_special_tokens=False)["input_ids"] for p in prompts]
        limit = self.max_input_tokens or max(1, self.context_length() - params.max_new_tokens)
        for i, ids in enumerate(encoded):
            if not ids or len(ids) > limit:
                raise ValueError(f"prompt {i} has {len(ids)} tokens; allowed 1..{limit}")
        return self._generate_ids(encoded, params)

    def _generate_ids(self, encoded: list[list[int]], params: GenerationParams) -> list[str]:
        """Generate for token-id prompts; each prompt is repeated ``n`` times as batch rows.

        With a seed, every row samples from its own stream seeded by the seed, its prompt and
        its sample index (:mod:`llmrec.backends.seeded_sampling`), so a reply does not depend
        on the batch it ran in: caches, resumed and sharded jobs agree with one big run.
        """
        import torch
        from transformers import LogitsProcessorList

        from llmrec.backends.seeded_sampling import RowSeededSampler, row_seed

        if not encoded:
            return []
        replies: list[str] = [""] * (len(encoded) * params.n)
        rows = [(i, j) for i in range(len(encoded)) for j in range(params.n)]
        gen_kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "use_cache": True,
            "pad_token_id": self.tokenizer.pad_token_id,
        }
        unseeded = params.temperature > 0 and params.seed is None
        if unseeded:
            gen_kwargs.update(do_sample=True, temperature=params.temperature, top_p=params.top_p)
        else:
            gen_kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if params.stop:
            gen_kwargs.update(stop_strings=list(params.stop), tokenizer=self.tokenizer)
        if params.repetition_penalty != 1.0:
            gen_kwargs["repetition_penalty"] = params.repetition_penalty
        lengths = [len(encoded[i]) for i, _ in rows]
        for batch in self._batches(lengths, params.max_new_tokens):
            prompts = [encoded[rows[r][0]] for r in batch]
            extra: dict[str, Any] = {}
            # The prompt is prefilled here (shared prefix once, small sub-batches on CPU) and
            # generate only decodes; models with unusual caches get the plain padded batch.
            ready = prefill_rows(self.model, prompts, self.tokenizer.pad_token_id)
            if ready is None:
                input_ids, attention = self._pad_left(prompts)
            else:
                input_ids, attention = ready.input_ids, ready.attention_mask
                extra[cache_kwarg(self.model)] = ready.cache
            if params.temperature > 0 and params.seed is not None:
                seeds = [row_seed(params.seed, encoded[rows[r][0]], rows[r][1]) for r in batch]
                sampler = RowSeededSampler(seeds, params.temperature, params.top_p)
                extra["logits_processor"] = LogitsProcessorList([sampler])
            with torch.inference_mode():
                out = self.model.generate(
                    input_ids=input_ids, attention_mask=attention, **gen_kwargs, **extra
                )  # (batch, width + new)
            for r, tokens in zip(batch, out[:, input_ids.shape[1] :].tolist()):
                index, sample = rows[r]
                tokens = self._strip_after_eos(tokens)
                self.usage.completion_tokens += len(tokens)
                text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                replies[index * params.n + sample] = cut_at_stop(text, params.stop).strip()
            self.usage.calls += 1
            self.usage.prompt_tokens += int(attention.sum())
        self.usage.prompts += len(encoded)
        return replies

    def _strip_after_eos(self, tokens: list[int]) -> list[int]:
        stops = {self.tokenizer.pad_token_id, self.tokenizer.eos_token_id}
        eos = self.model.generation_config.eos_token_id
        stops.update(eos if isinstance(eos, list) else [eos])
        for k, tok in enumerate(tokens):
            if tok in stops:
                return tokens[:k]
        return tokens

    def candidate_token_ids(self, candidates: Sequence[str]) -> list[int]:
        """Token id of each candidate; ``ValueError`` names a candidate that is not one token."""
        ids = []
        for cand in candidates:
            tokens = self.tokenizer(cand, add_special_tokens=False)["input_ids"]
            if len(tokens) != 1:
                raise ValueError(
                    f"candidate {cand!r} is {len(tokens)} tokens for {self.name} "
                    f"({tokens}); next_token_logprobs needs single-token candidates "
                    "(use score_continuations for longer ones)"
                )
            ids.append(tokens[0])
        return ids

    def next_token_logprobs(self, chats: Sequence[Chat], candidates: Sequence[str]) -> np.ndarray:
        """Log-probability of each single-token candidate right after each chat's prompt.

        One forward pass per batch with ``logits_to_keep=1``; values are under the full
        vocabulary. Returns shape ``(len(chats), len(candidates))``, float32.
        """
        import torch

        token_ids = self.candidate_token_ids(candidates)
        out = np.zeros((len(chats), len(candidates)), dtype=np.float32)
        if not chats:
            return out
        encoded = self._encode_all(chats, 1)
        index = torch.tensor(token_ids, device=self.device)
        for batch in self._batches([len(e) for e in encoded], 1):
            input_ids, attention = self._pad_left([encoded[i] for i in batch])
            with torch.inference_mode():
                logits = self._forward(input_ids, attention, keep=1)[:, -1, :]  # (batch, vocab)
                logprobs = torch.log_softmax(logits.float(), dim=-1)[:, index]  # (batch, n_cand)
            out[batch] = logprobs.cpu().numpy()
            self.usage.calls += 1
            self.usage.prompt_tokens += int(attention.sum())
        self.usage.prompts += len(chats)
        return out

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Summed log-probability of each continuation given its chat's prompt.

        Every (chat, continuation) pair becomes one sequence; pairs are batched by length and
        scored in one forward pass per batch that keeps only the continuation positions.
        """
        import torch

        if len(continuations) != len(chats):
            raise ValueError(
                f"continuations has {len(continuations)} lists for {len(chats)} chats; "
                "give one list of candidate replies per chat"
            )
        encoded = self._encode_all(chats, 1)
        pairs: list[tuple[int, int]] = []
        rows: list[list[int]] = []
        cont_lengths: list[int] = []
        for i, conts in enumerate(continuations):
            for j, text in enumerate(conts):
                cont = self.tokenizer(self.safe_text(text), add_special_tokens=False)["input_ids"]
                if not cont:
                    raise ValueError(f"continuation {j} of chat {i} is empty: {text!r}")
                pairs.append((i, j))
                rows.append(encoded[i] + cont)
                cont_lengths.append(len(cont))
        results = [np.zeros(len(c), dtype=np.float32) for c in continuations]
        for batch in self._batches([len(r) for r in rows], 0):
            input_ids, attention = self._pad_left([rows[k] for k in batch])
            keep = max(cont_lengths[k] for k in batch) + 1
            with torch.inference_mode():
                logits = self._forward(input_ids, attention, keep=keep)  # (batch, keep, vocab)
                logprobs = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
                targets = input_ids[:, -(keep - 1) :]  # (batch, keep - 1)
                picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
            picked = picked.cpu().numpy()  # (batch, keep - 1)
            for row, k in enumerate(batch):
                i, j = pairs[k]
                results[i][j] = picked[row, -cont_lengths[k] :].sum()
            self.usage.calls += 1
            self.usage.prompt_tokens += int(attention.sum())
        self.usage.prompts += len(rows)
        return results

    def top_next_tokens(self, chats: Sequence[Chat], k: int) -> list[list[tuple[str, float]]]:
        """The ``k`` most likely next tokens after each chat's prompt, as ``(text, logprob)``.

        Used by the OpenAI-compatible server to answer ``logprobs``/``top_logprobs`` requests.
        """
        import torch

        encoded = self._encode_all(chats, 1)
        out: list[list[tuple[str, float]]] = [[] for _ in chats]
        for batch in self._batches([len(e) for e in encoded], 1):
            input_ids, attention = self._pad_left([encoded[i] for i in batch])
            with torch.inference_mode():
                logits = self._forward(input_ids, attention, keep=1)[:, -1, :]  # (batch, vocab)
                top = torch.log_softmax(logits.float(), dim=-1).topk(k, dim=-1)
            for row, i in enumerate(batch):
                ids, values = top.indices[row].tolist(), top.values[row].tolist()
                out[i] = [(self.tokenizer.decode([t]), v) for t, v in zip(ids, values)]
            self.usage.calls += 1
        return out

    def prompt_logprobs(self, texts: Sequence[str]) -> list[tuple[list[str], list[float | None]]]:
        """Each raw text's tokens and the log-probability of each token given the ones before.

        The first token has no probability (``None``), as in the completions API's ``echo``.
        """
        import torch

        encoded = [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        out: list[tuple[list[str], list[float | None]]] = [([], []) for _ in texts]
        for batch in self._batches([len(e) for e in encoded], 0):
            input_ids, attention = self._pad_left([encoded[i] for i in batch])
            width = input_ids.shape[1]
            with torch.inference_mode():
                logits = self._forward(input_ids, attention, keep=width)  # (batch, width, vocab)
                logprobs = torch.log_softmax(logits[:, :-1, :].float(), dim=-1)
                picked = logprobs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            for row, i in enumerate(batch):
                ids = encoded[i]
                values = picked[row, width - len(ids) :].tolist() if len(ids) > 1 else []
                tokens = [self.tokenizer.decode([t]) for t in ids]
                out[i] = (tokens, [None, *values][: len(ids)])
            self.usage.calls += 1
        return out

    def __repr__(self) -> str:
        return (
            f"TransformersBackend(model={self.name!r}, device={str(self.device)!r}, "
            f"dtype={self.model.dtype}, batch_size={self.batch_size or 'auto'})"
        )


def auto_batch_size(model: Any, sequence_tokens: int, per_prompt: int = 1) -> int:
    """Prompts per batch that fit a share of free memory, for sequences of a given length.

    The plan counts the KV cache (``2 * layers * kv_heads * head_dim`` values per token) and
    one row of fp32 logits per sequence; capped at 32 on CPU (where throughput stops growing)
    and 256 on GPU.

    Args:
        model: A transformers causal LM.
        sequence_tokens: Longest prompt plus reply tokens in the batch.
        per_prompt: Sequences per prompt (``n`` samples).
    """
    import torch

    config = model.config
    text_config = config.get_text_config() if hasattr(config, "get_text_config") else config
    layers = getattr(text_config, "num_hidden_layers", 24)
    heads = getattr(text_config, "num_attention_heads", 16)
    kv_heads = getattr(text_config, "num_key_value_heads", None) or heads
    head_dim = getattr(text_config, "head_dim", None) or text_config.hidden_size // heads
    vocab = getattr(text_config, "vocab_size", 50_000)
    width = torch.finfo(model.dtype).bits // 8 if model.dtype.is_floating_point else 2
    per_sequence = sequence_tokens * 2 * layers * kv_heads * head_dim * width + vocab * 4 * 2
    device = next(model.parameters()).device
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        cap = GPU_MAX_BATCH
    else:
        free = _available_host_memory()
        cap = CPU_MAX_BATCH
    fits = int(MEMORY_SHARE * free // max(1, per_sequence * per_prompt))
    return max(1, min(cap, fits))


def _available_host_memory() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 * 2**30


def _join_fingerprint(kind: str, weights: str, dtype: str, quantization: str | None) -> str:
    return f"{kind}:{weights}:{dtype.replace('torch.', '')}:{quantization or 'none'}"


def _weights_fingerprint(model: Any) -> str:
    """Hash of every parameter's name, shape and first values: cheap, changes with training."""
    digest = hashlib.sha256()
    for name, param in model.named_parameters():
        flat = param.detach().reshape(-1)
        head = flat[:64].float().cpu().numpy().tobytes()
        stats = f"{name}:{tuple(param.shape)}:{float(flat.float().sum()):.6e}"
        digest.update(stats.encode())
        digest.update(head)
    return digest.hexdigest()[:16]
