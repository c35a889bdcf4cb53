"""The ``tracegrad-model`` file: read it, and check all of it before anything is built.

A model file is untrusted input.  :func:`read_document` parses it and
:func:`check_document` checks every field against the format, so that a
truncated, corrupted, foreign or hostile file raises ``ValueError`` naming the
field (``config.nouts[1]``, ``weights['layers.0.weight'].data[2]``) and
nothing else: no ``KeyError``, ``RecursionError``, ``OverflowError``,
``MemoryError`` or numpy error, and no model is built or changed first.

The limits, part of the format:

* at most :data:`MAX_NUMBERS` (10,000,000) numbers in the weights, and every
  whole number in the config at most that large (a layer size cannot exceed it);
* at most :data:`MAX_DEPTH` (32) levels of nesting in the config;
* array weights are ``float64`` or ``float32``, their data exactly the declared
  shape, every number finite and exactly representable in the declared dtype
  (nothing is rounded on the way in).

``nn.module`` reads these checks; it adds the ones that need the module
classes (the class exists, is public, and its config asks for exactly the
parameters the file holds).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "tracegrad-model"
VERSION = 1
MAX_NUMBERS = 10_000_000
"""The most numbers a model file may hold (and the largest whole number its config may hold)."""
MAX_DEPTH = 32
"""The deepest nesting a model file's config may have."""
DTYPES = ("float64", "float32")
"""The dtypes an array weight may declare."""


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a ``tracegrad-model`` file and check all of it (:func:`check_document`); ValueError says what is wrong."""
    raw = Path(path).read_bytes()
    if not raw.strip():
        raise ValueError(f"{path}: the file is empty")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a tracegrad model file (binary data, not JSON text)") from None
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(raw.rstrip()) - 1 else ""
        raise ValueError(f"{path}: corrupted model file, invalid JSON at byte {exc.pos}{hint}: {exc.msg}") from None
    except RecursionError:
        raise ValueError(f"{path}: corrupted model file, JSON nested too deeply") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise ValueError(f"{path}: corrupted model file: {exc}") from None
    try:
        check_document(doc)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return doc


def check_document(doc: Any) -> None:
    """Check a parsed model file: header, config values, weights, counts.  ``ValueError`` names the field."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise ValueError(f"not a tracegrad model file (format {found!r:.60}, expected {FORMAT!r})")
    if type(doc.get("version")) is not int or doc["version"] != VERSION:
        raise ValueError(f"unsupported {FORMAT} version {doc.get('version')!r:.60} (this tracegrad reads {VERSION})")
    for key, kind in (("class", str), ("config", dict), ("weights", dict)):
        if not isinstance(doc.get(key), kind):
            raise ValueError(f"model file has no valid {key!r} entry")
    check_config(doc["config"], "config")
    stored = sum(_check_weight(f"weights[{name!r}]", w) for name, w in doc["weights"].items())
    n = doc.get("num_parameters", stored)  # optional; when given it must match
    if type(n) is not int or not 0 <= n <= MAX_NUMBERS:
        raise ValueError(f"num_parameters must be a whole number in 0..{MAX_NUMBERS:,}, got {n!r:.60}")
    if stored != n:
        raise ValueError(f"the file says {n} parameters but holds {stored} (damaged file)")


