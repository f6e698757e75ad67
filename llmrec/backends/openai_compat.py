"""A backend for any OpenAI-compatible server: vLLM, TGI, Ollama, llama.cpp, OpenAI, llmrec serve.

Requests run concurrently (a thread pool of ``concurrency`` workers over one ``httpx.Client``),
each with a timeout. A 429 or 5xx answer, a timeout or a dropped connection is retried with
exponential backoff (``backoff * 2**attempt`` seconds, capped, or the server's ``Retry-After``);
a 401/403 raises :class:`BackendAuthError` and a 400/404/422 raises ``ValueError``, each with the
server's own message.

Scoring: ``next_token_logprobs`` asks the chat endpoint for one token with ``top_logprobs`` and
reads the candidates from it (a candidate outside the server's top ``top_logprobs`` gets
``-inf``). ``score_continuations`` uses the completions endpoint with ``echo`` and prompt
logprobs (vLLM and llmrec serve answer these; OpenAI's chat models do not); it needs the model's
tokenizer here to render the chat template (``tokenizer=``).

Example:
    >>> from llmrec.backends.openai_compat import OpenAIBackend
    >>> backend = OpenAIBackend("smollm2-135m-instruct", base_url="http://127.0.0.1:8000/v1")
    >>> backend.generate([[{"role": "user", "content": "Hi"}]])
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from llmrec.backends.base import Chat, GenerationParams, UsageStats, cut_at_stop

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class BackendHTTPError(RuntimeError):
    """A request that failed for good (retries spent, or an unexpected status)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BackendAuthError(BackendHTTPError, PermissionError):
    """The server refused the credentials (401) or the access (403)."""


