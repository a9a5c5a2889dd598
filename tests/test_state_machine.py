"""Random log / alias / delete / download sequences against a plain-dict model.

The model knows nothing of Quire's code: a version is the dict of files it was logged
with, dedup is equality of those dicts, and the rules for ``vN`` and aliases are written
out here from the design (DESIGN §4): numbers count up and are never reused, ``latest``
follows the newest version, an alias names one version of the collection.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import quire
from quire.errors import ArtifactNotFoundError, ValidationError
from support import files_of, write_tree

pytestmark = pytest.mark.slow  # forty examples of twenty steps: seconds of work

PATHS = ["a.txt", "b.txt", "d/c.txt", "d/e/f.bin"]
CONTENTS = [b"", b"x", b"xy", b"same words", b"\x00\xff" * 50]
ALIASES = ["best", "prod", "candidate"]

# The machine checks logic, not durability: on tmpfs an fsync costs nothing, so the same
# time buys many more steps.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

file_sets = st.dictionaries(st.sampled_from(PATHS), st.sampled_from(CONTENTS), min_size=1, max_size=4)


class ArtifactMachine(RuleBasedStateMachine):
    """One collection, ``p/coll``, in a store of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="quire-machine-", dir=SCRATCH))
        store = self.dir / "store"
        self.run = quire.init(project="p", store=store)
        self.api = quire.Api(store=store)
        self.steps = 0
        # The model.
        self.versions: dict[int, dict[str, bytes]] = {}  # index -> files
        self.aliases: dict[str, int] = {}  # alias (with "latest") -> index
        self.next_index = 0

    def teardown(self) -> None:
        self.run.finish()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _fresh(self, what: str) -> Path:
        self.steps += 1
        return self.dir / f"{what}-{self.steps}"

    def _holding(self, index: int) -> set[str]:
        return {alias for alias, i in self.aliases.items() if i == index}

    # -- rules ------------------------------------------------------------------------

    # unique: a repeated alias is kept once with a warning (tests/test_names_wandb.py)
    @rule(files=file_sets, aliases=st.lists(st.sampled_from(ALIASES), max_size=2, unique=True))
    def log(self, files: dict[str, bytes], aliases: list[str]) -> None:
        art = quire.Artifact("coll", "dataset")
        art.add_dir(write_tree(self._fresh("src"), files))
        got = self.run.log_artifact(art, aliases=aliases)

        same = [i for i, held in self.versions.items() if held == files]
        if same:
            index = same[0]
        else:
            index = self.next_index
            self.next_index += 1
            self.versions[index] = dict(files)
        self.aliases["latest"] = index  # a commit moves latest where it lands, new or equal
        for alias in aliases:
            self.aliases[alias] = index
        assert got.version == f"v{index}"
        assert sorted(got.aliases) == sorted(self._holding(index))

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), alias=st.sampled_from(ALIASES))
    def set_alias(self, data: st.DataObject, alias: str) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)), label="version")
        art = self.api.artifact(f"p/coll:v{index}")
        if alias not in art.aliases:
            art.aliases.append(alias)
        art.save()
        self.aliases[alias] = index

    @precondition(lambda self: any(a != "latest" for a in self.aliases))
    @rule(data=st.data())
    def remove_alias(self, data: st.DataObject) -> None:
        alias = data.draw(st.sampled_from(sorted(a for a in self.aliases if a != "latest")), label="alias")
        art = self.api.artifact(f"p/coll:{alias}")
        art.aliases.remove(alias)
        art.save()
        del self.aliases[alias]

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), delete_aliases=st.booleans())
    def delete(self, data: st.DataObject, delete_aliases: bool) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)), label="version")
        art = self.api.artifact(f"p/coll:v{index}")
        held = self._holding(index)
        if held - {"latest"} and not delete_aliases:
            with pytest.raises(ValidationError, match="delete_aliases"):
                art.delete()
            return
        art.delete(delete_aliases=delete_aliases)
        del self.versions[index]
        for alias in held:
            del self.aliases[alias]
        if "latest" in held and self.versions:
            self.aliases["latest"] = max(self.versions)

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), checkout=st.booleans())
    def download(self, data: st.DataObject, checkout: bool) -> None:
        names = sorted([f"v{i}" for i in self.versions] + list(self.aliases))
        name = data.draw(st.sampled_from(names), label="name")
        index = int(name[1:]) if name[0] == "v" and name[1:].isdigit() else self.aliases[name]
        art = self.api.artifact(f"p/coll:{name}")
        # A checkout reuses one folder: it must end up holding exactly this version.
        root = art.checkout(self.dir / "checkout") if checkout else art.download(self._fresh("download"))
        assert files_of(root) == self.versions[index]

    @rule(index=st.integers(min_value=0, max_value=12), alias=st.sampled_from(ALIASES))
    def use_missing(self, index: int, alias: str) -> None:
        if index not in self.versions and self.next_index:
            with pytest.raises(ArtifactNotFoundError):
                self.api.artifact(f"p/coll:v{index}")
        if alias not in self.aliases and self.next_index:
            with pytest.raises(ArtifactNotFoundError):
                self.api.artifact(f"p/coll:{alias}")

    # -- what must always hold --------------------------------------------------------

    @invariant()
    def catalog_matches_the_model(self) -> None:
        if not self.next_index:
            assert not self.api.artifact_exists("p/coll")
            return
        got = {a.version: sorted(a.aliases) for a in self.api.artifact_versions("dataset", "p/coll")}
        assert got == {f"v{i}": sorted(self._holding(i)) for i in sorted(self.versions)}


ArtifactMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=20,
    deadline=None,
    # "explain" re-runs a failure many times to annotate it: minutes, on this store.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestArtifactMachine = ArtifactMachine.TestCase
