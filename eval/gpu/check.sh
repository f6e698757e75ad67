#!/usr/bin/env bash
# The one-GPU check, under 10 minutes on one H100-class GPU. Prints one JSON line at the end.
#
#   bash eval/gpu/check.sh                       # with the Python on PATH
#   PYTHON=.venv/bin/python bash eval/gpu/check.sh
#
# Needs, in that Python: torch with CUDA, vllm (the GPU build: pip install 'llmrec[vllm]'),
# bitsandbytes, and llmrec's dependencies; and the embedded models and ml-100k in
# $LLMREC_HOME (default ~/.cache/llmrec: `llmrec models fetch && llmrec data fetch ml-100k`).
# Steps (each under its own time limit, each reported even when it fails):
#   1. env:    the GPU, torch, vllm and transformers versions;
#   2. engines: eval/bench/engines.py on the GPU: the profile job (64 ml-100k users) on the
#      Transformers backend and on the vllm: backend (plain vLLM beside it), and the logprob
#      judge against vLLM's own one-step logprobs;
#   3. sft_bf16: two LoRA SFT steps with recipes/sft.py and recipes/smollm2/sft/config_bf16.yaml;
#   4. qlora:   two QLoRA steps with recipes/smollm2/sft/config_qlora.yaml.
set -uo pipefail
cd "$(dirname "$0")/../.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1
exec "${PYTHON:-python3}" eval/gpu/check.py "$@"
