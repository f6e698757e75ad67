"""Moved to :mod:`llmrec.backends.grouped` (the reranker shares it); kept importable here."""

from llmrec.backends.grouped import grouped_next_token_logprobs, supports_prefix_sharing
from llmrec.backends.prefill import common_prefix_length

__all__ = ["common_prefix_length", "grouped_next_token_logprobs", "supports_prefix_sharing"]
