"""``Audio`` (WAV from samples, with the standard library) and ``Video`` (GIF from frames, with Pillow)."""

from __future__ import annotations

import io
import os
import wave
from typing import Any

from ...errors import ValidationError
from .base import Media, extension, numpy_of, pillow, source_path, tmp_file


class Audio(Media):
    """Sound: a path to an audio file, or samples (a 1-D array, or samples × channels) with
    ``sample_rate``, written as 16-bit WAV (floats are taken in [-1, 1])."""

    _log_type = "audio-file"
    _subdir = "audio"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        super().__init__(caption)
        self._sample_rate = sample_rate
        self._duration: float | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            self._set_file(source_path(data_or_path, "quire.Audio"))
            return
        if sample_rate is None:
            raise ValidationError("quire.Audio: sample_rate is required with raw audio data, e.g. sample_rate=16000")
        if not isinstance(sample_rate, int) or isinstance(sample_rate, bool) or sample_rate <= 0:
            raise ValidationError(f"quire.Audio: sample_rate must be a positive int, not {sample_rate!r}")
        self._set_file(tmp_file("wav", _wav(numpy_of(data_or_path), sample_rate)), "wav")
        self._duration = numpy_of(data_or_path).shape[0] / sample_rate

    @property
    def sample_rate(self) -> int | None:
        return self._sample_rate

    @property
    def duration(self) -> float | None:
        return self._duration

    def _fields(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self._sample_rate is not None:
            doc["sample_rate"] = self._sample_rate
        if self._duration is not None:
            doc["duration"] = self._duration
        return doc

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._sample_rate, self._duration = doc.get("sample_rate"), doc.get("duration")


def _wav(samples: Any, rate: int) -> bytes:
    import numpy as np

    if samples.ndim not in (1, 2) or samples.size == 0:
        raise ValidationError(
            f"quire.Audio: samples must be a non-empty 1-D array or samples × channels, got shape {list(samples.shape)}"
        )
    if samples.dtype.kind == "f":
        pcm = (np.clip(np.nan_to_num(samples), -1, 1) * 32767).astype("<i2")
    elif samples.dtype == np.int16:
        pcm = samples.astype("<i2")
    elif samples.dtype.kind == "i":
        pcm = (samples >> (8 * samples.dtype.itemsize - 16)).astype("<i2")
    else:
        raise ValidationError(f"quire.Audio: samples of dtype {samples.dtype} are not supported; give floats or ints")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


_VIDEO_FORMATS = ("gif", "mp4", "webm", "ogg")


class Video(Media):
    """A video: a path (gif, mp4, webm, ogg), or frames (time, channel, height, width), or
    a batch of them, encoded as a GIF with Pillow at ``fps`` (default 4, as W&B)."""

    _log_type = "video-file"
    _subdir = "videos"

    def __init__(
        self, data_or_path: Any, caption: str | None = None, fps: int | None = None, format: str | None = None
    ) -> None:
        super().__init__(caption)
        self._width: int | None = None
        self._height: int | None = None
        if isinstance(data_or_path, (str, os.PathLike)):
            path = source_path(data_or_path, "quire.Video")
            if extension(path) not in _VIDEO_FORMATS:
                raise ValidationError(f"quire.Video: {path.name!r} is not a {', '.join(_VIDEO_FORMATS)} file")
            self._set_file(path)
            return
        fmt = format or "gif"
        if fmt != "gif":
            raise ValidationError(
                f"quire.Video: encoding frames as {fmt} needs a video codec library Quire does not install; "
                "pass format='gif', or encode the video yourself and give its path"
            )
        frames = _video_frames(numpy_of(data_or_path))
        self._height, self._width = frames.shape[1], frames.shape[2]
        pil = pillow()
        images = [pil.fromarray(f[:, :, 0] if f.shape[2] == 1 else f) for f in frames]
        buf = io.BytesIO()
        duration = int(1000 / (fps or 4))
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0)
        self._set_file(tmp_file("gif", buf.getvalue()), "gif")

    def _fields(self) -> dict[str, Any]:
        return {k: v for k, v in (("width", self._width), ("height", self._height)) if v is not None}

    def _load_fields(self, doc: dict[str, Any]) -> None:
        self._width, self._height = doc.get("width"), doc.get("height")


def _video_frames(video: Any) -> Any:
    """Frames (T, H, W, C) as uint8 from W&B's (T, C, H, W) or (B, T, C, H, W), batches
    tiled side by side."""
    import numpy as np

    if video.ndim == 4:
        video = video[None]
    if video.ndim != 5 or video.shape[2] not in (1, 3, 4) or 0 in video.shape or video.dtype.kind not in "biuf":
        raise ValidationError(
            f"quire.Video: frames must be numbers of shape (time, channel, height, width) or "
            f"(batch, time, channel, height, width) with 1, 3 or 4 channels, got {list(video.shape)} of {video.dtype}"
        )
    b, t, c, h, w = video.shape
    tiled = video.transpose(1, 3, 0, 4, 2).reshape(t, h, b * w, c)
    return np.clip(tiled, 0, 255).astype(np.uint8)
