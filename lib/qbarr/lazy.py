"""Package names loaded from their modules on first use (a module ``__getattr__``, PEP 562).

A package ``__init__`` that imports every submodule makes whoever needs one small module pay
for all of them: ``qbarr.arr.kinds`` loaded httpx through ``qbarr/arr/__init__.py``, ~8 MB
in a process that never calls an Arr. A package lists where each of its names lives instead
(and imports them under ``TYPE_CHECKING`` for the type checker)::

    __getattr__ = lazy.exports(__name__, {"ArrClient": "client", "KINDS": "kinds"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(package: str, where: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from the submodule
    ``where[name]``, imported on first use, then kept as a plain attribute."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
