"""A short supervised warm start before GRPO.

Base SmolLM2 never writes the ``<profile>/<response>`` format, so GRPO's format-gated rewards
would all be 0; a few SFT steps on templated well-formed replies come first.
"""

from __future__ import annotations


def warm_start(model, tokenizer, simulators, script_args, training_args, model_args):
    """A short SFT on templated well-formed replies (see :func:`llmrec.training.grpo.data.warm_start_dataset`).

    With LoRA the adapter is merged afterwards, so GRPO starts a fresh adapter on top.
    """
    from trl import SFTConfig, SFTTrainer, get_peft_config

    from llmrec.training.grpo.data import rollout_dialogues, warm_start_dataset

    data = warm_start_dataset(rollout_dialogues(simulators, script_args.n_turns))
    args = SFTConfig(
        output_dir=str(training_args.output_dir) + "/warm_start",
        max_steps=script_args.warm_start_steps,
        learning_rate=script_args.warm_start_learning_rate,
        per_device_train_batch_size=training_args.per_device_train_batch_size,
        logging_steps=training_args.logging_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=training_args.use_cpu,
        bf16=training_args.bf16,
        gradient_checkpointing=False,
        seed=training_args.seed,
    )
    tokenizer.padding_side = "right"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    trainer.train()
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    return model
