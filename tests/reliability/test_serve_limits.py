"""``llmrec serve`` under bad input and overload: 4xx with a message, 429/503 with Retry-After.

The server runs the real tiny random Llama. To fill the queue deterministically, the model is
wrapped in a gate that holds each batch until the test opens it (the model still answers).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from llmrec.backends.server import serve_in_thread

CHAT = [{"role": "user", "content": "Say something."}]


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=8, max_input_tokens=200)


class Gated:
    """The real backend behind a gate: each call waits until ``gate`` is set."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.gate = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.backend, name)

    def generate(self, chats, params=None):
        self.calls += 1
        self.entered.set()
        self.gate.wait(30)
        return self.backend.generate(chats, params)


def post(url: str, body: bytes | dict, headers: dict | None = None, path="/v1/chat/completions"):
    """``(status, json body, headers)`` of one POST over a fresh connection."""
    host, port = url.split("//")[1].split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    conn.request("POST", path, data, {"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    payload = json.loads(response.read() or b"{}")
    conn.close()
    return response.status, payload, dict(response.getheaders())


def ok_body(**extra):
    return {"model": "tiny", "messages": CHAT, "max_tokens": 2, "temperature": 0, **extra}


@pytest.fixture(scope="module")
def server(tiny):
    with serve_in_thread(tiny, "tiny", max_body_bytes=4096, socket_timeout=1.0) as srv:
        yield srv


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b'{"a": "\xc3\x28"}', 400, "not UTF-8"),
        (b"[1, 2]", 400, "must be a JSON object"),
        ({"messages": "hi"}, 400, "'messages' must be a non-empty list"),
        ({"messages": [{"role": "hacker", "content": "x"}]}, 400, "role must be one of"),
        ({"messages": [{"role": "user", "content": 5}]}, 400, "content must be a string"),
        (ok_body(max_tokens="ten"), 400, "'max_tokens' must be an integer"),
        (ok_body(max_tokens=0), 400, "'max_tokens' must be in"),
        (ok_body(temperature="hot"), 400, "'temperature' must be a number"),
        (ok_body(n=10_000), 400, "'n' must be in"),
        (ok_body(stop=[1]), 400, "'stop' must be a string"),
        (ok_body(top_p=True), 400, "'top_p' must be a number"),
        (ok_body(model=["x"]), 400, "'model' must be a string"),
        (ok_body(model="gpt-9"), 404, "unknown model 'gpt-9'"),
        (ok_body(logprobs=True, max_tokens=1, top_logprobs=99), 400, "'top_logprobs'"),
        (ok_body(messages=[{"role": "user", "content": "x " * 1000}]), 400, "prompt tokens"),
    ],
)
def test_bad_requests_get_4xx_with_a_message(server, body, status, message):
    got, payload, _ = post(server.url, body)
    assert got == status
    assert message in payload["error"]["message"]
    assert payload["error"]["code"] == status


def test_huge_body_is_refused_unread_and_the_server_lives_on(server):
    got, payload, _ = post(server.url, ok_body(messages=[{"role": "user", "content": "x" * 5000}]))
    assert got == 413
    assert "exceeds this server's limit of 4096 bytes" in payload["error"]["message"]
    # a claimed 1 GB body with nothing behind it: refused from the header alone
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n"
        )
        reply = sock.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert post(server.url, ok_body())[0] == 200


def test_bad_framing(server):
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    for head, status in [
        (b"Content-Length: lots\r\n", "400"),
        (b"Content-Length: -5\r\n", "400"),
        (b"Transfer-Encoding: chunked\r\n", "411"),
    ]:
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + head + b"\r\n")
            assert sock.recv(4096).decode().startswith(f"HTTP/1.1 {status}")


def test_stalled_body_is_cut_off_after_the_socket_timeout(server):
    host, port = server.url.split("//")[1].split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"
        )
        reply = sock.recv(4096).decode()  # the server answers after its 1 s timeout
    assert reply.startswith("HTTP/1.1 408")


def test_request_id_is_echoed(server):
    got, payload, headers = post(server.url, ok_body(), {"X-Request-Id": "req-42"})
    assert got == 200 and headers["X-Request-Id"] == "req-42"
    assert payload["choices"][0]["message"]["role"] == "assistant"


def test_full_queue_answers_429_with_retry_after_and_loses_nothing(tiny):
    gated = Gated(tiny)
    with serve_in_thread(gated, "tiny", max_queue=3, batch_wait=0.0, max_batch=1) as srv:
        with ThreadPoolExecutor(8) as pool:
            held = [pool.submit(post, srv.url, ok_body(seed=k)) for k in range(3)]
            assert gated.entered.wait(10)
            deadline = time.monotonic() + 10
            while srv.batcher._slots._value > 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # all three admitted
            got, payload, headers = post(srv.url, ok_body())
            assert got == 429
            assert int(headers["Retry-After"]) >= 1
            assert "3 requests already queued" in payload["error"]["message"]
            gated.gate.set()
            assert [f.result()[0] for f in held] == [200, 200, 200]
        assert post(srv.url, ok_body())[0] == 200  # capacity is back


def test_request_timeout_answers_503_and_drops_the_waiting_job(tiny):
    gated = Gated(tiny)
    with serve_in_thread(gated, "tiny", request_timeout=0.5, batch_wait=0.0, max_batch=1) as srv:
        with ThreadPoolExecutor(2) as pool:
            first = pool.submit(post, srv.url, ok_body())
            assert gated.entered.wait(10)
            got, payload, headers = post(srv.url, ok_body(seed=1))  # waits behind the gate
            assert got == 503 and "Retry-After" in headers
            assert "request timeout of 0.5 s" in payload["error"]["message"]
            gated.gate.set()
            assert first.result()[0] == 503  # it ran past 0.5 s too
        time.sleep(0.3)
        assert post(srv.url, ok_body())[0] == 200
    # the timed-out second request never reached the model: one call for the first, one after
    assert gated.calls == 2


def test_one_bad_prompt_does_not_fail_its_batch(tiny):
    with serve_in_thread(tiny, "tiny", batch_wait=0.5) as srv:
        long = ok_body(messages=[{"role": "user", "content": "x " * 300}])
        with ThreadPoolExecutor(2) as pool:
            bad, good = pool.submit(post, srv.url, long), pool.submit(post, srv.url, ok_body())
            assert bad.result()[0] == 400
            assert good.result()[0] == 200
