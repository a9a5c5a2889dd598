"""W&B media types in artifacts and tables: ``Image``, ``Audio``, ``Video``, ``Html``,
``Object3D``, ``Molecule``, ``Histogram``, stored as W&B lays them out, read back, and
refused clearly (nothing written) when they are bad."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

import quire
import quire as wandb
from quire.errors import ArtifactNotLoggedError, MissingExtraError, UnsupportedError, ValidationError
from quire.sdk.media import local_files
from quire.store import open_store
from servers import behind

RNG = np.random.default_rng(12)


def pixels(shape: tuple[int, ...] = (6, 5, 3)) -> np.ndarray:
    return RNG.integers(0, 256, size=shape, dtype=np.uint8)


def log(*items: tuple[object, str], name: str = "media") -> quire.Artifact:
    """Commit a version holding the given media objects; return it as read back."""
    with quire.init(project="p") as run:
        art = quire.Artifact(name, "dataset")
        for obj, path in items:
            art.add(obj, path)
        run.log_artifact(art)
    return quire.Api().artifact(f"p/{name}:latest")


def stored_file(version: quire.Artifact, path: str) -> Path:
    (file,) = local_files(version, [path])
    return file


def stored_json(version: quire.Artifact, path: str) -> dict:
    return json.loads(stored_file(version, path).read_text())


def stored_bytes(version: quire.Artifact, path: str) -> bytes:
    return stored_file(version, path).read_bytes()


def store_state(store_url: str) -> dict[str, list[str]]:
    """Every catalog row (writer leases aside) and every stored blob."""
    store = open_store(behind(store_url))
    with store.catalog.engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        state = {
            t.name: sorted(map(repr, conn.execute(sa.select(t)))) for t in meta.sorted_tables if t.name != "leases"
        }
    state["blobs"] = sorted(info.key for info in store.blobs.objects.list())
    return state


@pytest.fixture
def unchanged(store_url: str):
    """``with unchanged(draft):`` asserts the block leaves the store and the draft as they were."""
    log((quire.Image(pixels()), "seed"), name="seed")

    @contextmanager
    def check(draft: quire.Artifact | None = None) -> Iterator[None]:
        before = store_state(store_url)
        paths = sorted(e.path for e in draft.manifest) if draft is not None else None
        yield
        assert store_state(store_url) == before
        if draft is not None:
            assert sorted(e.path for e in draft.manifest) == paths

    return check


# -- Image: as W&B stores it ----------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_an_image_is_stored_as_wandbs_json_and_a_png_named_by_its_digest() -> None:
    data = pixels()
    version = log((wandb.Image(data, caption="a cat"), "sample"))
    doc = stored_json(version, "sample.image-file.json")
    png = stored_bytes(version, doc["path"])
    digest = hashlib.sha256(png).hexdigest()
    assert doc == {
        "_type": "image-file",
        "path": f"media/images/{digest[:20]}.png",
        "sha256": digest,
        "size": len(png),
        "caption": "a cat",
        "format": "png",
        "width": 5,
        "height": 6,
    }
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(png))), data)


def test_get_returns_the_image_with_its_pixels_read_from_the_artifact() -> None:
    data = pixels((4, 7, 4))
    version = log((quire.Image(data, caption="rgba"), "x"))
    image = version.get("x")
    assert isinstance(image, quire.Image)
    assert (image.caption, image.width, image.height, image.format) == ("rgba", 7, 4, "png")
    assert image.image.mode == "RGBA"
    assert np.array_equal(np.asarray(image.image), data)
    assert Path(image._path).read_bytes() == stored_bytes(version, image.path)
    assert version["x"] == image


@pytest.mark.parametrize(
    ("shape", "mode"),
    [((5, 4), "L"), ((5, 4, 1), "L"), ((1, 5, 4, 3), "RGB"), ((5, 4, 3), "RGB"), ((5, 4, 4), "RGBA")],
)
def test_array_shapes_wandb_accepts(shape: tuple[int, ...], mode: str) -> None:
    data = pixels(shape)
    image = quire.Image(data)
    assert image.image.mode == mode
    assert np.array_equal(np.asarray(image.image), data.squeeze())


def test_float_pixels_are_rescaled_as_wandb_documents() -> None:
    unit = np.array([[0.0, 0.5, 1.0]])
    assert np.asarray(quire.Image(unit).image).tolist() == [[0, 127, 255]]
    signed = np.array([[-1.0, 0.0, 1.0]])
    assert np.asarray(quire.Image(signed).image).tolist() == [[0, 127, 255]]
    in_range = np.array([[0.0, 100.0, 255.0]])
    assert np.asarray(quire.Image(in_range).image).tolist() == [[0, 100, 255]]
    with pytest.warns(UserWarning, match=r"outside \[0, 255\]: clipped"):
        wide = quire.Image(np.array([[-300.0, 10.0, 999.0]]))
    assert np.asarray(wide.image).tolist() == [[0, 10, 255]]
    assert np.asarray(quire.Image(unit, normalize=False).image).tolist() == [[0, 0, 1]]
    assert np.asarray(quire.Image(np.array([[True, False]])).image).tolist() == [[255, 0]]
    # As documented: any values all in [0, 1] are scaled, integers too.
    assert np.asarray(quire.Image(np.array([[0, 1]], dtype=np.uint8)).image).tolist() == [[0, 255]]
    assert np.asarray(quire.Image(np.array([[0, 1]], dtype=np.uint8), normalize=False).image).tolist() == [[0, 1]]


def test_an_image_from_pil_from_a_path_and_from_another_image(tmp_path: Path) -> None:
    data = pixels()
    pil = PILImage.fromarray(data)
    path = tmp_path / "photo.jpg"
    pil.save(path, format="JPEG")
    from_pil = quire.Image(pil)
    from_path = quire.Image(path, caption="file")
    copy = quire.Image(from_path, caption="copy")
    version = log((from_pil, "pil"), (from_path, "path"), (copy, "copy"))
    assert np.array_equal(np.asarray(version.get("pil").image), data)
    # A file is stored as it is: same bytes, same format, no re-encoding.
    read = version.get("path")
    assert (read.format, read.path.endswith(".jpg"), read.caption) == ("jpg", True, "file")
    assert stored_bytes(version, read.path) == path.read_bytes()
    assert version.get("copy").caption == "copy"
    assert version.get("copy").path == read.path


def test_jpeg_file_type_and_the_same_pixels_stored_once() -> None:
    data = pixels()
    version = log((quire.Image(data, file_type="jpg"), "j"), (quire.Image(data), "a"), (quire.Image(data), "b"))
    assert version.get("j").format == "jpg"
    pngs = [e.path for e in version.manifest if e.path.endswith(".png")]
    assert len(pngs) == 1
    assert version.get("a").path == version.get("b").path == pngs[0]


def test_classes_boxes_masks_and_grouping_are_stored_as_wandbs_json() -> None:
    mask = np.zeros((6, 5), dtype=np.uint8)
    mask[2:4, 1:3] = 1
    boxes = {
        "predictions": {
            "box_data": [
                {"position": {"minX": 0.1, "maxX": 0.4, "minY": 0.2, "maxY": 0.6}, "class_id": 1, "scores": {"p": 0.9}}
            ],
            "class_labels": {1: "cat"},
        }
    }
    image = quire.Image(
        pixels(),
        boxes=boxes,
        masks={"truth": {"mask_data": mask, "class_labels": {0: "bg", 1: "cat"}}},
        grouping=3,
    )
    version = log((image, "labelled"))
    doc = stored_json(version, "labelled.image-file.json")
    assert doc["boxes"] == {"predictions": boxes["predictions"]["box_data"]}
    assert doc["grouping"] == 3
    assert stored_json(version, doc["classes"]["path"]) == {"_type": "classes", "class_set": [{"id": 1, "name": "cat"}]}
    truth = doc["masks"]["truth"]
    assert truth["_type"] == "mask" and truth["class_labels"] == {"0": "bg", "1": "cat"}
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(stored_bytes(version, truth["path"])))), mask)
    read = version.get("labelled")
    assert read._class_set == [{"id": 1, "name": "cat"}]
    # Read back and added to another version, every file of it comes along.
    again = log((read, "copy"), name="again")
    assert stored_json(again, "copy.image-file.json") == doc
    assert {e.path for e in again.manifest} == {e.path for e in version.manifest} - {"labelled.image-file.json"} | {
        "copy.image-file.json"
    }


def test_box_and_mask_objects_as_wandb_names_them() -> None:
    val = {"box_data": [{"position": {"middle": [0.5, 0.5], "width": 0.2, "height": 0.2}}], "class_labels": {2: "x"}}
    mask = quire.data_types.ImageMask({"mask_data": np.eye(6, 5, dtype=np.uint8)}, "m")
    image = quire.Image(pixels(), boxes={"b": quire.data_types.BoundingBoxes2D(val, "b")}, masks={"m": mask})
    doc = image.to_json()
    assert doc["boxes"] == {"b": val["box_data"]} and doc["masks"]["m"]["path"].startswith("media/images/mask/")
    assert image._class_set == [{"id": 2, "name": "x"}]


def test_explicit_classes_and_the_classes_object() -> None:
    version = log((quire.Image(pixels(), classes=quire.Classes([{"id": 0, "name": "dog"}])), "x"))
    assert version.get("x")._class_set == [{"id": 0, "name": "dog"}]


# -- Audio, Video, Html, Object3D, Molecule, Histogram --------------------------------


def test_audio_from_samples_is_a_wav_with_the_sample_rate(tmp_path: Path) -> None:
    samples = np.sin(np.linspace(0, 100, 800)).astype(np.float32)
    version = log((quire.Audio(samples, sample_rate=8000, caption="tone"), "tone"))
    doc = stored_json(version, "tone.audio-file.json")
    assert (doc["_type"], doc["sample_rate"], doc["duration"], doc["caption"]) == ("audio-file", 8000, 0.1, "tone")
    assert doc["path"].startswith("media/audio/") and doc["path"].endswith(".wav")
    with wave.open(io.BytesIO(stored_bytes(version, doc["path"]))) as w:
        assert (w.getframerate(), w.getnframes(), w.getnchannels()) == (8000, 800, 1)
        read = np.frombuffer(w.readframes(800), dtype="<i2") / 32767
    assert np.allclose(read, samples, atol=1e-4)
    back = version.get("tone")
    assert (back.sample_rate, back.duration, back.caption) == (8000, 0.1, "tone")
    path = tmp_path / "clip.mp3"
    path.write_bytes(b"ID3 not really an mp3, stored as given")
    assert stored_bytes(log((quire.Audio(path), "clip"), name="a2"), quire.Audio(path).path) == path.read_bytes()


def test_stereo_int16_audio() -> None:
    samples = RNG.integers(-30000, 30000, size=(50, 2)).astype(np.int16)
    audio = quire.Audio(samples, sample_rate=100)
    with wave.open(audio._path) as w:
        assert w.getnchannels() == 2
        assert np.array_equal(np.frombuffer(w.readframes(50), dtype="<i2").reshape(50, 2), samples)


def test_video_from_frames_is_a_gif_and_from_a_path_is_kept(tmp_path: Path) -> None:
    frames = RNG.integers(0, 256, size=(3, 3, 8, 10), dtype=np.uint8)  # time, channel, height, width
    version = log((quire.Video(frames, fps=5, caption="clip"), "clip"))
    doc = stored_json(version, "clip.video-file.json")
    assert (doc["_type"], doc["width"], doc["height"], doc["caption"]) == ("video-file", 10, 8, "clip")
    gif = PILImage.open(io.BytesIO(stored_bytes(version, doc["path"])))
    assert (gif.format, gif.n_frames, gif.info["duration"]) == ("GIF", 3, 200)
    path = tmp_path / "movie.mp4"
    path.write_bytes(b"\x00\x00\x00\x18ftypmp42 fake")
    video = quire.Video(path)
    assert video.path.endswith(".mp4")
    assert stored_bytes(log((video, "m"), name="v2"), video.path) == path.read_bytes()


def test_html_is_stored_with_wandbs_injected_head_unless_told_not_to(tmp_path: Path) -> None:
    page = "<html><body><a href='x'>x</a></body></html>"
    version = log((quire.Html(page), "page"), (quire.Html(page, inject=False), "raw"))
    assert (
        version.get("page").html == "<html><head><base target=\"_blank\"></head><body><a href='x'>x</a></body></html>"
    )
    assert version.get("raw").html == page
    assert stored_json(version, "raw.html-file.json")["path"].startswith("media/html/")
    path = tmp_path / "report.html"
    path.write_text("<p>report</p>")
    assert quire.Html(str(path), inject=False).html == "<p>report</p>"
    assert quire.Html(path).html == '<head><base target="_blank"></head><p>report</p>'
    assert quire.Html(io.StringIO("<b>io</b>"), inject=False).html == "<b>io</b>"


def test_object3d_point_clouds_and_files_and_molecules(tmp_path: Path) -> None:
    points = RNG.random((20, 6))
    obj = tmp_path / "cube.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    pdb = tmp_path / "water.pdb"
    pdb.write_text("ATOM      1  O   HOH A   1       0.000   0.000   0.000\nEND\n")
    version = log((quire.Object3D(points), "cloud"), (quire.Object3D(obj), "cube"), (quire.Molecule(pdb), "water"))
    cloud = stored_json(version, "cloud.object3D-file.json")
    assert cloud["path"].startswith("media/object3D/") and cloud["path"].endswith(".pts.json")
    assert np.allclose(json.loads(stored_bytes(version, cloud["path"])), points)
    assert stored_bytes(version, version.get("cube").path) == obj.read_bytes()
    water = version.get("water")
    assert isinstance(water, quire.Molecule)
    assert stored_json(version, "water.molecule-file.json")["_type"] == "molecule-file"
    assert Path(water._path).read_bytes() == pdb.read_bytes()


def test_wandbs_media_helpers() -> None:
    images = [quire.Image(pixels(), caption="a"), quire.Image(pixels())]
    assert quire.Image.captions(images) == ["a", ""]
    assert quire.Image.captions(images[1:]) is False
    assert quire.Image.get_media_subdir() == "media/images"
    assert quire.Audio.get_media_subdir() == "media/audio"
    assert images[0].path.startswith(quire.Image.get_media_subdir() + "/")
    assert images[0].file_is_set()


def test_histogram_is_wandbs_json_alone() -> None:
    hist = quire.Histogram([1, 1, 2, 3, 3, 3], num_bins=3)
    version = log((hist, "h"), (quire.Histogram(np_histogram=([1, 2], [0.0, 0.5, 1.0])), "given"))
    assert stored_json(version, "h.histogram.json") == {"_type": "histogram", "values": [2, 1, 3], "bins": hist.bins}
    assert version.get("h") == hist
    assert version.get("given").histogram == [1, 2]


def test_media_types_are_in_data_types_and_import_quire_stays_light(python_env: dict[str, str]) -> None:
    for name in ("Image", "Audio", "Video", "Html", "Object3D", "Molecule", "Histogram", "Table"):
        assert getattr(quire.data_types, name) is getattr(quire, name)
    code = "import sys, quire; print(sorted(m for m in ('numpy', 'PIL', 'pyarrow') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], env=python_env, capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_get_of_a_missing_name_is_none() -> None:
    version = log((quire.Image(pixels()), "there"))
    assert version.get("missing") is None
    assert version["missing"] is None
    assert version.get("there") is not None


def test_get_on_a_draft_says_to_log_it_first() -> None:
    art = quire.Artifact("draft", "dataset")
    art.add(quire.Image(pixels()), "x")
    with pytest.raises(ArtifactNotLoggedError, match="log it"):
        art.get("x")


# -- Tables of media ------------------------------------------------------------------


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
def test_a_table_of_images_as_in_wandbs_guide() -> None:
    images = [pixels((4, 4, 3)) for _ in range(3)]
    table = wandb.Table(columns=["img", "label"], data=[[wandb.Image(images[0], caption="zero"), 0]])
    table.add_data(wandb.Image(images[1]), 1)
    table.add_data(None, 2)
    table.add_column("other", [wandb.Image(images[2]), None, wandb.Image(images[0])])
    with wandb.init(project="p") as run:
        art = wandb.Artifact("preds", "predictions")
        art.add(table, "predictions")
        run.log_artifact(art)
    with wandb.init(project="p") as run:
        read = run.use_artifact("preds:latest").get("predictions")
    column = read.get_column("img")
    assert [type(c).__name__ if c else None for c in column] == ["Image", "Image", None]
    assert column[0].caption == "zero"
    assert np.array_equal(np.asarray(column[1].image), images[1])
    rows = list(read.iterrows())
    assert rows[2] == (2, [None, 2, read.data[2][2]])
    assert np.array_equal(np.asarray(rows[2][1][2].image), images[0])
    assert read.get_column("other", convert_to="numpy").dtype == object
    frame = read.get_dataframe()
    assert isinstance(frame["img"][0], quire.Image) and frame["label"].tolist() == [0, 1, 2]
    assert read == table


def test_media_columns_are_typed_in_parquet_and_readable_by_duckdb() -> None:
    image = quire.Image(pixels())
    version = log((quire.Table(columns=["img", "n"], data=[[image, 1], [None, 2]]), "t"))
    path = stored_file(version, "t.table.parquet")
    schema = pq.read_schema(path)
    assert schema.field("img").metadata == {b"quire.media": b"image-file"}
    rows = duckdb.sql(f"select img.path, n from read_parquet('{path}') order by n").fetchall()
    assert rows == [(image.path, 1), (None, 2)]
    assert stored_bytes(version, image.path) == Path(image._path).read_bytes()  # the file is beside the table
    ((meta,),) = duckdb.sql(f"select img.meta from read_parquet('{path}') where n = 1").fetchall()
    assert json.loads(meta) == image.to_json()


def test_a_table_read_back_and_added_again_carries_its_media_files() -> None:
    audio = quire.Audio(np.zeros(10, dtype=np.float32), sample_rate=10)
    first = log((quire.Table(columns=["a"], data=[[audio]]), "t"))
    second = log((first.get("t"), "copy"), name="second")
    (cell,) = second.get("copy").get_column("a")
    assert isinstance(cell, quire.Audio) and cell.sample_rate == 10
    assert stored_bytes(second, cell.path) == stored_bytes(first, audio.path)


def test_a_partitioned_table_of_parts_with_media() -> None:
    images = [pixels((2, 2)) for _ in range(2)]
    with quire.init(project="p") as run:
        art = quire.Artifact("parted", "dataset")
        for i, data in enumerate(images):
            art.add(quire.Table(columns=["i", "img"], data=[[i, quire.Image(data)]]), f"parts/p{i}")
        art.add(quire.PartitionedTable("parts"), "all")
        run.log_artifact(art)
    rows = [row for _, row in quire.Api().artifact("p/parted:latest").get("all").iterrows()]
    assert [r[0] for r in rows] == [0, 1]
    assert all(np.array_equal(np.asarray(r[1].image), d) for r, d in zip(rows, images, strict=True))


def test_computed_columns_index_and_cast() -> None:
    table = quire.Table(columns=["x"], data=[[1], [2], [3]])
    table.add_computed_columns(lambda i, row: {"double": row["x"] * 2, "idx": i})
    assert table.columns == ["x", "double", "idx"]
    assert table.data == [[1, 2, 0], [2, 4, 1], [3, 6, 2]]
    assert table.get_index() == [0, 1, 2]
    table.cast("x", "float64")
    assert table.get_column("x") == [1.0, 2.0, 3.0]
    assert table.to_arrow().schema.field("x").type == "double"
    with pytest.raises(ValidationError, match="row 1 gave columns"):
        table.add_computed_columns(lambda i, row: {"a": 1} if i == 0 else {"b": 2})
    assert table.columns == ["x", "double", "idx"]
    with pytest.raises(ValidationError, match="cannot cast column 'x'"):
        quire.Table(columns=["x"], data=[["a"]]).cast("x", "int64")


# -- bad input: a clear error and nothing written -------------------------------------


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (np.zeros((4, 4, 2), dtype=np.uint8), r"unsupported array shape \[4, 4, 2\]"),
        (np.zeros((2, 3, 4, 5), dtype=np.uint8), r"unsupported array shape \[2, 3, 4, 5\]"),
        (np.zeros((7,), dtype=np.uint8), r"unsupported array shape \[7\]"),
        (np.zeros((0, 4), dtype=np.uint8), r"unsupported array shape \[0, 4\]"),
        (np.zeros((4, 4), dtype=np.complex64), "dtype complex64 are not supported"),
        (np.array([["a", "b"]]), "dtype <U1 are not supported"),
    ],
)
def test_an_image_of_an_unsupported_shape_or_dtype(unchanged, data: np.ndarray, match: str) -> None:
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match=match):
        draft.add(quire.Image(data), "bad")


def test_bad_image_arguments() -> None:
    with pytest.raises(ValidationError, match="file_type must be one of png, jpg, jpeg, bmp"):
        quire.Image(pixels(), file_type="tiff")
    with pytest.raises(ValidationError, match=r"boxes\['p'\] must be a dict with a 'box_data' list"):
        quire.Image(pixels(), boxes={"p": [1, 2]})
    with pytest.raises(ValidationError, match="needs a 'position' dict"):
        quire.Image(pixels(), boxes={"p": {"box_data": [{"class_id": 1}]}})
    with pytest.raises(ValidationError, match="classes must be a list of"):
        quire.Image(pixels(), classes="cat")
    with pytest.raises(ValidationError, match="mask_data'\\] must be a 2-D array of integer class ids"):
        quire.Image(pixels(), masks={"m": {"mask_data": np.zeros((2, 2, 2))}})


def test_an_image_path_that_is_not_an_image(unchanged, tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("not a picture")
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match=r"notes\.png' is not an image Pillow can read"):
        draft.add(quire.Image(path), "bad")


def test_audio_samples_without_a_sample_rate(unchanged) -> None:
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft):
        with pytest.raises(ValidationError, match="sample_rate is required with raw audio data"):
            draft.add(quire.Audio(np.zeros(10)), "bad")
        with pytest.raises(ValidationError, match="sample_rate must be a positive int"):
            quire.Audio(np.zeros(10), sample_rate=-5)
        with pytest.raises(ValidationError, match=r"non-empty 1-D array or samples × channels, got shape \[2, 2, 2\]"):
            quire.Audio(np.zeros((2, 2, 2)), sample_rate=5)


@pytest.mark.parametrize(
    "make",
    [quire.Image, quire.Audio, quire.Video, quire.Object3D, quire.Molecule, lambda p: quire.Html(Path(p))],
    ids=["Image", "Audio", "Video", "Object3D", "Molecule", "Html"],
)
def test_a_media_path_that_does_not_exist(unchanged, tmp_path: Path, make) -> None:
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match=r"missing.bin' does not exist; give the path"):
        draft.add(make(tmp_path / "missing.bin"), "bad")


def test_media_by_reference_are_refused_clearly() -> None:
    with pytest.raises(ValidationError, match=r"media by reference \('s3://bucket/a\.png'\) are not supported"):
        quire.Image("s3://bucket/a.png")
    with pytest.raises(ValidationError, match=r"use artifact\.add_reference"):
        quire.Audio("https://example.com/a.wav")


def test_a_missing_html_path_given_as_a_string_is_not_taken_as_a_page(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"page\.html' does not exist"):
        quire.Html(str(tmp_path / "page.html"))


def test_files_of_unsupported_formats(tmp_path: Path) -> None:
    for name, make, match in [
        ("a.txt", quire.Object3D, "not a supported 3-D file"),
        ("a.xyz", quire.Molecule, "not a supported molecule file"),
        ("a.avi", quire.Video, "is not a gif, mp4, webm, ogg file"),
    ]:
        (tmp_path / name).write_text("x")
        with pytest.raises(ValidationError, match=match):
            make(tmp_path / name)
    with pytest.raises(ValidationError, match=r"encoding frames as mp4 needs a video codec.*format='gif'"):
        quire.Video(np.zeros((2, 3, 4, 4)), format="mp4")
    with pytest.raises(ValidationError, match=r"frames must be numbers of shape \(time, channel"):
        quire.Video(np.zeros((2, 4, 4)))
    with pytest.raises(ValidationError, match=r"shape \(N, 3\), \(N, 4\) or \(N, 6\), got \[5, 2\]"):
        quire.Object3D(np.zeros((5, 2)))
    with pytest.raises(ValidationError, match="from_smiles needs RDKit"):
        quire.Molecule.from_smiles("CCO")


@pytest.mark.parametrize("obj", [{"a": 1}, [1, 2], b"bytes", 3.5], ids=["dict", "list", "bytes", "float"])
def test_add_of_an_object_that_is_not_media(unchanged, obj: object) -> None:
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match=rf"not a {type(obj).__name__}; use add_file"):
        draft.add(obj, "bad")


@pytest.mark.parametrize("kind", ["Plotly", "Graph"])
def test_wandb_types_quire_does_not_store_name_themselves(kind: str) -> None:
    with pytest.raises(UnsupportedError, match=rf"wandb.{kind} is W&B API that Quire does not support: .*add"):
        getattr(wandb, kind)(object())


@pytest.mark.parametrize("name", ["a/../../x", "../up", "/abs", "a/.."])
def test_a_media_name_that_leaves_the_artifact(unchanged, name: str) -> None:
    draft = quire.Artifact("d", "dataset")
    draft.add(quire.Image(pixels()), "kept")
    with unchanged(draft), pytest.raises(ValidationError, match="invalid entry path"):
        draft.add(quire.Image(pixels()), name)


@pytest.mark.usefixtures("store_kind")  # embedded, and PostgreSQL + S3
@pytest.mark.parametrize("name", [None, 5, ""])
def test_a_media_name_that_is_not_a_path(unchanged, name: object) -> None:
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match=r"must be a string|invalid entry path"):
        draft.add(quire.Image(pixels()), name)  # type: ignore[arg-type]


def test_a_name_already_holding_another_object_needs_overwrite(unchanged) -> None:
    draft = quire.Artifact("d", "dataset")
    draft.add(quire.Image(pixels(), caption="first"), "x")
    with unchanged(draft), pytest.raises(ValidationError, match=r"'x\.image-file\.json' already holds other content"):
        draft.add(quire.Image(pixels(), caption="second"), "x")
    draft.add(quire.Image(pixels(), caption="third"), "x", overwrite=True)
    with quire.init(project="p") as run:
        run.log_artifact(draft)
    assert quire.Api().artifact("p/d:latest").get("x").caption == "third"


def test_a_file_changed_after_its_image_was_made(unchanged, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    PILImage.fromarray(pixels()).save(path)
    image = quire.Image(path)
    PILImage.fromarray(pixels()).save(path)
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match="changed after the object was made"):
        draft.add(image, "x")


def test_a_media_column_holds_media_of_one_type_only(unchanged) -> None:
    table = quire.Table(columns=["m"], data=[[quire.Image(pixels())]])
    with pytest.raises(ValidationError, match="column 'm' holds image-file media but got a Audio"):
        table.add_data(quire.Audio(np.zeros(3), sample_rate=3))
    with pytest.raises(ValidationError, match="column 'm' holds image-file media, not 'text'"):
        table.add_data("text")
    with pytest.raises(ValidationError, match="put media in a column of their own"):
        quire.Table(columns=["m"], data=[[1], [quire.Image(pixels())]])
    with pytest.raises(ValidationError, match="put media in a column of their own"):
        quire.Table(columns=["m"], data=[[1], [quire.Image(pixels())]], allow_mixed_types=True)
    assert len(table) == 1
    draft = quire.Artifact("d", "dataset")
    with unchanged(draft), pytest.raises(ValidationError, match="holds image-file media"):
        draft.add(quire.Table(columns=["m"], data=[[quire.Image(pixels())], [{"path": "x", "meta": "{}"}]]), "t")


def test_without_pillow_an_image_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault this environment cannot cause otherwise: Pillow is installed for the tests.
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'quire\[media\]'"):
        quire.Image(pixels())
    with pytest.raises(MissingExtraError, match=r"quire\.Image"):
        quire.Video(np.zeros((2, 3, 4, 4)))
    audio = quire.Audio(np.zeros(4), sample_rate=4)  # WAV needs no Pillow
    assert audio.path.endswith(".wav")


# -- JoinedTable ----------------------------------------------------------------------


def test_a_joined_table_of_two_tables_as_in_wandbs_guide() -> None:
    left = wandb.Table(columns=["id", "img"], data=[[1, wandb.Image(pixels((3, 3)))], [2, None]])
    right = wandb.Table(columns=["id", "label"], data=[[1, "cat"], [2, "dog"], [3, "cow"]])
    with wandb.init(project="p") as run:
        art = wandb.Artifact("joined", "dataset")
        art.add(right, "labels")
        art.add(wandb.JoinedTable(left, "labels", "id"), "both")
        run.log_artifact(art)
    version = quire.Api().artifact("p/joined:latest")
    doc = stored_json(version, "both.joined-table.json")
    assert (doc["_type"], doc["table2"], doc["join_key"]) == ("joined-table", "labels.table.parquet", "id")
    assert doc["table1"].startswith("media/tables/t1_") and doc["table1"].endswith(".table.parquet")
    joined = version.get("both")
    assert joined.table1 == left and joined.table2 == right
    both = joined.joined()
    assert both.columns == ["id", "img", "label"]
    assert both.get_column("label") == ["cat", "dog"]
    assert both.get_column("img")[0] == left.get_column("img")[0]
    assert isinstance(joined.table1.get_column("img")[0], quire.Image)


def test_a_joined_table_naming_a_table_the_artifact_lacks(unchanged) -> None:
    draft = quire.Artifact("d", "dataset")
    table = quire.Table(columns=["id"], data=[[1]])
    with (
        unchanged(draft),
        pytest.raises(ValidationError, match=r"points at 'nope\.table\.parquet', which 'd' does not"),
    ):
        draft.add(quire.JoinedTable(table, "nope", "id"), "j")
    with pytest.raises(ValidationError, match="a table has no column 'key'"):
        quire.JoinedTable(table, table, "key")
    with pytest.raises(ValidationError, match="joins Tables or the names of tables"):
        quire.JoinedTable(table, 5, "id")  # type: ignore[arg-type]


def test_a_column_declared_as_media_takes_only_that_media() -> None:
    table = quire.Table(columns=["img", "n"], dtype=[quire.Image, int])
    table.add_data(None, 1)
    with pytest.raises(ValidationError, match="holds image-file media but got a Audio"):
        table.add_data(quire.Audio(np.zeros(2), sample_rate=2), 2)
    with pytest.raises(ValidationError, match="holds image-file media, not 3"):
        table.add_data(3, 2)
    table.add_data(quire.Image(pixels()), 2)
    assert table.to_arrow().schema.field("img").metadata == {b"quire.media": b"image-file"}
    later = quire.Table(columns=["a", "b"], data=[[None, 1]])
    later.cast("a", quire.Audio)
    with pytest.raises(ValidationError, match="holds audio-file media but got a Image"):
        later.add_data(quire.Image(pixels()), 2)
    with pytest.raises(ValidationError, match="column 'b' holds int64, not Image media"):
        later.cast("b", quire.Image)
