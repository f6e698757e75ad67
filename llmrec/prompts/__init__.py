"""Versioned prompt templates, loaded by name.

Templates are Jinja files shipped inside this package (``llmrec/prompts/<group>/<name>.v<N>.jinja``,
package data of the wheel, so they load the same from a checkout and from ``pip install``); a name is
``"<group>/<name>"`` (latest version) or ``"<group>/<name>@v<N>"`` (pinned). A path to a file of
your own works wherever a name does.

A template may hold a system and a user part, separated by a line ``---user---``; rendering
gives a chat ready for a backend. Item text (titles, reviews, descriptions) is data, not
instructions: pass it through the ``untrusted`` filter, which delimits it, strips the delimiter
from the text and cuts it to a length.

Example:
    >>> from llmrec.prompts import render_chat
    >>> chat = render_chat("profile/free_text", history=[...])  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

USER_MARK = "---user---"
OPEN, CLOSE = "<<<", ">>>"


def prompts_root() -> Path:
    """``$LLMREC_PROMPTS`` if set, else the templates installed with this package."""
    env = os.environ.get("LLMREC_PROMPTS")
    if env:
        return Path(env)
    # The templates are package data; a regular (unzipped) install gives a real folder.
    return Path(str(resources.files(__name__)))


def untrusted(text: Any, max_chars: int = 300) -> str:
    """Delimit untrusted text as ``<<<...>>>``, removing delimiters inside it and cutting it.

    Chat-control markers inside the text (``<|im_start|>``, ``</s>``, ``[INST]``, ...) are
    rewritten into readable look-alikes and invisible format characters dropped
    (:func:`llmrec.control_tokens.neutralise`), so item text never becomes special tokens, on
    any backend. Cutting happens on the character budget, with an ellipsis marking the cut.
    """
    from llmrec.control_tokens import neutralise, strip_invisible

    value = strip_invisible("" if text is None else str(text))
    while OPEN in value or CLOSE in value:  # removing one may join the pieces of another
        value = value.replace(OPEN, "").replace(CLOSE, "")
    value = neutralise(value)
    value = re.sub(r"\s+", " ", value).strip()
    if len(value) > max_chars:
        value = value[: max_chars - 1].rstrip() + "…"
    return f"{OPEN}{value}{CLOSE}"


def resolve(name: str) -> Path:
    """Path of a template given a name (``group/name`` or ``group/name@vN``) or a file path."""
    candidate = Path(name)
    if candidate.suffix in (".jinja", ".j2", ".txt") and candidate.is_file():
        return candidate
    base, _, version = name.partition("@")
    folder = prompts_root() / Path(base).parent
    stem = Path(base).name
    if version:
        path = folder / f"{stem}.{version}.jinja"
        if not path.is_file():
            raise ValueError(f"prompt {name!r}: {path} does not exist; available: {available()}")
        return path
    versions = sorted(
        folder.glob(f"{stem}.v*.jinja"), key=lambda p: int(p.name.rsplit(".v", 1)[1].split(".")[0])
    )
    if not versions:
        raise ValueError(f"unknown prompt {name!r}; available: {available()}")
    return versions[-1]


def available() -> list[str]:
    """All template names with their versions (``group/name@vN``)."""
    root = prompts_root()
    out = []
    for path in sorted(root.rglob("*.v*.jinja")):
        rel = path.relative_to(root).as_posix()
        stem, version = rel[: -len(".jinja")].rsplit(".", 1)
        out.append(f"{stem}@{version}")
    return out


@lru_cache(maxsize=64)
def _template(path: str, mtime: float):
    from jinja2 import Environment, StrictUndefined

    env = Environment(undefined=StrictUndefined, keep_trailing_newline=False, autoescape=False)
    env.filters["untrusted"] = untrusted
    return env.from_string(Path(path).read_text(encoding="utf-8"))


def render(name: str, **variables: Any) -> str:
    """Render a template to text; a missing variable raises (StrictUndefined)."""
    path = resolve(name)
    return _template(str(path), path.stat().st_mtime).render(**variables).strip()


def render_chat(name: str, **variables: Any) -> list[dict[str, str]]:
    """Render a template into a chat: ``[system?, user]`` split at the ``---user---`` line."""
    text = render(name, **variables)
    if USER_MARK in text:
        system, user = text.split(USER_MARK, 1)
        return [
            {"role": "system", "content": system.strip()},
            {"role": "user", "content": user.strip()},
        ]
    return [{"role": "user", "content": text}]


def version_of(name: str) -> str:
    """The resolved ``group/name@vN`` of a template name, recorded in outputs for provenance."""
    path = resolve(name)
    try:
        rel = path.resolve().relative_to(prompts_root().resolve()).as_posix()
    except ValueError:
        return str(path)
    stem, version = rel[: -len(".jinja")].rsplit(".", 1)
    return f"{stem}@{version}"
