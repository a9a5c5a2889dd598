"""``run.config``: a run's hyperparameters, as W&B's ``wandb.config`` behaves, and the JSON
values a run records (config, summary, history).

A :class:`Config` changes in memory and tells its run (``on_change``); the run writes it
to the catalog later, in one write with others (see ``Run._flush``), so that setting
attributes in a loop costs no transaction each. A value that changes an existing key
needs ``allow_val_change``, as in W&B: else :class:`~quire.errors.ConfigError`, and
nothing in the update is applied.

Values are made JSON as W&B makes them (numpy scalars and arrays, tuples, sets, paths);
a float NaN or infinity, which W&B keeps in summaries and histories but a catalog cannot
hold as JSON (PostgreSQL refuses it), is stored as a small tagged object and read back
as the float (:func:`to_json`, :func:`from_json`).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

from ..core.names import MAX_METADATA_DEPTH
from ..errors import ConfigError, ValidationError

#: the tag of a stored non-finite float: ``{"_quire_float": "nan" | "inf" | "-inf"}``
_FLOAT_TAG = "_quire_float"


def to_json(value: Any, what: str, _depth: int = 0) -> Any:
    """``value`` as JSON a catalog holds (a new object), or ``ValidationError`` naming ``what``."""
    if _depth > MAX_METADATA_DEPTH:
        raise ValidationError(f"{what.split('[')[0]} nests deeper than {MAX_METADATA_DEPTH} levels; flatten it")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {_FLOAT_TAG: repr(value)}
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValidationError(f"{what} has a key {key!r} that is not a string; use string keys")
            out[key] = to_json(item, f"{what}[{key!r}]", _depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [to_json(item, what, _depth + 1) for item in items]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    item = getattr(value, "item", None)  # a numpy scalar (or 0-d array)
    tolist = getattr(value, "tolist", None)  # a numpy array
    ndim: object = getattr(value, "ndim", None)
    if callable(tolist) and ndim:
        return to_json(tolist(), what, _depth)
    if callable(item):
        return to_json(item(), what, _depth)
    raise ValidationError(
        f"{what} is a {type(value).__name__}, which a run cannot record; give numbers, strings, lists or dicts of them"
    )


def from_json(value: Any) -> Any:
    """What :func:`to_json` stored, as it was given (non-finite floats back as floats)."""
    if isinstance(value, dict):
        if len(value) == 1 and _FLOAT_TAG in value:
            return float(value[_FLOAT_TAG])
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value


def as_mapping(config: object, what: str = "config") -> dict[str, Any]:
    """``config`` as a dict: a mapping, an ``argparse.Namespace`` or any object with
    attributes (absl flags, a dataclass, ...), as W&B takes them."""
    if config is None:
        return {}
    if isinstance(config, Mapping):
        return dict(config)
    if isinstance(config, argparse.Namespace):
        return dict(vars(config))
    if isinstance(config, str | bytes | int | float | list | tuple):
        raise ValidationError(
            f"{what} must be a dict, an argparse.Namespace or an object with attributes, not {type(config).__name__}"
        )
    attributes = getattr(config, "__dict__", None)
    if attributes is None:
        raise ValidationError(f"{what} of type {type(config).__name__} has no attributes to take values from")
    return {k: v for k, v in attributes.items() if not k.startswith("_")}


def filtered(
    config: dict[str, Any], include: Iterable[str] | None = None, exclude: Iterable[str] | None = None
) -> dict[str, Any]:
    """``config_include_keys`` / ``config_exclude_keys`` of ``init`` (W&B refuses both at once)."""
    if include and exclude:
        raise ValidationError("give config_include_keys or config_exclude_keys, not both")
    if include:
        keep = set(include)
        return {k: v for k, v in config.items() if k in keep}
    if exclude:
        drop = set(exclude)
        return {k: v for k, v in config.items() if k not in drop}
    return config


class _Values:
    """Keys to values read as items and as attributes (``config.lr``, ``summary["loss"]``);
    ``on_change`` is called before a change (the run flushes what it waits to write)."""

    _items: dict[str, Any]
    _on_change: Callable[[], None] | None
    _missing: str  #: the message for a missing attribute, with ``{key}``

    def __init__(self, items: dict[str, Any] | None = None, on_change: Callable[[], None] | None = None) -> None:
        # around __setattr__: both subclasses turn attribute sets into key sets
        object.__setattr__(self, "_items", dict(items or {}))
        object.__setattr__(self, "_on_change", on_change)

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(self._missing.format(key=key)) from None


class Config(_Values):
    """A run's config: ``config.lr``, ``config["lr"]``, ``update``, ``setdefaults``, ...

    Keys are strings (a leading or trailing ``-`` is dropped, as W&B does, so
    ``--lr`` from a command line is ``lr``); keys starting with ``_`` are kept but not
    listed by ``keys``/``items``.
    """

    _missing = "the run's config has no key {key!r}; set it with config.{key} = ..."

    # -- reading ------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Config):
            return self._items == other._items
        return isinstance(other, Mapping) and self._items == dict(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, as a dict

    def __repr__(self) -> str:
        return repr(self._items)

    def keys(self) -> list[str]:
        """The keys, without those starting with ``_``."""
        return [k for k in self._items if not k.startswith("_")]

    def items(self) -> list[tuple[str, Any]]:
        """The keys and values, without keys starting with ``_``."""
        return [(k, v) for k, v in self._items.items() if not k.startswith("_")]

    def values(self) -> list[Any]:
        """The values of :meth:`keys`."""
        return [v for _, v in self.items()]

    def get(self, key: str, default: Any = None) -> Any:
        """``config[key]``, else ``default``."""
        return self._items.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """A copy as a plain dict."""
        return dict(self._items)

    # -- changing -----------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, d: object, allow_val_change: bool | None = None) -> None:
        """Set the keys of ``d`` (a dict, ``argparse.Namespace`` or object).

        Raises:
            ConfigError: a key holds another value already and not ``allow_val_change``
                (nothing of ``d`` is applied).
            ValidationError: a key or value a run cannot record.
        """
        self._apply(self._checked(as_mapping(d), allow_val_change))

    def setdefaults(self, d: object) -> None:
        """Set the keys of ``d`` that the config does not hold yet."""
        given = self._checked(as_mapping(d), True)
        self._apply({k: v for k, v in given.items() if k not in self._items})

    def _checked(self, given: dict[str, Any], allow_val_change: bool | None) -> dict[str, Any]:
        """``given`` with its keys and values as recorded, every key checked first."""
        out: dict[str, Any] = {}
        for raw, value in given.items():
            if not isinstance(raw, str):
                raise ValidationError(f"config keys must be strings, not {raw!r}")
            key = raw.strip("-")
            if not key:
                raise ValidationError(f"config key {raw!r} is empty once its dashes are dropped")
            value = from_json(to_json(value, f"run config[{key!r}]"))  # as it reads back
            if not allow_val_change and key in self._items and self._items[key] != value:
                raise ConfigError(
                    f'Attempted to change value of key "{key}" from {self._items[key]!r} to '
                    f"{value!r}: nothing was changed. If you really want to do this, pass "
                    "allow_val_change=True to config.update()"
                )
            out[key] = value
        return out

    def _apply(self, changes: dict[str, Any]) -> None:
        if not changes:
            return
        if self._on_change is not None:  # first: it refuses a change of a finished run
            self._on_change()
        self._items.update(changes)

    def _stored(self) -> dict[str, Any]:
        """What the catalog records."""
        stored: dict[str, Any] = to_json(self._items, "config")
        return stored


class Summary(_Values, MutableMapping[str, Any]):
    """A run's summary: the last value of each logged key, and whatever is set in it
    (``summary["best"] = 0.9``, ``summary.best``, ``update``), as W&B's."""

    _missing = "the run's summary has no key {key!r}"

    def __setitem__(self, key: str, value: Any) -> None:
        self._merge({key: value})

    def __setattr__(self, key: str, value: Any) -> None:
        self._merge({key: value})

    def __delitem__(self, key: str) -> None:
        if key not in self._items:
            raise KeyError(key)
        if self._on_change is not None:
            self._on_change()
        del self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return repr(self._items)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set the keys given (a dict, and keyword arguments)."""
        given = dict(*args, **kwargs)
        self._merge(given)

    def _merge(self, given: Mapping[str, Any]) -> None:
        checked = {}
        for key, value in given.items():
            if not isinstance(key, str):
                raise ValidationError(f"summary keys must be strings, not {key!r}")
            checked[key] = from_json(to_json(value, f"summary[{key!r}]"))
        if not checked:
            return
        if self._on_change is not None:
            self._on_change()
        self._items.update(checked)

    def _stored(self) -> dict[str, Any]:
        """What the catalog records."""
        stored: dict[str, Any] = to_json(self._items, "summary")
        return stored
