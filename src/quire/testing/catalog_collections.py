"""Part of the shipped catalog suite (mixed into :class:`quire.testing.CatalogTests`):
Collections beyond commits: read one, rename, describe, tag, retype, default TTL, delete."""

from __future__ import annotations

import pytest

from ..errors import ArtifactNotFoundError, CollectionTypeError, ValidationError
from ..store.catalog import Catalog, VersionRecord
from . import catalog as suite  # the helpers (imported while it imports this module: read at run time)


def _links_or_skip(catalog: Catalog, source: VersionRecord) -> None:
    """Link ``source`` into ``wandb-registry-model/best``, or skip where the backend has no links yet."""
    try:
        if "wandb-registry-model" not in catalog.projects():
            catalog.create_project("wandb-registry-model")
        catalog.link(source.id, "wandb-registry-model", "best", [])
    except NotImplementedError:
        pytest.skip("this backend does not link versions yet")


class CollectionCatalogTests:
    """Tests that take the fixtures of :class:`quire.testing.CatalogTests` (``catalog``,
    ``open_catalog``, ``backdoor``)."""

    def test_one_collection_reads_as_the_listing_shows_it(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a")
        suite.commit(catalog, "b")
        one = catalog.collection("p", "c")
        assert (one.project, one.name, one.type, one.version_count) == ("p", "c", "dataset", 2)
        assert one.id and isinstance(one.id, str)
        assert (one.tags, one.ttl, one.description) == ([], "never", None)
        assert catalog.collections("p") == [one]

    def test_a_missing_collection_is_not_found_and_names_the_others(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a", name="there")
        with pytest.raises(ArtifactNotFoundError, match="there"):
            catalog.collection("p", "missing")
        with pytest.raises(ArtifactNotFoundError):
            catalog.collection("nowhere", "c")
        for change in ({"description": "d"}, {"new_name": "x"}, {"tags": ["t"]}, {"type_": "model"}, {"ttl": 5}):
            with pytest.raises(ArtifactNotFoundError):
                catalog.update_collection("p", "missing", **change)
        with pytest.raises(ArtifactNotFoundError):
            catalog.delete_collection("p", "missing")
        assert [c.name for c in catalog.collections("p")] == ["there"]
        assert catalog.projects() == ["p"]

    def test_ids_differ_between_collections(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a", name="x")
        suite.commit(catalog, "a", name="y")
        suite.commit(catalog, "a", project="q", name="x")
        ids = {catalog.collection(p, n).id for p, n in (("p", "x"), ("p", "y"), ("q", "x"))}
        assert len(ids) == 3

    def test_a_rename_keeps_versions_aliases_and_id(self, catalog: Catalog) -> None:
        v0 = suite.commit(catalog, "a", aliases=("best",), tags=("gold",)).version
        v1 = suite.commit(catalog, "b").version
        before = catalog.collection("p", "c")
        after = catalog.update_collection("p", "c", new_name="renamed")
        assert (after.name, after.id, after.version_count, after.type) == ("renamed", before.id, 2, "dataset")
        assert suite.summary(catalog, name="renamed") == {"v0": ["best"], "v1": ["latest"]}
        assert catalog.version("p", "renamed", "best").id == v0.id
        assert catalog.version_by_id(v1.id).collection == "renamed"
        assert catalog.version_by_id(v0.id).tags == ["gold"]
        with pytest.raises(ArtifactNotFoundError):
            catalog.collection("p", "c")
        assert [c.name for c in catalog.collections("p")] == ["renamed"]
        # numbering goes on where it was; the old name is free for a new collection
        assert suite.commit(catalog, "c", name="renamed").version.version == "v2"
        assert suite.commit(catalog, "z").version.version == "v0"

    def test_a_rename_to_a_taken_name_is_refused_and_changes_nothing(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a", name="x", aliases=("best",))
        suite.commit(catalog, "b", name="y")
        with pytest.raises(ValidationError, match="y"):
            catalog.update_collection("p", "x", new_name="y", description="lost")
        assert suite.summary(catalog, name="x") == {"v0": ["best", "latest"]}
        assert suite.summary(catalog, name="y") == {"v0": ["latest"]}
        assert catalog.collection("p", "x").description is None

    def test_renaming_to_its_own_name_changes_nothing(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a")
        same = catalog.update_collection("p", "c", new_name="c")
        assert (same.name, same.version_count) == ("c", 1)

    def test_a_rename_carries_its_pending_versions(self, catalog: Catalog) -> None:
        pending = suite.contribute(catalog, suite.contribution("part")).pending_id
        catalog.update_collection("p", "c", new_name="moved")
        record = catalog.pending(pending)
        assert (record.project, record.collection) == ("p", "moved")
        assert catalog.find_pending("p", "moved", "g") is not None

    def test_description_tags_and_default_ttl_are_replaced(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a")
        one = catalog.update_collection("p", "c", description="the data", tags=["b", "a", "b"], ttl=3600)
        assert (one.description, one.tags, one.ttl) == ("the data", ["a", "b"], 3600)
        assert catalog.collections("p")[0] == one
        two = catalog.update_collection("p", "c", tags=["c d"])
        assert (two.description, two.tags, two.ttl) == ("the data", ["c d"], 3600)  # others unchanged
        three = catalog.update_collection("p", "c", description="", tags=[], ttl="never")
        assert (three.description, three.tags, three.ttl) == (None, [], "never")

    def test_collection_tags_are_not_version_tags(self, catalog: Catalog) -> None:
        v0 = suite.commit(catalog, "a", tags=("version-tag",)).version
        catalog.update_collection("p", "c", tags=["collection-tag"])
        assert catalog.version_by_id(v0.id).tags == ["version-tag"]

    def test_a_retype_changes_the_collection_and_its_versions(self, catalog: Catalog) -> None:
        v0 = suite.commit(catalog, "a").version
        one = catalog.update_collection("p", "c", type_="model")
        assert one.type == "model"
        assert catalog.version_by_id(v0.id).type == "model"
        assert [c.name for c in catalog.collections("p", "model")] == ["c"]
        assert catalog.collections("p", "dataset") == []
        with pytest.raises(CollectionTypeError):
            suite.commit(catalog, "b")  # the old type
        assert suite.commit(catalog, "b", type_="model").version.version == "v1"

    def test_the_type_of_a_collection_of_links_is_kept(self, catalog: Catalog) -> None:
        source = suite.commit(catalog, "a", type_="model").version
        _links_or_skip(catalog, source)
        with pytest.raises(ValidationError, match="link"):
            catalog.update_collection("wandb-registry-model", "best", type_="dataset")
        assert catalog.collection("wandb-registry-model", "best").type == "model"

    def test_a_delete_takes_versions_aliases_tags_edges_and_pending_versions(self, catalog: Catalog) -> None:
        catalog.create_run(suite.run_record("r1"))
        v0 = suite.commit(catalog, "a", aliases=("best",), tags=("t",), run_ids=("r1",)).version
        v1 = suite.commit(catalog, "b").version
        catalog.use_version("r1", v1.id)
        kept = suite.commit(catalog, "k", name="other", run_ids=("r1",)).version
        catalog.update_collection("p", "c", tags=["x"], description="d")
        suite.contribute(catalog, suite.contribution("part"))
        catalog.delete_collection("p", "c")
        with pytest.raises(ArtifactNotFoundError):
            catalog.collection("p", "c")
        for vid in (v0.id, v1.id):
            assert not catalog.version_exists(vid)
        assert [c.name for c in catalog.collections("p")] == ["other"]
        assert catalog.pending_versions(state=None) == []
        assert [v.id for v in catalog.versions_of("r1", "output")] == [kept.id]
        assert catalog.versions_of("r1", "input") == []
        assert catalog.run("r1").id == "r1"  # the run stays
        assert v0.root not in catalog.roots() and v1.root not in catalog.roots()
        assert kept.root in catalog.roots()
        # the name is free: a new collection with none of the old one's state
        fresh = suite.commit(catalog, "z", name="c")
        assert fresh.version.version == "v0" and fresh.created
        again = catalog.collection("p", "c")
        assert (again.tags, again.description, again.version_count) == ([], None, 1)

    def test_deleting_twice_is_not_found(self, catalog: Catalog) -> None:
        suite.commit(catalog, "a")
        catalog.delete_collection("p", "c")
        with pytest.raises(ArtifactNotFoundError):
            catalog.delete_collection("p", "c")
        with pytest.raises(ArtifactNotFoundError):
            catalog.update_collection("p", "c", description="too late")

    def test_a_collection_that_links_point_at_is_not_deleted(self, catalog: Catalog) -> None:
        source = suite.commit(catalog, "a", type_="model", name="net").version
        _links_or_skip(catalog, source)
        with pytest.raises(ValidationError, match="wandb-registry-model/best:v0"):
            catalog.delete_collection("p", "net")
        assert catalog.version_exists(source.id)
        assert catalog.collection("p", "net").version_count == 1
        # the registry collection itself (links only) may go; then so may the source
        catalog.delete_collection("wandb-registry-model", "best")
        assert catalog.version_exists(source.id)
        catalog.delete_collection("p", "net")
        assert not catalog.version_exists(source.id)
