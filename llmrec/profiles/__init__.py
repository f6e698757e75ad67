"""User profiles from interaction histories, with an LLM backend.

* :class:`ProfileBuilder` builds profiles for a batch of users (strategy, format, prompt);
* :func:`run_profile_job` runs it over many users into JSONL, resumable and sharded;
* :func:`sample_profiles` draws several profiles per user for preference training;
* :class:`StructuredProfile` is the JSON schema, :class:`ProfileRecord` the stored record;
* :func:`read_profiles` loads a profile file (user id -> record);
* :func:`user_facts` computes the facts a grounded profile is written from (no model).

Example:
    >>> from llmrec.backends import load_backend
    >>> from llmrec.data import leave_one_out, load_dataset
    >>> from llmrec.profiles import ProfileBuilder, run_profile_job
    >>> split = leave_one_out(load_dataset("ml-100k"))
    >>> builder = ProfileBuilder(load_backend("smollm2-135m-instruct"), strategy="recent")
    >>> run_profile_job(builder, split.train, split.train.user_ids[:64], "profiles.jsonl")
"""

from llmrec.context.facts import FactsConfig, ProfileFacts, user_facts
from llmrec.profiles.builder import FORMATS, ProfileBuilder
from llmrec.profiles.job import JobResult, merge_parts, run_profile_job
from llmrec.profiles.sampling import sample_profile_records, sample_profiles
from llmrec.profiles.schema import ProfileRecord, StructuredProfile
from llmrec.profiles.store import read_profiles
from llmrec.profiles.strategies import (
    STRATEGIES,
    Grounded,
    Hierarchical,
    Incremental,
    RecentWindow,
    Strategy,
    WholeHistory,
    make_strategy,
)
from llmrec.profiles.structured import parse_structured

__all__ = [
    "FORMATS",
    "STRATEGIES",
    "FactsConfig",
    "Grounded",
    "ProfileFacts",
    "Hierarchical",
    "Incremental",
    "JobResult",
    "ProfileBuilder",
    "ProfileRecord",
    "RecentWindow",
    "Strategy",
    "StructuredProfile",
    "WholeHistory",
    "make_strategy",
    "merge_parts",
    "parse_structured",
    "read_profiles",
    "run_profile_job",
    "sample_profile_records",
    "sample_profiles",
    "user_facts",
]
