"""Links into registries and time to live, as the ``Artifact`` facade shows them
(mixed into :class:`~quire.sdk.artifact.Artifact`)."""

from __future__ import annotations


class LinkMixin:
    """``link``, ``unlink``, ``is_link``, ``linked_artifacts``, ``source_*``, ``ttl``."""