class OpenAIBackend:
    """A :class:`~llmrec.backends.base.Backend` over an OpenAI-compatible HTTP API.

    Args:
        model: Model name the server knows (``GET /v1/models`` lists them).
        base_url: API root including ``/v1``, e.g. ``http://127.0.0.1:8000/v1``.
        api_key: Bearer token; default ``$OPENAI_API_KEY``; none sent when empty.
        concurrency: Requests in flight at once.
        timeout: Seconds per request (connect and read).
        max_retries: Retries after the first try on 429/5xx/timeouts.
        backoff: Seconds before the first retry; doubles each retry.
        max_backoff: Cap on one wait, ``Retry-After`` included.
        top_logprobs: Alternatives asked for in ``next_token_logprobs`` (OpenAI allows 20).
        tokenizer: Alias, hub id or path of the model's tokenizer, needed only by
            ``score_continuations`` to render the chat template into a text prompt.

    Example:
        >>> backend = OpenAIBackend("gpt-4o-mini", "https://api.openai.com/v1", concurrency=4)
    """

    def __init__(
        self,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key: str | None = None,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        top_logprobs: int = 20,
        tokenizer: str | None = None,
    ) -> None:
        import httpx

        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        if max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.top_logprobs = top_logprobs
        self.tokenizer_name = tokenizer
        self._tokenizer: Any = None
        self.fingerprint = f"openai:{self.base_url}:{model}"
        self.usage = UsageStats()
        self._usage_lock = threading.Lock()
        self._jitter = random.Random(0)
        key = os.environ.get("OPENAI_API_KEY", "") if api_key is None else api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        )

    # -- transport --------------------------------------------------------------------------
    def request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One API call with retries; returns the decoded JSON body.

        Raises:
            BackendAuthError: on 401/403.
            ValueError: on 400/404/422, with the server's message.
            BackendHTTPError: when retries are spent or the status is unexpected.
        """
        import httpx

        url = f"{self.base_url}/{path.lstrip('/')}"
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.request(method, url, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as err:
                last = f"{type(err).__name__}: {err}"
                wait = self._wait(attempt, None)
            else:
                status = response.status_code
                if status < 300:
                    return response.json()
                message = _server_message(response)
                if status in (401, 403):
                    raise BackendAuthError(
                        f"{url} refused the request ({status}): {message}; check api_key "
                        f"(or OPENAI_API_KEY) and that the key may use model {self.model!r}",
                        status,
                    )
                if status in (400, 404, 422):
                    raise ValueError(f"{url} rejected the request ({status}): {message}")
                if status not in RETRY_STATUS:
                    raise BackendHTTPError(f"{url} answered {status}: {message}", status)
                last = f"{status}: {message}"
                wait = self._wait(attempt, response.headers.get("retry-after"))
            if attempt < self.max_retries:
                logger.warning("%s failed (%s); retry %d in %.2fs", url, last, attempt + 1, wait)
                time.sleep(wait)
        raise BackendHTTPError(f"{url} failed after {self.max_retries + 1} tries; last: {last}")

    def _wait(self, attempt: int, retry_after: str | None) -> float:
        if retry_after is not None:
            try:
                return min(self.max_backoff, max(0.0, float(retry_after)))
            except ValueError:
                pass  # an HTTP date: fall back to the exponential schedule
        base = min(self.max_backoff, self.backoff * 2**attempt)
        return base * (0.75 + 0.5 * self._jitter.random())

    def _map(self, func: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if len(items) <= 1 or self.concurrency == 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as pool:
            return list(pool.map(func, items))

    def _count(self, body: dict[str, Any], prompts: int) -> None:
        usage = body.get("usage") or {}
        with self._usage_lock:
            self.usage.calls += 1
            self.usage.prompts += prompts
            self.usage.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.usage.completion_tokens += int(usage.get("completion_tokens") or 0)

    def list_models(self) -> list[str]:
        """Model ids the server serves (``GET /models``)."""
        return [m["id"] for m in self.request("GET", "models").get("data", [])]

    # -- the protocol -----------------------------------------------------------------------
    def _chat_payload(self, chat: Chat, params: GenerationParams, n: int) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": list(chat),
            "max_tokens": params.max_new_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
            "n": n,
        }
        if params.seed is not None:
            payload["seed"] = params.seed
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.repetition_penalty != 1.0:
            payload["repetition_penalty"] = params.repetition_penalty
        return payload

    def generate(self, chats: Sequence[Chat], params: GenerationParams | None = None) -> list[str]:
        """``params.n`` replies per chat, flattened in chat order.

        A server that returns fewer than ``n`` choices (some ignore ``n``) is asked again, with
        the seed moved on, until each chat has ``n``.
        """
        params = params or GenerationParams()

        def one(chat: Chat) -> list[str]:
            replies: list[str] = []
            tries = 0
            while len(replies) < params.n:
                payload = self._chat_payload(chat, params, params.n - len(replies))
                if tries and params.seed is not None:
                    payload["seed"] = params.seed + tries
                body = self.request("POST", "chat/completions", payload)
                self._count(body, 1)
                choices = sorted(body.get("choices", []), key=lambda c: c.get("index", 0))
                if not choices:
                    raise BackendHTTPError(f"{self.base_url} returned no choices: {body}")
                for choice in choices:
                    text = (choice.get("message") or {}).get("content") or ""
                    replies.append(cut_at_stop(text, params.stop).strip())
                tries += 1
            return replies[: params.n]

        return [reply for replies in self._map(one, list(chats)) for reply in replies]

    def next_token_logprobs(self, chats: Sequence[Chat], candidates: Sequence[str]) -> np.ndarray:
        """Candidate log-probabilities read from the server's ``top_logprobs`` of one token.

        A candidate outside the top ``top_logprobs`` alternatives gets ``-inf`` (the server
        does not say more); a server without logprobs support raises ``BackendHTTPError``.
        """
        params = GenerationParams(max_new_tokens=1, temperature=0.0)

        def one(chat: Chat) -> list[float]:
            payload = self._chat_payload(chat, params, 1)
            payload.update(logprobs=True, top_logprobs=self.top_logprobs)
            body = self.request("POST", "chat/completions", payload)
            self._count(body, 1)
            content = ((body.get("choices") or [{}])[0].get("logprobs") or {}).get("content")
            if not content:
                raise BackendHTTPError(
                    f"{self.base_url} returned no logprobs for model {self.model!r}; the server "
                    "must support logprobs/top_logprobs on /chat/completions"
                )
            top = {}
            for alt in content[0].get("top_logprobs") or []:
                top[alt["token"]] = max(alt["logprob"], top.get(alt["token"], -math.inf))
            stripped: dict[str, float] = {}
            for token, value in top.items():
                stripped[token.strip()] = max(value, stripped.get(token.strip(), -math.inf))
            return [top.get(c, stripped.get(c.strip(), -math.inf)) for c in candidates]

        rows = self._map(one, list(chats))
        return np.asarray(rows, dtype=np.float32).reshape(len(chats), len(candidates))

    def _prompt_text(self, chat: Chat) -> str:
        if self.tokenizer_name is None:
            raise ValueError(
                "score_continuations over HTTP scores the prompt as text, so it needs the "
                f"model's tokenizer to render the chat: OpenAIBackend({self.model!r}, ..., "
                "tokenizer=<alias, hub id or path>), and a server whose /v1/completions answers "
                "echo=true with logprobs (vLLM, llmrec serve)"
            )
        if self._tokenizer is None:
            from llmrec.models import load_tokenizer

            self._tokenizer = load_tokenizer(self.tokenizer_name)
        return self._tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Summed prompt logprobs of each continuation, via ``/completions`` with ``echo``."""
        if len(continuations) != len(chats):
            raise ValueError(
                f"continuations has {len(continuations)} lists for {len(chats)} chats; "
                "give one list of candidate replies per chat"
            )
        jobs = []
        for i, (chat, conts) in enumerate(zip(chats, continuations)):
            prompt = self._prompt_text(chat)
            jobs.extend((i, j, prompt, text) for j, text in enumerate(conts))

        def one(job: tuple[int, int, str, str]) -> float:
            _, _, prompt, text = job
            payload = {
                "model": self.model,
                "prompt": prompt + text,
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 0,
            }
            body = self.request("POST", "completions", payload)
            self._count(body, 1)
            logprobs = ((body.get("choices") or [{}])[0]).get("logprobs") or {}
            offsets = logprobs.get("text_offset")
            values = logprobs.get("token_logprobs")
            if not offsets or not values:
                raise BackendHTTPError(
                    f"{self.base_url}/completions returned no prompt logprobs for echo=true; "
                    "this server cannot score continuations (use vLLM or llmrec serve)"
                )
            start, end = len(prompt), len(prompt) + len(text)
            picked = [v for off, v in zip(offsets, values) if start <= off < end]
            if not picked or any(v is None for v in picked):
                raise BackendHTTPError(
                    f"{self.base_url}/completions returned no logprobs for the continuation "
                    f"{text!r}; the server must return prompt token logprobs with echo=true"
                )
            return float(sum(picked))

        scores = self._map(one, jobs)
        out = [np.zeros(len(c), dtype=np.float32) for c in continuations]
        for (i, j, _, _), score in zip(jobs, scores):
            out[i][j] = score
        return out

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self.model!r}, base_url={self.base_url!r})"


def _server_message(response: Any) -> str:
    """The ``error.message`` of an OpenAI-style error body, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if isinstance(error, str):
            return error
    return str(body)[:500]
