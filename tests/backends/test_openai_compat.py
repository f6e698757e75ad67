"""The HTTP backend against real local servers: llmrec's own, and a scripted one for failures."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams
from llmrec.backends.openai_compat import BackendAuthError, BackendHTTPError, OpenAIBackend
from llmrec.backends.server import serve_in_thread


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


CHATS = [_chat("Hi"), _chat("Genres: Action Adventure"), _chat("Score from 1 to 5")]


@pytest.fixture(scope="module")
def tiny_server(tiny_backend):
    server = serve_in_thread(tiny_backend, model_name="tiny", batch_wait=0.01)
    yield server
    server.close()


def test_models_endpoint(tiny_server):
    assert OpenAIBackend("tiny", tiny_server.url).list_models() == ["tiny"]


def test_sampled_generation_over_http_equals_in_process(tiny_server, tiny_backend):
    client = OpenAIBackend("tiny", tiny_server.url, concurrency=1)
    params = GenerationParams(max_new_tokens=8, temperature=1.0, seed=11, n=2)
    remote = client.generate(CHATS, params)
    local = [r for c in CHATS for r in tiny_backend.generate([c], params)]
    assert remote == local
    assert len(remote) == 6 and len(set(remote)) > 1
    assert client.usage.calls == 3 and client.usage.completion_tokens > 0


def test_concurrent_requests_are_batched_by_the_server(smol_backend):
    chats = [_chat("Say hi"), _chat("What is the capital of France? One word."), _chat("Hello")]
    params = GenerationParams(max_new_tokens=6)
    with serve_in_thread(smol_backend, model_name="smol", batch_wait=0.2) as server:
        calls = smol_backend.usage.calls
        client = OpenAIBackend("smol", server.url, concurrency=3)
        remote = client.generate(chats, params)
        server_calls = smol_backend.usage.calls - calls
    assert remote == smol_backend.generate(chats, params)
    assert server_calls == 1  # three concurrent requests, one batched forward loop
    # Usage is each request's own reply, not the shared batch's count.
    own = [len(smol_backend.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in remote]
    assert client.usage.completion_tokens == sum(own) <= 3 * 6
    assert "Paris" in remote[1]


def test_next_token_logprobs_over_http(tiny_server, tiny_backend):
    client = OpenAIBackend("tiny", tiny_server.url, top_logprobs=20)
    top = tiny_backend.top_next_tokens(CHATS[:1], 3)[0]
    candidates = [t for t, _ in top]
    remote = client.next_token_logprobs(CHATS[:1], [*candidates, "zzz-not-a-token"])
    np.testing.assert_allclose(remote[0, :3], [v for _, v in top], atol=1e-5)
    assert remote[0, 3] == -np.inf  # outside the server's top_logprobs


def test_score_continuations_over_http_match_in_process(tiny_server, tiny_backend, tiny_llama_path):
    client = OpenAIBackend("tiny", tiny_server.url, tokenizer=tiny_llama_path)
    conts = [["Yes", "No thanks"], ["comedy and animation"]]
    remote = client.score_continuations(CHATS[:2], conts)
    local = tiny_backend.score_continuations(CHATS[:2], conts)
    for r, loc in zip(remote, local):
        np.testing.assert_allclose(r, loc, atol=1e-3)


def test_score_continuations_without_tokenizer_says_what_is_needed(tiny_server):
    with pytest.raises(ValueError, match="tokenizer="):
        OpenAIBackend("tiny", tiny_server.url).score_continuations(CHATS[:1], [["Yes"]])


def test_bad_request_carries_the_server_message(tiny_server):
    with pytest.raises(ValueError, match="unknown model 'other'"):
        OpenAIBackend("other", tiny_server.url).generate(CHATS[:1], GenerationParams(2))


def test_api_key_is_enforced(tiny_backend):
    with serve_in_thread(tiny_backend, model_name="tiny", api_key="sekret") as server:
        with pytest.raises(BackendAuthError, match="401.*invalid or missing API key"):
            OpenAIBackend("tiny", server.url, api_key="wrong").list_models()
        assert OpenAIBackend("tiny", server.url, api_key="sekret").list_models() == ["tiny"]


# -- a scripted server for retry, backoff, auth and concurrency behaviour ---------------------


class Script:
    """Answers requests from a list of (status, headers, body, delay); the last one repeats."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.times: list[float] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            self.times.append(time.monotonic())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.steps.pop(0) if len(self.steps) > 1 else self.steps[0]

    def done(self):
        with self.lock:
            self.in_flight -= 1


OK = (200, {}, {"choices": [{"index": 0, "message": {"content": "fine"}}]}, 0.0)


@pytest.fixture
def scripted():
    servers = []

    def start(steps):
        script = Script(steps)

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, body, delay = script.next()
                time.sleep(delay)
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    script.done()

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return script, f"http://127.0.0.1:{httpd.server_address[1]}/v1"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _err(status, message, headers=None):
    return (status, headers or {}, {"error": {"message": message}}, 0.0)


def test_429_waits_for_retry_after(scripted):
    script, url = scripted([_err(429, "slow down", {"Retry-After": "0.3"}), OK])
    assert OpenAIBackend("m", url, backoff=5.0).generate(CHATS[:1]) == ["fine"]
    assert len(script.times) == 2
    assert 0.3 <= script.times[1] - script.times[0] < 2.0  # Retry-After, not the 5 s backoff


def test_5xx_backs_off_exponentially_then_succeeds(scripted):
    script, url = scripted([_err(503, "busy"), _err(500, "oops"), OK])
    assert OpenAIBackend("m", url, backoff=0.1).generate(CHATS[:1]) == ["fine"]
    gaps = np.diff(script.times)
    assert len(script.times) == 3
    assert 0.075 <= gaps[0] < 0.5 and 0.15 <= gaps[1] < 1.0  # 0.1 then 0.2, +-25% jitter


def test_retries_are_bounded_and_the_error_says_why(scripted):
    script, url = scripted([_err(500, "model crashed")])
    client = OpenAIBackend("m", url, max_retries=2, backoff=0.01)
    with pytest.raises(BackendHTTPError, match="after 3 tries.*500: model crashed"):
        client.generate(CHATS[:1])
    assert len(script.times) == 3


def test_timeouts_are_retried(scripted):
    script, url = scripted([(200, {}, OK[2], 1.0), OK])
    client = OpenAIBackend("m", url, timeout=0.3, backoff=0.01)
    assert client.generate(CHATS[:1]) == ["fine"]
    assert len(script.times) == 2


@pytest.mark.parametrize(
    ("status", "error"), [(401, BackendAuthError), (403, BackendAuthError), (400, ValueError)]
)
def test_client_errors_are_not_retried(scripted, status, error):
    script, url = scripted([_err(status, "you shall not pass"), OK])
    with pytest.raises(error, match=f"{status}.*you shall not pass"):
        OpenAIBackend("m", url, backoff=0.01).generate(CHATS[:1])
    assert len(script.times) == 1


def test_concurrency_limit_holds(scripted):
    script, url = scripted([(200, {}, OK[2], 0.1)])
    replies = OpenAIBackend("m", url, concurrency=3).generate([_chat(str(i)) for i in range(9)])
    assert replies == ["fine"] * 9
    assert script.max_in_flight == 3


def test_missing_choices_for_n_are_requested_again(scripted):
    script, url = scripted([OK])  # a server that ignores n and returns one choice
    replies = OpenAIBackend("m", url).generate(CHATS[:1], GenerationParams(4, n=3, seed=1))
    assert replies == ["fine"] * 3
    assert len(script.times) == 3
