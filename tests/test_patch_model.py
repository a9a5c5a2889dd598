"""Patch mode and gc against a plain-dict model: random logs, patches, incremental
commits, deletions and gc (grace 0) on the real store; every version left must hold
exactly what the model says, byte for byte."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

import quire
from quire.core.gc import collect_garbage
from quire.store import open_store

PATHS = st.sampled_from([f"{folder}/{name}" for folder in ("a", "b", "c/d") for name in ("x.txt", "y.bin")])


class Content(bytes):
    """Bytes with a short repr, so Hypothesis can print a failing run."""

    def __repr__(self) -> str:
        return f"<{len(self)} bytes {bytes(self[:8])!r}>"


BLOBS = [b"", b"one\n", b"two\n", b"three" * 300, b"L" * ((1 << 20) + 3)]  # the last one: a large blob
CONTENT = st.sampled_from([Content(b) for b in BLOBS])


class PatchMachine(RuleBasedStateMachine):
    """The model: version index → {path: bytes}; the collection's latest index."""

    @initialize()
    def open(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="quire-model-"))
        self.store = str(self.tmp / "store")
        self.versions: dict[int, dict[str, bytes]] = {}
        self.latest: int | None = None
        self.n = 0

    def teardown(self) -> None:
        quire.finish()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _file(self, data: bytes) -> Path:
        self.n += 1
        path = self.tmp / f"in{self.n}"
        path.write_bytes(bytes(data))
        return path

    def _commit(self, artifact: quire.Artifact, files: dict[str, bytes]) -> None:
        with quire.init(project="m", store=self.store) as run:
            run.log_artifact(artifact)
        index = int(artifact.version[1:])
        if index not in self.versions:  # a new version, not an equal older one
            self.versions[index] = files
        self.latest = index  # a commit moves latest where it lands, new or equal

    @rule(files=st.dictionaries(PATHS, CONTENT, min_size=1, max_size=4))
    def log(self, files: dict[str, bytes]) -> None:
        artifact = quire.Artifact("ds", "dataset")
        for path, data in files.items():
            artifact.add_file(self._file(data), path)
        self._commit(artifact, dict(files))

    @precondition(lambda self: self.versions)
    @rule(data=st.data(), put=st.dictionaries(PATHS, CONTENT, max_size=3), drop=st.lists(PATHS, max_size=2))
    def patch(self, data: st.DataObject, put: dict[str, bytes], drop: list[str]) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)))
        files = dict(self.versions[index])
        draft = quire.Api(store=self.store, overrides={"project": "m"}).artifact(f"ds:v{index}").new_draft()
        for path in drop:
            if path in files:
                draft.remove(path)
                del files[path]
        for path, content in put.items():
            draft.add_file(self._file(content), path, overwrite=True)
            files[path] = content
        self._commit(draft, files)

    @precondition(lambda self: self.latest is not None)
    @rule(put=st.dictionaries(PATHS, CONTENT, max_size=2), drop=st.sampled_from(["a", "c", "b/x.txt", None]))
    def incremental(self, put: dict[str, bytes], drop: str | None) -> None:
        files = dict(self.versions[self.latest])
        artifact = quire.Artifact("ds", "dataset", incremental=True)
        if drop is not None:
            artifact.remove(drop)
            files = {p: d for p, d in files.items() if p != drop and not p.startswith(drop + "/")}
        for path, content in put.items():
            artifact.add_file(self._file(content), path)
            files[path] = content
        self._commit(artifact, files)

    @precondition(lambda self: len(self.versions) > 1)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        index = data.draw(st.sampled_from(sorted(self.versions)))
        artifact = quire.Api(store=self.store, overrides={"project": "m"}).artifact(f"ds:v{index}")
        artifact.delete(delete_aliases=True)
        del self.versions[index]
        if index == self.latest:
            self.latest = max(self.versions)

    @rule()
    def gc(self) -> None:
        collect_garbage(open_store(self.store), grace=0)

    @invariant()
    def every_version_holds_what_the_model_says(self) -> None:
        if not self.versions:
            return
        api = quire.Api(store=self.store, overrides={"project": "m"})
        assert api.artifact("ds:latest").version == f"v{self.latest}"
        for index, files in self.versions.items():
            artifact = api.artifact(f"ds:v{index}")
            root = Path(artifact.download(self.tmp / f"out{self.n}-{index}", skip_cache=True))
            got = {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}
            assert got == files, index
            assert artifact.file_count == len(files)
            assert artifact.size == sum(len(d) for d in files.values())


PatchMachine.TestCase.settings = settings(max_examples=8, stateful_step_count=8, deadline=None)
test_patch_model = pytest.mark.slow(PatchMachine.TestCase)
