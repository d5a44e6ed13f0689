"""One registry implementation for everything the suite looks up by name.

Scorers, feature extractors, built-in models, built-in reference statistics and named CLIP
models are each a `Registry`: name -> target, where a target is the object itself or a lazy
"module:attr" string (so listing names imports nothing heavy), and where entries also come
from a Python entry-point group, so a plugin registers exactly as the built-ins do. A name
is taken once: a second registration under it is refused rather than silently shadowing the
first. `get` imports a lazy target on first use and checks it against the registry's base
class, so a broken plugin fails with its name, not deep inside a scoring run.

This module imports nothing from the package but `audit.errors`: every part may use it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar, cast

from audit.errors import UserError

T = TypeVar("T")

BUILT_IN = "built in"


class Registry(Generic[T]):
    """Name -> target. `what` names the kind in messages ("scorer", "built-in model").

    `base`: a loaded target must be a subclass of it (`instances=False`) or an instance of it
    (`instances=True`). `prefix` is how users write the names (``builtin:``), used in
    messages only. `field` is the spec field an unknown name is reported against.
    """

    def __init__(
        self,
        what: str,
        *,
        group: str | None = None,
        base: type | tuple[type, ...] | None = None,
        instances: bool = False,
        field: str | None = None,
        prefix: str = "",
    ) -> None:
        self.what = what
        self.group = group
        self.base = base
        self.instances = instances
        self.field = field
        self.prefix = prefix
        self._entries: dict[str, str | T] = {}
        self._origins: dict[str, str] = {}
        self._specs: dict[str, str] = {}  # the "module:attr" a lazy entry was registered as
        self._group_loaded = group is None

    # ------------------------------------------------------------ filling

    def register(self, name: str, target: str | T, *, origin: str = BUILT_IN) -> None:
        """Add `name`; a name already taken is refused (ValueError: a programming error).

        Cheap: the entry-point group is not read here, and a plugin that later turns out to
        use the same name is refused when the group is read."""
        if name in self._entries:
            raise ValueError(
                f"a {self.what} named '{name}' is already registered "
                f"({self._origins[name]}: {self._label(name)})"
            )
        self._entries[name] = target
        self._origins[name] = origin
        if isinstance(target, str):
            self._specs[name] = target

    def _load_group(self) -> None:
        # Entry points are read on first use, not at import, so importing a registry is free.
        if self._group_loaded:
            return
        self._group_loaded = True
        assert self.group is not None
        for ep in entry_points(group=self.group):
            origin = f"entry point {self.group}"
            if self._specs.get(ep.name) == ep.value and self._origins[ep.name] == origin:
                continue  # one distribution seen twice on sys.path (editable + installed)
            if ep.name in self._entries:
                raise UserError(
                    f"two {self.what}s are named '{ep.name}': "
                    f"{self._label(ep.name)} ({self._origins[ep.name]}) "
                    f"and {ep.value} ({origin})",
                    field=self.field,
                    fix="uninstall one of the packages providing them, or rename its entry point",
                )
            self._entries[ep.name] = ep.value
            self._origins[ep.name] = origin
            self._specs[ep.name] = ep.value

    # ------------------------------------------------------------ reading

    def names(self) -> list[str]:
        self._load_group()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load_group()
        return name in self._entries

    def origin(self, name: str) -> str:
        """Where `name` came from: "built in", or "entry point GROUP"."""
        self._require(name)
        return self._origins[name]

    def target(self, name: str) -> str | T:
        """The entry as registered: a "module:attr" string until `get` has loaded it."""
        self._require(name)
        return self._entries[name]

    def module(self, name: str) -> str:
        """The module that defines `name`'s target, without importing it."""
        target = self.target(name)
        if name in self._specs:
            return self._specs[name].partition(":")[0]
        return str(getattr(target, "__module__", type(target).__module__))

    def get(self, name: str) -> T:
        """The target of `name`, imported on first use and checked against `base`."""
        self._require(name)
        target = self._entries[name]
        if isinstance(target, str):
            loaded = self._check(name, target, _import(target, self.what, name))
            self._entries[name] = loaded
            return loaded
        return target

    def _require(self, name: str) -> None:
        if name not in self:
            known = ", ".join(self.prefix + n for n in self.names()) or "(none registered)"
            raise UserError(
                f"unknown {self.what} '{self.prefix}{name}'",
                field=self.field,
                fix=f"use one of: {known}",
            )

    def _check(self, name: str, spec: str, obj: Any) -> T:
        if self.base is not None:
            ok = (
                isinstance(obj, self.base)
                if self.instances
                else isinstance(obj, type) and issubclass(obj, self.base)
            )
            if not ok:
                names = self.base if isinstance(self.base, tuple) else (self.base,)
                wanted = " or ".join(b.__name__ for b in names)
                kind = "an instance of" if self.instances else "a subclass of"
                raise UserError(
                    f"{self.what} '{name}' ({spec}, {self._origins[name]}) is not {kind} {wanted}",
                    field=self.field,
                    fix="fix or uninstall the package that registers it",
                )
        return cast(T, obj)

    def _label(self, name: str) -> str:
        """How `name`'s target reads in messages: its "module:attr", or the object itself."""
        if name in self._specs:
            return self._specs[name]
        target = self._entries[name]
        return f"{getattr(target, '__module__', '?')}:{getattr(target, '__qualname__', target)}"


def _import(spec: str, what: str, name: str) -> Any:
    module_name, _, attr = spec.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split(".") if attr else ():
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UserError(
            f"cannot load {what} '{name}' from '{spec}': {type(exc).__name__}: {exc}",
            fix="reinstall the package that provides it",
        ) from exc
    return obj
