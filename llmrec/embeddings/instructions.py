"""Instructions for instruction-aware encoding, and the prefix format that carries them.

An instruction ``I`` enters the encoder as a text prefix, the ``prompt`` of
sentence-transformers (``model.encode(texts, prompt=...)``): ``"Instruct: <I>\\nUser: "``. The
same prefix is put in front of the anchor texts during training, so training and inference see
identical inputs. The prefix template is ``prompts/embed/instruction.v1.jinja``.

The task instructions used by UserQA and the evaluation live as templates too
(``prompts/embed/question_<task>.v1.jinja``).

Example:
    >>> from llmrec.embeddings.instructions import instruction_prefix
    >>> instruction_prefix("Which genres does this user like?")
    'Instruct: Which genres does this user like?\\nUser: '
"""

from __future__ import annotations

from llmrec.prompts import render

PREFIX_TEMPLATE = "embed/instruction"


def instruction_prefix(instruction: str | None, template: str = PREFIX_TEMPLATE) -> str:
    """The text put in front of a user's text for ``instruction``; ``""`` for no instruction."""
    if instruction is None or not str(instruction).strip():
        return ""
    return render(template, instruction=str(instruction).strip()) + " "


def with_instruction(texts: list[str], instruction: str | None) -> list[str]:
    """``texts`` with the instruction prefix prepended (what ``encode(prompt=...)`` does)."""
    prefix = instruction_prefix(instruction)
    return [prefix + t for t in texts]


def task_instruction(task: str) -> str:
    """The canonical instruction of a UserQA task (``prompts/embed/question_<task>``)."""
    return render(f"embed/question_{task}")
