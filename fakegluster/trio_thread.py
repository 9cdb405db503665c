"""A trio loop in a daemon thread, for the blocking APIs over async code: the in-process
server (``FakeGluster.start``) and gfclient's sync client.

:class:`TrioThread` enters an async context manager in a trio loop of its own and holds it
open until :meth:`TrioThread.stop` exits it *normally* (no cancellation, so its cleanup can
still talk to peers: release fds, close connections).  Meanwhile other threads call into the
loop with :meth:`~TrioThread.run` / :meth:`~TrioThread.run_sync`.  An error while entering is
raised by :meth:`~TrioThread.start`; an error after that (a crashed background task, a
failing exit) is raised by :meth:`~TrioThread.stop`, never lost.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

import trio

__all__ = ["TrioThread"]

T = TypeVar("T")
R = TypeVar("R")


class TrioThread(Generic[T]):
    """``start(factory)`` -> the value the context manager ``factory()`` enters with.

    Example::

        loop = TrioThread("gfclient")
        vol = loop.start(lambda: aio.connect(uri))      # aio.connect(...) is an async CM
        st = loop.run(vol.stat, "a.img")                 # a coroutine function, in the loop
        loop.stop()                                      # leaves the async with, joins
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.token: trio.lowlevel.TrioToken | None = None
        self.value: T | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._entered = False
        self._error: BaseException | None = None
        self._stop: trio.Event | None = None

    def start(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> T:
        """Start the thread, enter ``factory()`` in its loop; return when entered (or raise
        what entering raised)."""
        if self._thread is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._thread = threading.Thread(target=trio.run, args=(self._main, factory), name=self.name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if not self._entered:
            self._thread.join()
            error, self._error = self._error, None
            assert error is not None
            raise error
        return self.value  # type: ignore[return-value]

    async def _main(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._stop = trio.Event()
        try:
            async with factory() as value:
                self.value, self._entered = value, True
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:  # raised by start() (not entered) or stop() (after)
            self._error = exc
        finally:
            self._ready.set()

    @property
    def alive(self) -> bool:
        """Entered and not stopped (nor crashed)."""
        return self._entered and self._thread is not None and self._thread.is_alive()

    def _token(self) -> trio.lowlevel.TrioToken:
        if not self.alive or self.token is None:
            raise RuntimeError(f"{self.name}: the trio thread is not running")
        return self.token

    @property
    def in_loop(self) -> bool:
        """Is the caller running in this loop (its own thread)?"""
        return self._thread is not None and threading.current_thread() is self._thread

    def run(self, fn: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """``await fn(*args, **kwargs)`` in the loop, from another thread; its result."""
        if self.in_loop:
            raise RuntimeError(f"{self.name}: run() blocks, and this is the loop's own thread: await it instead")
        return trio.from_thread.run(functools.partial(fn, *args, **kwargs), trio_token=self._token())

    def run_sync(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        """``fn(*args, **kwargs)`` in the loop's thread; its result (called from that thread,
        e.g. by async code running in the loop, it is just called)."""
        if self.in_loop:
            return fn(*args, **kwargs)
        return trio.from_thread.run_sync(functools.partial(fn, *args, **kwargs), trio_token=self._token())

    def stop(self) -> None:
        """Exit the context manager, end the loop, join the thread (idempotent).  Raises what
        the loop raised after entering, if anything."""
        thread = self._thread
        if thread is None:
            return
        if thread.is_alive() and self.token is not None and self._stop is not None:
            try:
                trio.from_thread.run_sync(self._stop.set, trio_token=self.token)
            except trio.RunFinishedError:
                pass
        thread.join()
        error, self._error = self._error, None
        if error is not None:
            raise error
