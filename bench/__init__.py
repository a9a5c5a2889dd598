"""Benchmark harness comparing Quire with wandb (offline) and dvc; see bench/README.md."""
