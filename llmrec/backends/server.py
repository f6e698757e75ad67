"""A small OpenAI-compatible HTTP server in front of any llmrec backend (``llmrec serve``).

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` and ``POST /v1/completions``. Requests
arriving together are gathered for up to ``batch_wait`` seconds and answered by one batched
backend call (requests with the same parameters share a batch), so many concurrent clients get
batched decoding. It lets several processes or machines share one loaded model, and it is the
real server the HTTP backend is tested against.

What it answers beyond plain generation depends on the backend:

- ``logprobs``/``top_logprobs`` on chat completions: with ``max_tokens == 1`` and a backend
  that has ``top_next_tokens`` (the transformers backend);
- raw-text ``/v1/completions``: a backend with ``complete``; ``echo`` with ``logprobs``: a
  backend with ``prompt_logprobs`` (both in the transformers backend).

Anything else is answered 400 with a message that says what is missing. Standard library only;
it is meant for a trusted network (no TLS, no authentication unless ``api_key`` is set).

Under load and bad input it answers, never crashes:

- at most ``max_queue`` requests wait or run at once; one more gets 429 with ``Retry-After``;
- a body over ``max_body_bytes`` gets 413 (read no further), malformed JSON, wrong types and
  out-of-range values 400, an unknown model 404, each with a message naming the field;
- a request not answered within ``request_timeout`` seconds gets 503 with ``Retry-After``
  (dropped from the batch if it has not started), and a client that stops sending mid-request
  is cut off after ``socket_timeout`` seconds;
- an ``X-Request-Id`` header is echoed on the response, so clients can match answers;
- when one request of a batch makes the backend fail (a prompt too long), the others of the
  batch are answered on their own.

Example:
    >>> from llmrec.backends import load_backend
    >>> from llmrec.backends.server import serve_in_thread
    >>> server = serve_in_thread(load_backend("smollm2-135m-instruct"), port=0)
    >>> server.url  # 'http://127.0.0.1:41234/v1'
    >>> server.close()
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from llmrec.backends.base import Backend, GenerationParams

logger = logging.getLogger(__name__)


MAX_N = 16  # replies per request
MAX_TOP_LOGPROBS = 20  # as OpenAI's API
ROLES = ("system", "developer", "user", "assistant", "tool")


class RequestError(ValueError):
    """A request the server answers with ``status`` (400 unless said) and this message."""

    def __init__(self, message: str, status: int = 400, kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status = status
        self.kind = kind


class Overloaded(RuntimeError):
    """The request queue is full (429) or a request ran past its timeout (503)."""

    def __init__(self, message: str, status: int, retry_after: int) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class _Job:
    kind: str  # "chat", "text", "top", "echo"
    payload: Any
    params: Any
    future: Future = field(default_factory=Future)


class _Batcher:
    """Gathers jobs from handler threads and runs them as batches on one worker thread."""

    def __init__(
        self,
        backend: Backend,
        batch_wait: float,
        max_batch: int,
        max_queue: int = 256,
        timeout: float = 300.0,
    ) -> None:
        self.backend = backend
        self.batch_wait = batch_wait
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.timeout = timeout
        self.jobs: queue.Queue[_Job | None] = queue.Queue()
        # Requests admitted and not yet answered; bounded by max_queue.
        self._slots = threading.BoundedSemaphore(max_queue)
        self.thread = threading.Thread(target=self._run, name="llmrec-serve-batcher", daemon=True)
        self.thread.start()

    def submit(self, kind: str, payload: Any, params: Any = None) -> Any:
        """Queue one job and wait for it; raises :class:`Overloaded` when full or too slow."""
        if not self._slots.acquire(blocking=False):
            raise Overloaded(
                f"server busy: {self.max_queue} requests already queued or running; retry later",
                429,
                retry_after=max(1, round(self.batch_wait * 50)),
            )
        try:
            job = _Job(kind, payload, params)
            self.jobs.put(job)
            try:
                return job.future.result(timeout=self.timeout)
            except TimeoutError:
                # Not started yet: the batcher skips it. Running: its result is dropped.
                job.future.cancel()
                raise Overloaded(
                    f"no answer within the server's request timeout of {self.timeout:g} s",
                    503,
                    retry_after=max(1, round(self.timeout / 10)),
                ) from None
        finally:
            self._slots.release()

    def stop(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self.jobs.get()
            if first is None:
                return
            pending = [first]
            deadline = time.monotonic() + self.batch_wait
            stop = False
            while len(pending) < self.max_batch:
                left = deadline - time.monotonic()
                try:
                    job = (
                        self.jobs.get(timeout=max(0.0, left))
                        if left > 0
                        else self.jobs.get_nowait()
                    )
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                pending.append(job)
            groups: dict[tuple[str, Any], list[_Job]] = {}
            for job in pending:
                if job.future.set_running_or_notify_cancel():  # False: timed out, skip it
                    groups.setdefault((job.kind, job.params), []).append(job)
            for (kind, params), jobs in groups.items():
                self._execute(kind, params, jobs)
            if stop:
                return

    def _execute(self, kind: str, params: Any, jobs: list[_Job]) -> None:
        payloads = [job.payload for job in jobs]
        try:
            if kind == "chat":
                flat = self.backend.generate(payloads, params)
                results = [flat[i * params.n : (i + 1) * params.n] for i in range(len(jobs))]
            elif kind == "text":
                flat = self.backend.complete(payloads, params)
                results = [flat[i * params.n : (i + 1) * params.n] for i in range(len(jobs))]
            elif kind == "top":
                results = self.backend.top_next_tokens(payloads, params)
            else:
                results = self.backend.prompt_logprobs(payloads)
        except Exception as err:  # noqa: BLE001 - every failure goes back to its request
            if len(jobs) > 1:  # one bad request must not fail its batch-mates: retry alone
                for job in jobs:
                    self._execute(kind, params, [job])
                return
            jobs[0].future.set_exception(err)
            return
        for job, result in zip(jobs, results):
            job.future.set_result(result)


class OpenAICompatServer:
    """The server object: ``url``, ``close()``; build it with :func:`serve_in_thread`."""

    def __init__(
        self,
        backend: Backend,
        model_name: str,
        host: str = "127.0.0.1",
        port: int = 8000,
        batch_wait: float = 0.02,
        max_batch: int = 64,
        api_key: str | None = None,
        max_queue: int = 256,
        request_timeout: float = 300.0,
        max_body_bytes: int = 1 << 20,
        socket_timeout: float = 30.0,
    ) -> None:
        for name, value in (
            ("max_queue", max_queue),
            ("request_timeout", request_timeout),
            ("max_body_bytes", max_body_bytes),
            ("socket_timeout", socket_timeout),
        ):
            if value <= 0:
                raise ValueError(f"{name} must be > 0, got {value}")
        self.backend = backend
        self.model_name = model_name
        self.api_key = api_key
        self.max_body_bytes = max_body_bytes
        self.batcher = _Batcher(backend, batch_wait, max_batch, max_queue, request_timeout)
        handler = type("Handler", (_Handler,), {"app": self, "timeout": socket_timeout})
        self.httpd = _HTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host, self.port = self.httpd.server_address[:2]
        self.url = f"http://{self.host}:{self.port}/v1"
        self._thread: threading.Thread | None = None

    def serve_forever(self) -> None:
        logger.info("serving %s at %s", self.model_name, self.url)
        self.httpd.serve_forever()

    def start(self) -> OpenAICompatServer:
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.batcher.stop()

    def __enter__(self) -> OpenAICompatServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoint logic ---------------------------------------------------------------------
    def models(self) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": self.model_name, "object": "model", "owned_by": "llmrec"}],
        }

    def chat_completions(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise RequestError("'messages' must be a non-empty list of {role, content} objects")
        chat = [_message(m, k) for k, m in enumerate(messages)]
        params = _params(body)
        if body.get("logprobs"):
            return self._chat_logprobs(chat, params, body)
        replies = self.batcher.submit("chat", chat, params)
        choices = [
            {
                "index": k,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "logprobs": None,
            }
            for k, text in enumerate(replies)
        ]
        return self._envelope("chat.completion", choices, replies)

    def _chat_logprobs(
        self, chat: list[dict[str, str]], params: GenerationParams, body: dict[str, Any]
    ) -> dict[str, Any]:
        if params.max_new_tokens != 1 or not hasattr(self.backend, "top_next_tokens"):
            raise RequestError(
                "logprobs are served for max_tokens=1 only, by backends with top_next_tokens "
                f"(this one: {type(self.backend).__name__})"
            )
        k = _int(body, "top_logprobs", 1, 1, MAX_TOP_LOGPROBS)
        top = self.batcher.submit("top", chat, k)
        token, logprob = top[0]
        entry = {
            "token": token,
            "logprob": logprob,
            "bytes": list(token.encode()),
            "top_logprobs": [{"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in top],
        }
        choices = [
            {
                "index": 0,
                "message": {"role": "assistant", "content": token},
                "finish_reason": "length",
                "logprobs": {"content": [entry]},
            }
        ]
        out = self._envelope("chat.completion", choices, [])
        out["usage"].update(completion_tokens=1, total_tokens=1)
        return out

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body.get("prompt")
        prompts = [prompt] if isinstance(prompt, str) else prompt
        if (
            not isinstance(prompts, list)
            or not prompts
            or not all(isinstance(p, str) for p in prompts)
        ):
            raise RequestError("'prompt' must be a string or a non-empty list of strings")
        params = _params(body)
        echo = bool(body.get("echo"))
        want_logprobs = body.get("logprobs") is not None
        if echo and want_logprobs:
            if not hasattr(self.backend, "prompt_logprobs"):
                raise RequestError(f"{type(self.backend).__name__} cannot score prompts")
            choices = [self._echo_choice(k, p) for k, p in enumerate(prompts)]
            return self._envelope("text_completion", choices, [])
        if want_logprobs:
            raise RequestError("logprobs on /v1/completions are served with echo=true only")
        if not hasattr(self.backend, "complete"):
            raise RequestError(
                f"{type(self.backend).__name__} generates from chats only; use /v1/chat/completions"
            )
        choices, replies = [], []
        for p in prompts:
            for text in self.batcher.submit("text", p, params):
                replies.append(text)
                choices.append(
                    {
                        "index": len(choices),
                        "text": (p if echo else "") + text,
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                )
        return self._envelope("text_completion", choices, replies)

    def _echo_choice(self, index: int, prompt: str) -> dict[str, Any]:
        # The scoring use of echo: the prompt's own token logprobs; nothing is generated.
        tokens, values = self.batcher.submit("echo", prompt)
        offsets, position = [], 0
        for token in tokens:
            offsets.append(position)
            position += len(token)
        return {
            "index": index,
            "text": prompt,
            "finish_reason": "length",
            "logprobs": {
                "tokens": tokens,
                "token_logprobs": values,
                "text_offset": offsets,
                "top_logprobs": None,
            },
        }

    def _envelope(self, obj: str, choices: list[dict], replies: list[str]) -> dict[str, Any]:
        completion = sum(self._tokens(text) for text in replies)
        return {
            "id": f"llmrec-{uuid.uuid4().hex[:12]}",
            "object": obj,
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            # Per request: the replies re-tokenized (requests share a batch, so the backend's
            # own counter cannot tell them apart); prompt tokens are not counted.
            "usage": {
                "prompt_tokens": 0,
                "completion_tokens": completion,
                "total_tokens": completion,
            },
        }

    def _tokens(self, text: str) -> int:
        tokenizer = getattr(self.backend, "tokenizer", None)
        if tokenizer is None:
            return max(1, len(text) // 4) if text else 0  # the HTTP backends' 4-chars estimate
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])


class _HTTPServer(ThreadingHTTPServer):
    # The stdlib's listen backlog of 5 resets connections when many clients connect at once.
    request_queue_size = 1024


class _Handler(BaseHTTPRequestHandler):
    app: OpenAICompatServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s " + format, self.address_string(), *args)

    def _send(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        request_id = self.headers.get("X-Request-Id")
        if request_id:
            self.send_header("X-Request-Id", request_id[:200])
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _error(
        self, status: int, message: str, kind: str, headers: dict[str, str] | None = None
    ) -> None:
        self._send(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _authorised(self) -> bool:
        if not self.app.api_key:
            return True
        if self.headers.get("Authorization", "") == f"Bearer {self.app.api_key}":
            return True
        self._error(401, "invalid or missing API key", "authentication_error")
        return False

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if not self._authorised():
            return
        if self.path.rstrip("/") in ("/v1/models", "/models"):
            self._send(200, self.app.models())
        else:
            self._error(404, f"no route GET {self.path}", "not_found")

    def _read_body(self) -> dict[str, Any]:
        """The JSON object of the request; :class:`RequestError` (400/411/413) otherwise."""
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            if self.headers.get("Transfer-Encoding"):
                raise RequestError("send the body with a Content-Length header", 411)
            raw_length = "0"
        try:
            length = int(raw_length)
        except ValueError:
            raise RequestError(f"Content-Length must be an integer, got {raw_length!r}") from None
        if length < 0:
            raise RequestError(f"Content-Length must be >= 0, got {length}")
        if length > self.app.max_body_bytes:
            # The body is not read; the connection closes so the rest is not taken as a request.
            self.close_connection = True
            raise RequestError(
                f"request body of {length} bytes exceeds this server's limit of "
                f"{self.app.max_body_bytes} bytes",
                413,
            )
        try:
            data = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(
                f"the body did not arrive within {self.timeout:g} s", 408, "timeout"
            ) from None
        if len(data) < length:
            self.close_connection = True
            raise RequestError(f"body ended after {len(data)} of {length} bytes")
        try:
            body = json.loads(data or b"{}")
        except UnicodeDecodeError as err:
            raise RequestError(f"the body is not UTF-8 JSON: {err}") from None
        except json.JSONDecodeError as err:
            raise RequestError(
                f"the body is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
            ) from None
        if not isinstance(body, dict):
            raise RequestError(f"the request body must be a JSON object, got {type(body).__name__}")
        return body

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        if not self._authorised():
            return
        routes = {
            "/v1/chat/completions": self.app.chat_completions,
            "/v1/completions": self.app.completions,
        }
        route = routes.get(self.path.rstrip("/"))
        if route is None:
            self.close_connection = True  # the body is left unread
            self._error(404, f"no route POST {self.path}", "not_found")
            return
        try:
            body = self._read_body()
            model = body.get("model")
            if model is not None and not isinstance(model, str):
                raise RequestError(f"'model' must be a string, got {type(model).__name__}")
            if model not in (None, self.app.model_name):
                raise RequestError(
                    f"unknown model {model!r}; this server serves {self.app.model_name!r}",
                    404,
                    "model_not_found",
                )
            self._send(200, route(body))
        except RequestError as err:
            self._error(err.status, str(err), err.kind)
        except Overloaded as err:
            kind = "rate_limit_error" if err.status == 429 else "timeout"
            self._error(err.status, str(err), kind, {"Retry-After": str(err.retry_after)})
        except (ValueError, TypeError, OverflowError) as err:
            self._error(400, str(err), "invalid_request_error")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client left; nothing to answer
        except Exception as err:  # noqa: BLE001 - a failed request must not kill the server
            logger.exception("request failed")
            self._error(500, f"{type(err).__name__}: {err}", "server_error")


def _message(message: Any, index: int) -> dict[str, str]:
    if not isinstance(message, dict) or "role" not in message:
        raise RequestError(f"messages[{index}] must be an object with 'role' and 'content'")
    role = message["role"]
    if role not in ROLES:
        raise RequestError(f"messages[{index}].role must be one of {list(ROLES)}, got {role!r}")
    content = message.get("content")
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type", "text") == "text"
        )
    if not isinstance(content, str):
        raise RequestError(f"messages[{index}].content must be a string")
    return {"role": role, "content": content}


def _number(body: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RequestError(f"'{key}' must be a number, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise RequestError(f"'{key}' must be in [{low}, {high}], got {value}")
    return float(value)


def _int(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"'{key}' must be an integer, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise RequestError(f"'{key}' must be in [{low}, {high}], got {value}")
    return value


def _params(body: dict[str, Any]) -> GenerationParams:
    stop = body.get("stop") or ()
    if isinstance(stop, str):
        stop = (stop,)
    if not isinstance(stop, (list, tuple)) or not all(isinstance(x, str) for x in stop):
        raise RequestError("'stop' must be a string or a list of strings")
    key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    return GenerationParams(
        max_new_tokens=_int(body, key, 256, 1, 1 << 20),
        temperature=_number(body, "temperature", 1.0, 0.0, 100.0),
        top_p=_number(body, "top_p", 1.0, 1e-9, 1.0),
        seed=_int(body, "seed", None, -(1 << 63), (1 << 64) - 1),
        n=_int(body, "n", 1, 1, MAX_N),
        stop=tuple(stop),
        repetition_penalty=_number(body, "repetition_penalty", 1.0, 1e-9, 100.0),
    )


def serve_in_thread(
    backend: Backend,
    model_name: str = "llmrec",
    host: str = "127.0.0.1",
    port: int = 0,
    batch_wait: float = 0.02,
    max_batch: int = 64,
    api_key: str | None = None,
    max_queue: int = 256,
    request_timeout: float = 300.0,
    max_body_bytes: int = 1 << 20,
    socket_timeout: float = 30.0,
) -> OpenAICompatServer:
    """Start a server on a background thread; ``port=0`` picks a free port (see ``.url``).

    Args:
        backend: Any llmrec backend.
        model_name: The id clients send as ``model``.
        host: Interface to bind; keep ``127.0.0.1`` unless the network is trusted.
        port: TCP port, 0 for any free one.
        batch_wait: Seconds to gather concurrent requests into one batch.
        max_batch: Most requests per batch.
        api_key: Require ``Authorization: Bearer <api_key>`` when set.
        max_queue: Requests queued or running at once; more get 429 with ``Retry-After``.
        request_timeout: Seconds a request may wait and run before a 503.
        max_body_bytes: Largest request body; larger ones get 413.
        socket_timeout: Seconds a connection may sit idle or stall mid-request.
    """
    server = OpenAICompatServer(
        backend,
        model_name,
        host,
        port,
        batch_wait,
        max_batch,
        api_key,
        max_queue=max_queue,
        request_timeout=request_timeout,
        max_body_bytes=max_body_bytes,
        socket_timeout=socket_timeout,
    )
    return server.start()
