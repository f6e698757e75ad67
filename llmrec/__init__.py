"""llmrec: LLM-centric user profiling, judging, user embeddings, training and offline evaluation.

``import llmrec`` is cheap: heavy libraries (torch, transformers, trl, sentence-transformers) are
imported inside the functions that need them.
"""

__version__ = "0.1.0"
