"""LLM backends behind one protocol (:class:`llmrec.backends.base.Backend`)."""

from llmrec.backends.base import Backend, Chat, GenerationParams

__all__ = ["Backend", "Chat", "GenerationParams"]
