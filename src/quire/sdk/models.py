"""Models: ``run.log_model``, ``use_model``, ``link_model``, ``link_artifact`` (mixed into
:class:`~quire.sdk.run.Run`).

As in W&B, a model is an artifact of type ``model`` (any type holding ``model`` counts
when it is read back), named ``run-<run id>-<basename of its path>`` unless named, and a
registered model is a collection of the legacy model registry (``model-registry``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, cast

from ..errors import ArtifactNotLoggedError, ValidationError
from .links import MODEL_REGISTRY, check_link

if TYPE_CHECKING:
    from .artifact import Artifact
    from .run import Run


def _run(mixin: ModelMixin) -> Run:
    """The ``Run`` a mixin method runs on (only ``Run`` mixes this in)."""
    return cast("Run", mixin)


def _check_model_type(artifact: Artifact) -> None:
    if "model" not in artifact.type.lower():
        raise ValidationError(
            f"{artifact.name} is of type {artifact.type!r}: use_model and link_model take model artifacts "
            "(a type holding 'model'); use use_artifact for others"
        )


class ModelMixin:
    """The model verbs of a run."""

    def log_model(
        self, path: str | os.PathLike[str], name: str | None = None, aliases: Iterable[str] | None = None
    ) -> None:
        """Log the file or folder at ``path`` as a ``model`` artifact of this run (named
        ``run-<id>-<basename>`` unless ``name`` is given). Returns None, as W&B does."""
        self._log_model(path, name, aliases, "model")

    def _log_model(
        self, path: str | os.PathLike[str], name: str | None, aliases: Iterable[str] | None, type_: str
    ) -> Artifact:
        run = _run(self)
        if not os.path.exists(path):
            raise ValidationError(f"log_model: {os.fspath(path)!r} does not exist; give a model file or folder")
        base = os.path.basename(os.path.abspath(path))
        return run.log_artifact(path, name=name or f"run-{run.id}-{base}", type=type_, aliases=aliases)

    def use_model(self, name: str) -> str:
        """Use the model artifact ``name`` (``name:alias``, ``name:vN``, ``[project/]...``,
        or a registry's ``wandb-registry-model/<name>:alias``) and download it; returns
        the path of its one file, else of its folder."""
        artifact = _run(self).use_artifact(name)
        _check_model_type(artifact)
        path = artifact.download()
        files = os.listdir(path)
        return os.path.join(path, files[0]) if len(files) == 1 else path

    def link_model(
        self,
        path: str | os.PathLike[str],
        registered_model_name: str,
        name: str | None = None,
        aliases: Iterable[str] | None = None,
    ) -> Artifact:
        """Log the model at ``path`` (a version of ``name``, made or found by its files) and
        link it to the registered model ``registered_model_name`` (a collection of the
        model registry, made on first use); ``aliases`` go to the link. Returns the link."""
        run = _run(self)
        if not isinstance(registered_model_name, str) or "/" in registered_model_name:
            raise ValidationError(
                f"registered_model_name is the name of the registered model only, not {registered_model_name!r}: "
                "no entity or project"
            )
        type_ = "model"
        if name is not None:
            known = run.store.catalog.collection_type(run.project, name)
            if known is not None:
                if "model" not in known.lower():
                    raise ValidationError(
                        f"{run.project}/{name} holds artifacts of type {known!r}, not models: give link_model "
                        "another name"
                    )
                type_ = known
        target = f"{MODEL_REGISTRY}/{registered_model_name}"
        check_link(run.store, type_, target)  # refused: nothing logged
        artifact = self._log_model(path, name, None, type_)
        return self.link_artifact(artifact, target, aliases)

    def link_artifact(self, artifact: Artifact, target_path: str, aliases: Iterable[str] | None = None) -> Artifact:
        """Link ``artifact`` into a registry collection (``wandb-registry-<registry>/<name>``);
        a draft is logged by this run first, as W&B does. Returns the link.

        Raises:
            ArtifactNotLoggedError: a draft upserted into a pending version not finished yet.
            ValidationError: not a registry path, no such registry, a type it refuses.
        """
        run = _run(self)
        if artifact._upserted is not None:
            raise ArtifactNotLoggedError(
                f"{artifact.name!r} was upserted into {artifact._upserted} and is not committed yet: "
                "finish_artifact() it, then link the committed version"
            )
        if artifact.is_draft():
            check_link(run.store, artifact.type, target_path)  # refused: nothing logged
            run.log_artifact(artifact)
        return artifact.link(target_path, aliases)