def check_config(value: Any, field: str, depth: int = 0) -> None:
    """A config value: JSON numbers (finite, whole numbers within the limit), strings, lists, dicts."""
    if depth > MAX_DEPTH:
        raise ValueError(f"{field}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            check_config(v, f"{field}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_config(v, f"{field}[{i}]", depth + 1)
    else:
        _check_leaf(value, field)


def _check_leaf(value: Any, field: str) -> None:
    """A config leaf: None, a bool, a string, a finite float, or a whole number within the limit."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{field}: {value!r} is not a finite number")
    if type(value) is int and abs(value) > MAX_NUMBERS:
        raise ValueError(f"{field}: {_big(value)} is over the limit of {MAX_NUMBERS:,}")
    if value is not None and not isinstance(value, (bool, str, int, float)):
        raise ValueError(f"{field}: {type(value).__name__} is not a config value")


def _check_weight(field: str, w: Any) -> int:
    """One weight entry: a finite number, or ``{"shape", "dtype", "data"}``; returns how many numbers it holds."""
    if not isinstance(w, dict):
        _check_number(field, w)
        return 1
    if set(w) - {"shape", "dtype", "data"} or not {"shape", "data"} <= set(w):
        raise ValueError(f"{field}: an array entry has exactly the keys 'shape', 'dtype' and 'data', "
                         f"got {sorted(w)!r:.80}")
    shape = w["shape"]
    if not isinstance(shape, list) or len(shape) > MAX_DEPTH or not all(
            type(d) is int and 0 <= d <= MAX_NUMBERS for d in shape):
        raise ValueError(f"{field}.shape: expected a list of sizes 0..{MAX_NUMBERS:,}, got {shape!r:.60}")
    size = math.prod(shape)
    if size > MAX_NUMBERS:
        raise ValueError(f"{field}.shape: {shape} holds {size:,} numbers, over the limit of {MAX_NUMBERS:,}")
    dtype = w.get("dtype", "float64")
    if dtype not in DTYPES:
        raise ValueError(f"{field}.dtype: expected one of {', '.join(DTYPES)}, got {dtype!r:.60}")
    _check_nested(f"{field}.data", w["data"], shape, np.dtype(dtype))
    return size


def _check_nested(field: str, data: Any, shape: list[int], dtype: np.dtype) -> None:
    """``data`` is nested lists of exactly ``shape``, every leaf a finite number that ``dtype`` holds exactly."""
    if not shape:
        _check_number(field, data)
        if dtype != np.float64 and float(dtype.type(data)) != float(data):
            raise ValueError(f"{field}: {data!r} is not exactly a {dtype.name} (it would be rounded)")
        return
    if not isinstance(data, list) or len(data) != shape[0]:
        got = f"{len(data)} entries" if isinstance(data, list) else type(data).__name__
        raise ValueError(f"{field}: expected a list of {shape[0]} entries (shape {shape}), got {got}")
    for i, item in enumerate(data):
        _check_nested(f"{field}[{i}]", item, shape[1:], dtype)


def _check_number(field: str, x: Any) -> None:
    """A finite JSON number (an int that a float holds, or a float)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise ValueError(f"{field}: expected a number, got {type(x).__name__}: {x!r:.60}")
    if isinstance(x, int) and abs(x) > 2**1023:
        raise ValueError(f"{field}: {_big(x)} is too large for a float")
    if not math.isfinite(x):
        raise ValueError(f"{field}: expected a finite number, got {x!r}")


def stored_count(weights: Mapping[str, Any]) -> int:
    """How many numbers checked weights (:func:`check_document`) hold."""
    return sum(math.prod(w["shape"]) if isinstance(w, dict) else 1 for w in weights.values())


def decode_weights(weights: Mapping[str, Any]) -> dict[str, Any]:
    """Checked weights (:func:`check_document`) as a state dict: floats, and arrays of the declared dtype."""
    out: dict[str, Any] = {}
    for name, w in weights.items():
        if isinstance(w, dict):
            out[name] = np.array(w["data"], dtype=w.get("dtype", "float64")).reshape(w["shape"])
        else:
            out[name] = float(w)
    return out


def _big(n: int) -> str:
    """A whole number for a message, however long (10**400 prints as '1000...000 (401 digits)')."""
    text = str(abs(n)) if abs(n) < 10**30 else f"{str(abs(n))[:4]}...{str(abs(n))[-3:]} ({len(str(abs(n)))} digits)"
    return f"-{text}" if n < 0 else text


__all__ = ["DTYPES", "FORMAT", "MAX_DEPTH", "MAX_NUMBERS", "VERSION", "check_config", "check_document",
           "decode_weights", "read_document", "stored_count"]
