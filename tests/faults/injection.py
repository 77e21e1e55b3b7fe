"""Fault injection: an error raised at the n-th crossing of one of the run's boundaries.

A `Boundary` names a function or method where the run crosses a boundary (reads a source
batch, writes rejects or the report, writes the ledger, calls Five9 or reads its answer). A
`Fault` armed there raises its error once, at the n-th call (for a generator: its n-th item),
before the original runs, or after it when the crossing is `after` (Five9 took the request,
its answer is lost). Everything else runs unchanged.
"""

from __future__ import annotations

import errno
import functools
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest


class InjectedFault(Exception):  # noqa: N818 (the name says what it is in a traceback)
    """An exception of a kind no code of the project expects."""


def arbitrary() -> BaseException:
    return InjectedFault("injected fault: a library raised a type never seen")


def disk_full() -> BaseException:
    return OSError(errno.ENOSPC, "No space left on device")


ERRORS: dict[str, Callable[[], BaseException]] = {"arbitrary": arbitrary, "enospc": disk_full}


@dataclass(frozen=True)
class Boundary:
    """`module:Owner.name` (or `module:name`), and when the fault fires there."""

    target: str
    on_call: int = 1
    after: bool = False
    """Raise after the original ran (its effect, such as Five9 taking a request, happened)."""

    def resolve(self) -> tuple[Any, str]:
        module_name, _, path = self.target.partition(":")
        owner: Any = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        return owner, name


class Fault:
    """One error, raised once at a boundary; `fired` says whether it was."""

    def __init__(self, boundary: Boundary, error: Callable[[], BaseException]) -> None:
        self.boundary = boundary
        self.error = error
        self.calls = 0
        self.fired = 0

    def _due(self) -> bool:
        self.calls += 1
        if self.calls == self.boundary.on_call:
            self.fired += 1
            return True
        return False

    def arm(self, monkeypatch: pytest.MonkeyPatch) -> Fault:
        owner, name = self.boundary.resolve()
        original = inspect.getattr_static(owner, name)
        static = isinstance(original, staticmethod)
        wrapped = self._wrapped(original.__func__ if static else original)
        monkeypatch.setattr(owner, name, staticmethod(wrapped) if static else wrapped)
        return self

    def _wrapped(self, function: Callable[..., Any]) -> Callable[..., Any]:
        after = self.boundary.after
        if inspect.isgeneratorfunction(function):

            @functools.wraps(function)
            def generator(*args: Any, **kwargs: Any) -> Any:
                for item in function(*args, **kwargs):
                    if self._due():
                        raise self.error()
                    yield item

            return generator
        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def coroutine(*args: Any, **kwargs: Any) -> Any:
                due = self._due()
                if due and not after:
                    raise self.error()
                result = await function(*args, **kwargs)
                if due:
                    raise self.error()
                return result

            return coroutine

        @functools.wraps(function)
        def plain(*args: Any, **kwargs: Any) -> Any:
            due = self._due()
            if due and not after:
                raise self.error()
            result = function(*args, **kwargs)
            if due:
                raise self.error()
            return result

        return plain
