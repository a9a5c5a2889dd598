"""Registries: ``Api().registries()``, ``registry(name)``, ``create_registry(...)`` (mixed
into :class:`~quire.sdk.api.Api`). A registry is a project named ``wandb-registry-<name>``."""

from __future__ import annotations


class RegistryApi:
    """The registry verbs of ``Api``."""
