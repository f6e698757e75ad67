"""``llmrec serve``: an OpenAI-compatible HTTP server in front of any llmrec backend.

Example:
    llmrec serve --model smollm2-135m-instruct --port 8000
    llmrec profile --data ml-100k --model openai:http://127.0.0.1:8000/v1#smollm2-135m-instruct
"""

from __future__ import annotations

import argparse

NAME = "serve"
HELP = "serve a model over an OpenAI-compatible HTTP API (/v1/chat/completions, /v1/completions)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="smollm2-135m-instruct", help="backend spec")
    parser.add_argument("--name", default=None, help="model id clients send (default: --model)")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default local)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=None, help="prompts per forward pass")
    parser.add_argument("--batch-wait", type=float, default=0.02, help="seconds to gather a batch")
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--quantization", choices=["8bit", "4bit"], default=None)
    parser.add_argument("--api-key", default=None, help="require this bearer token")
    parser.add_argument(
        "--max-queue", type=int, default=256, help="requests queued or running; more get 429"
    )
    parser.add_argument(
        "--request-timeout", type=float, default=300.0, help="seconds per request before 503"
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=1 << 20, help="largest request body (413 above)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from llmrec.backends import load_backend
    from llmrec.backends.server import OpenAICompatServer

    options = {
        "batch_size": args.batch_size,
        "device": args.device,
        "dtype": args.dtype,
        "quantization": args.quantization,
    }
    kwargs = {k: v for k, v in options.items() if v is not None}
    backend = load_backend(args.model, **kwargs)
    server = OpenAICompatServer(
        backend,
        args.name or args.model,
        host=args.host,
        port=args.port,
        batch_wait=args.batch_wait,
        api_key=args.api_key,
        max_queue=args.max_queue,
        request_timeout=args.request_timeout,
        max_body_bytes=args.max_body_bytes,
    )
    print(f"serving {args.name or args.model} at {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
    return 0
