"""W&B's documented examples, wandb's own Artifact tests and three integrations' call
sequences, ported as behaviour and run with ``import quire as wandb`` (issue 12, "Must
show"). Each test names, in one comment line, the page or source it ports."""
