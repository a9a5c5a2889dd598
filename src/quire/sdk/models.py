"""Models: ``run.log_model``, ``use_model``, ``link_model``, ``link_artifact`` (mixed into
:class:`~quire.sdk.run.Run`)."""

from __future__ import annotations


class ModelMixin:
    """The model verbs of a run."""
