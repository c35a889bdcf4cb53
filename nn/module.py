"""``Module``: the base of every network, scalar or tensor.

A module finds its parameters and submodules through its attributes (and
lists/tuples of them), so names are stable and readable::

    layers.0.neurons.3.w.1      # MLP -> Layer 0 -> Neuron 3 -> weight 1 (a Value)
    layers.0.weight             # a tensor-path parameter (one array)

A *parameter* is any non-module object with ``.data`` and ``.grad``: a scalar
``engine.Value`` (``.data`` a float) or a tensor (``.data`` a numpy array).

Saving writes architecture + weights as one JSON document (the
``tracegrad-model`` format, see :func:`Module.save`), atomically.  Loading
rebuilds the module through a registry of module classes by name, so any
subclass that reports its constructor arguments in :meth:`Module.config`
can be saved and loaded.

A model converts itself to another form (``mlp.to_sequential()``,
``seq.to_mlp()``, ``seq.to_torch()``) through the functions of ``nn.convert``,
which builds both kinds of model and so sits above them: convert registers its
functions here (:func:`register_conversion`) when ``nn`` is imported, and a
model's method looks its function up by name (:func:`conversion`) instead of
importing the module above it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import math
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .model_file import FORMAT, VERSION, decode_weights, read_document, stored_count

M = TypeVar("M", bound="Module")
F = TypeVar("F", bound=Callable[..., Any])

_REGISTRY: dict[str, type[Module]] = {}  # "module.QualName" -> class, every Module subclass
_BUILTINS: dict[str, type[Module]] = {}  # "MLP" -> class: the public classes of tracegrad.nn, first definition kept
_PACKAGE = __name__.rpartition(".")[0] + "."  # "tracegrad.nn."
_CONVERSIONS: dict[str, Callable[..., Any]] = {}


def register_conversion(fn: F) -> F:
    """Make ``fn`` (a function of ``nn.convert``) the conversion named ``fn.__name__``."""
    _CONVERSIONS[fn.__name__] = fn
    return fn


def conversion(name: str) -> Callable[..., Any]:
    """The conversion ``nn.convert`` registered as ``name`` (e.g. ``"mlp_to_sequential"``)."""
    try:
        return _CONVERSIONS[name]
    except KeyError:
        raise RuntimeError(f"no conversion {name!r}: it is registered when tracegrad.nn is imported") from None


def class_name(cls: type[Module]) -> str:
    """The name a file stores for ``cls``: the bare name of a built-in (``"MLP"``), else ``module.qualname``.

    A user's class therefore never takes a built-in's name: ``__main__.Linear`` is not ``Linear``.
    """
    return cls.__name__ if _is_builtin(cls) else f"{cls.__module__}.{cls.__qualname__}"


def _is_builtin(cls: type) -> bool:
    return cls.__module__.startswith(_PACKAGE) and _BUILTINS.get(cls.__name__) is cls


def _is_private(cls: type) -> bool:
    return any(part.startswith("_") for part in cls.__qualname__.split(".") if part != "<locals>")


def _register(cls: type[Module]) -> None:
    """Record ``cls`` under its qualified name; a class of ``tracegrad.nn`` also under its bare name, once."""
    _REGISTRY[f"{cls.__module__}.{cls.__qualname__}"] = cls
    if cls.__module__.startswith(_PACKAGE) and not _is_private(cls):
        _BUILTINS.setdefault(cls.__name__, cls)


def registered(name: str) -> type[Module]:
    """The module class saved under ``name``: a built-in's bare name or ``module.qualname`` (``ValueError`` if unknown).

    Built-ins are looked up first, so no class defined later can stand in for one; private
    classes (a name starting with ``_``) are refused.
    """
    if not isinstance(name, str):
        raise ValueError(f"a module class name must be a string, got {type(name).__name__}")
    klass = _BUILTINS.get(name) or _REGISTRY.get(name)
    if klass is None:
        known = ", ".join(sorted(_BUILTINS)) or "none"
        raise ValueError(f"unknown module class {name!r:.80} (built-in: {known}; a class of yours is saved as "
                         "'module.QualName' and must be defined before loading)")
    if _is_private(klass):
        raise ValueError(f"module class {name!r} is private (its name starts with '_') and cannot be loaded")
    return klass


def clear_grads(params: Iterable[Any]) -> None:
    """Forget gradients: ``p.grad = None`` for an array gradient (a tensor), ``0.0`` for a scalar Value.

    A ``None`` gradient stays ``None``.  Used by ``Module.zero_grad`` and ``Optimizer.zero_grad``.
    """
    for p in params:
        g = p.grad
        if isinstance(g, np.ndarray):
            p.grad = None
        elif g is not None:
            p.grad = 0.0


def is_parameter(obj: Any) -> bool:
    """A parameter is any non-module object with ``.data`` and ``.grad``."""
    return not isinstance(obj, Module) and hasattr(obj, "grad") and hasattr(obj, "data")


class Module:
    """Base class: parameters, names, state dicts, save/load, and a readable repr.

    Subclasses set parameters and submodules as attributes (or lists of them)
    and implement :meth:`config` (their constructor arguments, plain JSON
    values or modules) so :meth:`save` / :meth:`load` can rebuild them.
    Attributes whose name starts with ``_`` are private and never searched.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _register(cls)

    # ------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The module's computation; subclasses define it (or override ``__call__``)."""
        raise NotImplementedError(f"{type(self).__name__} defines no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``module(x)`` runs :meth:`forward`."""
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------ discovery
    def named_children(self) -> Iterator[tuple[str, Any]]:
        """``(name, obj)`` for each public attribute, lists flattened to ``name.i``."""
        for name, value in vars(self).items():
            if name.startswith("_"):
                continue
            if isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    yield f"{name}.{i}", item
            else:
                yield name, value

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module (name ``prefix``) and every submodule, depth first, dotted names."""
        yield prefix, self
        for name, child in self.named_children():
            if isinstance(child, Module):
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Any]]:
        """``(dotted name, parameter)`` pairs in a stable order; shared ones listed once."""
        out: list[tuple[str, Any]] = []
        seen: set[int] = set()
        self._collect(prefix, out, seen)
        return out

    def _collect(self, prefix: str, out: list[tuple[str, Any]], seen: set[int]) -> None:
        for name, child in self.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if isinstance(child, Module):
                child._collect(full, out, seen)
            elif is_parameter(child) and id(child) not in seen:
                seen.add(id(child))
                out.append((full, child))

    def parameters(self) -> list[Any]:
        """Every parameter (weights and biases), in :meth:`named_parameters` order."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold (a tensor counts its elements)."""
        return sum(int(np.size(p.data)) for p in self.parameters())

    def zero_grad(self) -> None:
        """Forget every gradient: ``.grad = 0.0`` for a scalar Value, ``None`` for an array (as PyTorch).

        The tensor path's backward treats ``None`` as zero, so the next
        backward writes a fresh gradient without a pass to zero the old one.
        """
        clear_grads(self.parameters())

    # ------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, float | np.ndarray]:
        """Name -> weight: a float for a scalar Value, a copy of the array for a tensor."""
        return {name: _snapshot(p.data) for name, p in self.named_parameters()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Write ``state`` into the parameters, in place.

        Every name and shape is checked before anything is written: on a
        missing or unexpected name, a wrong shape, a non-number or a
        non-finite number, ``ValueError`` (``TypeError`` if ``state`` is not a
        mapping) names the first problem and the model is left untouched.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict needs a mapping of name -> weight, got {type(state).__name__}")
        params = self.named_parameters()
        names = {name for name, _ in params}
        for name, _ in params:
            if name not in state:
                raise ValueError(f"state dict is missing parameter {name!r} ({len(state)} entries given)")
        for name in state:
            if name not in names:
                raise ValueError(f"state dict has unexpected parameter {name!r} (not in {type(self).__name__})")
        staged = [(p, _checked_weight(name, p.data, state[name])) for name, p in params]
        for p, value in staged:
            if isinstance(p.data, np.ndarray):
                p.data[...] = value
            else:
                p.data = value

    # ------------------------------------------------------------ architecture
    def config(self) -> dict[str, Any]:
        """The constructor arguments that rebuild this architecture (JSON values or modules)."""
        raise NotImplementedError(f"{type(self).__name__} does not report its config, so it cannot be saved")

    @classmethod
    def count_parameters(cls, config: Mapping[str, Any]) -> int | None:
        """How many numbers a module built from ``config`` (as saved: submodules encoded) holds.

        ``None``: the class cannot tell before it is built (the default).  A
        class that can (every built-in) lets ``load`` refuse a config that asks
        for more parameters than the file holds, before allocating any.
        """
        return None

    @classmethod
    def from_config(cls: type[M], config: Mapping[str, Any]) -> M:
        """Build an untrained module from :meth:`config` output."""
        return cls(**config)

    # ------------------------------------------------------------ files
    def to_document(self) -> dict[str, Any]:
        """The JSON document :meth:`save` writes (see there for the format)."""
        weights: dict[str, Any] = {}
        for name, p in self.named_parameters():
            data = p.data
            if isinstance(data, np.ndarray):
                if not np.all(np.isfinite(data)):
                    raise ValueError(f"cannot save: parameter {name!r} holds NaN or inf")
                weights[name] = {"shape": list(data.shape), "dtype": str(data.dtype), "data": data.tolist()}
            else:
                if not math.isfinite(data):
                    raise ValueError(f"cannot save: parameter {name!r} is {data!r}")
                weights[name] = float(data)
        return {
            "format": FORMAT,
            "version": VERSION,
            "class": class_name(type(self)),
            "config": _encode_config(self.config()),
            "num_parameters": self.num_parameters(),
            "weights": weights,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write architecture + weights to ``path`` as JSON, atomically.

        Format (``"format": "tracegrad-model"``, ``"version": 1``)::

            {"format": "tracegrad-model", "version": 1, "class": "MLP",
             "config": {"nin": 2, "nouts": [16, 16, 1], ...},
             "num_parameters": 337,
             "weights": {"layers.0.neurons.0.w.0": 0.123, ...,
                         "layers.0.weight": {"shape": [3, 2], "dtype": "float64",
                                             "data": [[...], ...]}}}

        Floats are written with ``repr`` precision, so a load gives back the
        exact same numbers.  The file is written to a temporary file in the
        same folder and renamed over ``path``, so a crash never leaves half a file.
        An existing file keeps its permission bits; a new one gets the process
        default (0666 minus the umask).  The temporary file is named
        ``.{name}.{pid}.{random}.tmp``: a save killed midway leaves it behind,
        and the next save to ``path`` removes those of processes no longer running.
        """
        text = json.dumps(self.to_document(), allow_nan=False)
        target = Path(path)
        folder = target.parent
        if not folder.is_dir():
            raise FileNotFoundError(f"cannot save to {target}: the folder {folder} does not exist")
        if target.is_dir():
            raise IsADirectoryError(f"cannot save to {target}: it is a directory (give a file name)")
        _remove_orphans(target)
        fd, tmp = _open_temporary(target)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return target

    @classmethod
    def load(cls: type[M], path: str | os.PathLike[str]) -> M:
        """A new module rebuilt from a file written by :meth:`save`.

        ``MLP.load(path)`` also checks the file holds an MLP.  A truncated,
        corrupted, foreign or hostile file raises ``ValueError`` naming the
        field that is wrong, before anything is built: the whole file is
        checked first (``nn.model_file``: schema, sizes within the stated
        limits, shapes, dtypes, finite numbers), then the class (a known,
        public class) and the number of parameters its config asks for.
        """
        doc = read_document(path)
        try:
            klass = registered(doc["class"])
            if not issubclass(klass, cls):
                raise ValueError(f"the file holds a {doc['class']}, not a {class_name(cls)}")
            _check_count(klass, doc)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        try:
            model = klass.from_config(_decode_config(doc["config"]))
        except BUILD_ERRORS as exc:
            raise ValueError(f"{path}: cannot rebuild {doc['class']} from its config: {exc}") from None
        try:
            model.load_state_dict(decode_weights(doc["weights"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: weights do not fit {doc['class']}: {exc}") from None
        return model  # type: ignore[return-value]

    def load_weights(self, path: str | os.PathLike[str]) -> None:
        """Load the weights of a file saved from the same architecture into this module.

        The file's class and config must match this module's; otherwise (or
        for a damaged file) ``ValueError`` and this module is left as it was.
        """
        doc = read_document(path)
        mine = _encode_config(self.config())
        if doc["class"] != class_name(type(self)) or doc["config"] != mine:
            raise ValueError(
                f"{path}: the file holds {doc['class']}({_short(doc['config'])}), "
                f"but this model is {class_name(type(self))}({_short(mine)})"
            )
        try:
            self.load_state_dict(decode_weights(doc["weights"]))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None

    # ------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The text inside ``Name(...)``: the constructor arguments by default."""
        try:
            cfg = self.config()
        except NotImplementedError:
            return ""
        return ", ".join(f"{k}={v!r}" for k, v in cfg.items())

    def __repr__(self) -> str:
        inner = self.extra_repr()
        n = self.num_parameters()
        count = f"{n} parameter{'s' if n != 1 else ''}"
        return f"{type(self).__name__}({inner + ', ' if inner else ''}{count})"


# ---------------------------------------------------------------- helpers


def _temporaries(target: Path) -> Iterator[tuple[Path, int]]:
    """The temporary files of saves to ``target``: ``(path, pid of the saving process)``."""
    for tmp in target.parent.glob(f".{glob.escape(target.name)}.*.*.tmp"):
        pid = tmp.name[len(target.name) + 2:].split(".")[0]
        if pid.isdigit():
            yield tmp, int(pid)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` is running (this process always is)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or we cannot tell: leave its file alone
    return True


def _remove_orphans(target: Path) -> None:
    """Delete temporary files left by killed saves to ``target`` (their process is gone)."""
    for tmp, pid in _temporaries(target):
        if not _alive(pid):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _open_temporary(target: Path) -> tuple[int, str]:
    """Create ``.{name}.{pid}.{random}.tmp`` beside ``target``: ``(fd, path)``.

    Mode: the existing target's permission bits, else 0666 minus the umask (the kernel applies it).
    """
    while True:
        tmp = target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    try:
        if target.exists():
            os.chmod(fd, stat.S_IMODE(target.stat().st_mode))
    except BaseException:
        os.close(fd)
        tmp.unlink()
        raise
    return fd, str(tmp)


def _snapshot(data: Any) -> float | np.ndarray:
    return data.copy() if isinstance(data, np.ndarray) else float(data)


def _checked_weight(name: str, current: Any, value: Any) -> Any:
    """``value`` converted to the parameter's kind, or ValueError saying why not."""
    if isinstance(current, np.ndarray):
        arr = _real_array(name, value, current.shape)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"parameter {name!r}: holds NaN or inf")
        with np.errstate(over="ignore"):  # a float32 overflow shows as a changed value below
            out = arr.astype(current.dtype)  # a fresh array, never a view of the caller's
        if not np.array_equal(out, arr):
            raise ValueError(f"parameter {name!r}: its {arr.dtype} values are not exactly {current.dtype} numbers "
                             "(they would be rounded)")
        return out
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, Real):
        shape = f" of shape {value.shape}" if isinstance(value, np.ndarray) else ""
        raise ValueError(
            f"parameter {name!r}: expected one number (a scalar weight), got "
            f"{type(value).__name__}{shape}: {value!r:.60}"
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise ValueError(f"parameter {name!r}: expected a finite number, got {value!r:.60}")
    return number


def _real_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as an array of real numbers of ``shape`` (not yet converted), or ValueError saying why not."""
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise ValueError(f"parameter {name!r}: expected an array of shape {shape}, got {value!r:.60}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"parameter {name!r}: expected numbers, got {value!r:.60}") from None
    if arr.dtype.kind not in "iuf":
        what = {"c": "complex numbers (the imaginary part would be lost)", "b": "booleans",
                "O": "objects (numbers too large, or rows of different lengths)"}.get(arr.dtype.kind, str(arr.dtype))
        raise ValueError(f"parameter {name!r}: expected real numbers, got {what}")
    if arr.shape != shape:
        raise ValueError(f"parameter {name!r}: expected shape {shape}, got {arr.shape}")
    return arr


def _encode_config(value: Any) -> Any:
    """Config -> JSON: modules become ``{"module": class, "config": ...}``."""
    if isinstance(value, Module):
        return {"module": class_name(type(value)), "config": _encode_config(value.config())}
    if isinstance(value, (list, tuple)):
        return [_encode_config(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _encode_config(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"config value {value!r:.60} ({type(value).__name__}) cannot be saved as JSON")


BUILD_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError)
"""What a constructor may raise on a config it does not accept; ``load`` reports each as ``ValueError``."""


BUILD_SLACK = 1_000
"""``load`` builds a model only if its config asks for at most this many parameters more than the file holds
(so a small file cannot make it allocate a huge model); within the slack, ``load_state_dict`` names each
missing parameter."""


def encoded_count(entry: Any) -> int | None:
    """The parameters of a saved submodule ``{"module": name, "config": ...}`` (None: cannot tell)."""
    if not (isinstance(entry, dict) and set(entry) == {"module", "config"} and isinstance(entry["config"], dict)):
        raise ValueError(f"expected a saved module {{'module': name, 'config': {{...}}}}, got {entry!r:.60}")
    return registered(entry["module"]).count_parameters(entry["config"])


def config_size(config: Mapping[str, Any], key: str) -> int:
    """``config[key]``, a saved layer size: a whole number >= 0 (``ValueError`` naming the field)."""
    n = config.get(key) if isinstance(config, Mapping) else None
    if type(n) is not int or n < 0:
        raise ValueError(f"config.{key} must be a whole number >= 0, got {n!r:.60}")
    return n


def _check_count(klass: type[Module], doc: Mapping[str, Any]) -> None:
    """``klass``'s config asks for no more parameters than the file holds (+ :data:`BUILD_SLACK`), before building."""
    try:
        wanted = klass.count_parameters(doc["config"])
    except BUILD_ERRORS as exc:
        raise ValueError(f"cannot rebuild {doc['class']} from its config: {exc}") from None
    stored = stored_count(doc["weights"])
    if wanted is not None and wanted > stored + BUILD_SLACK:
        raise ValueError(f"config: {doc['class']} with this config has {wanted:,} parameters, but the file holds "
                         f"{stored:,}")


def _decode_config(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"module", "config"}:
            return registered(value["module"]).from_config(_decode_config(value["config"]))
        return {k: _decode_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_config(v) for v in value]
    return value


def _short(config: Any) -> str:
    if isinstance(config, dict):
        return ", ".join(f"{k}={v!r}" for k, v in config.items())
    return repr(config)


def check_size(name: str, n: Any) -> int:
    """A layer size: a positive int, numpy ints too (``TypeError`` for another kind, ``ValueError`` below 1)."""
    if isinstance(n, bool) or not isinstance(n, Integral):
        raise TypeError(f"{name} must be an int, got {type(n).__name__}: {n!r}")
    n = int(n)
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {n}")
    return n
