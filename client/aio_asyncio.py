"""gfclient's async API under asyncio: ``async with gfclient.aio.connect(uri) as vol`` in an
asyncio program gives the same :class:`~gfclient.aio.Volume` methods, as coroutines of the
asyncio loop.

trio stays gfclient's first-class loop: under asyncio the trio client runs in a thread of its
own (:class:`fakegluster.trio_thread.TrioThread`, one per ``connect``), and each call is
handed to it and its result handed back through an :class:`asyncio.Future` (no thread per
call).  Results that are open files come back as :class:`AsyncioFile` (the same methods,
``async with``), ``walk`` as an async generator.  Cancelling the asyncio task that awaits a
call stops the wait, not the call: it finishes in the trio thread, and a file it opened is
closed there.  :func:`gfclient.aio.connect` picks this module by itself (sniffio) when the
running loop is asyncio.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import trio

from fakegluster.trio_thread import TrioThread

if TYPE_CHECKING:  # imported when an asyncio program connects: a trio program never needs it
    import asyncio

__all__ = ["connect", "AsyncioVolume", "AsyncioFile", "any_loop"]

_log = logging.getLogger("gfclient.mount")
P = ParamSpec("P")
T = TypeVar("T")


def any_loop(
    trio_connect: Callable[P, contextlib.AbstractAsyncContextManager[T]],
) -> Callable[P, contextlib.AbstractAsyncContextManager[T]]:
    """``trio_connect`` working under asyncio too: the function returned (same signature and
    docstring) enters ``trio_connect(...)`` under trio and :func:`connect` under asyncio,
    picked by the running loop (sniffio); mount and unmount are logged at DEBUG
    (``gfclient.mount``).  This is :func:`gfclient.aio.connect`."""

    @functools.wraps(trio_connect)
    def connect_any(*args: P.args, **kwargs: P.kwargs) -> contextlib.AbstractAsyncContextManager[T]:
        return _Connect(trio_connect, args, kwargs)

    return connect_any


class _Connect(contextlib.AbstractAsyncContextManager[Any]):
    def __init__(self, trio_connect: Callable[..., Any], args: Any, kwargs: Any) -> None:
        self.trio_connect, self.args, self.kwargs = trio_connect, args, kwargs
        self.uri = args[0] if args else kwargs.get("uri")
        self._cm: contextlib.AbstractAsyncContextManager[Any] | None = None

    async def __aenter__(self) -> Any:
        import sniffio

        if sniffio.current_async_library() == "asyncio":
            self._cm = connect(*self.args, **self.kwargs)
        else:
            self._cm = self.trio_connect(*self.args, **self.kwargs)
        _log.debug("mounting %s", self.uri)
        vol = await self._cm.__aenter__()
        _log.debug("mounted %s", self.uri)
        return vol

    async def __aexit__(self, *exc: Any) -> Any:
        assert self._cm is not None
        _log.debug("unmounting %s", self.uri)
        return await self._cm.__aexit__(*exc)


class _Bridge:
    """Calls from the asyncio loop into the trio thread, results back as futures."""

    def __init__(self, thread: TrioThread[Any], loop: asyncio.AbstractEventLoop) -> None:
        self.thread, self.loop = thread, loop

    def submit(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self.loop.create_future()

        def settle(ok: bool, value: Any) -> None:  # in the asyncio loop
            if future.cancelled():
                if ok and isinstance(value, _closable()) and self.thread.token is not None:
                    with contextlib.suppress(trio.RunFinishedError):
                        self.thread.token.run_sync_soon(trio.lowlevel.spawn_system_task, value.close)
                return
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

        async def runner() -> None:
            try:
                value = await fn(*args, **kwargs)
            except BaseException as exc:  # handed to the awaiting asyncio task
                self.loop.call_soon_threadsafe(settle, False, exc)
            else:
                self.loop.call_soon_threadsafe(settle, True, value)

        token = self.thread.token
        if token is None or not self.thread.alive:
            future.set_exception(ValueError("the volume is closed"))
            return future
        try:
            token.run_sync_soon(trio.lowlevel.spawn_system_task, runner)
        except trio.RunFinishedError:
            future.set_exception(ValueError("the volume is closed"))
        return future

    async def call(self, fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        return self.wrap(await self.submit(fn, *args, **kwargs))

    def wrap(self, value: Any) -> Any:
        if isinstance(value, _closable()):
            return AsyncioFile(self, value)
        return value


def _closable() -> Any:
    from .file import File

    return File


class _Proxy:
    """Coroutine methods become asyncio coroutines, async generators asyncio async
    generators; everything else is the object's own attribute."""

    def __init__(self, bridge: _Bridge, target: Any) -> None:
        self._bridge, self._target = bridge, target

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if inspect.iscoroutinefunction(attr):

            @functools.wraps(attr)
            async def method(*args: Any, **kwargs: Any) -> Any:
                return await self._bridge.call(attr, *args, **kwargs)

            return method
        if inspect.isasyncgenfunction(attr):

            @functools.wraps(attr)
            async def agen(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                gen = attr(*args, **kwargs)

                async def step() -> Any:
                    try:
                        return True, await gen.__anext__()
                    except StopAsyncIteration:
                        return False, None

                try:
                    while True:
                        more, value = await self._bridge.call(step)
                        if not more:
                            return
                        yield value
                finally:
                    await self._bridge.submit(gen.aclose)

            return agen
        return attr

    def __repr__(self) -> str:
        return f"<asyncio {self._target!r}>"


class AsyncioVolume(_Proxy):
    """A mounted volume under asyncio: :class:`gfclient.aio.Volume`'s methods."""


class AsyncioFile(_Proxy):
    """An open file under asyncio: :class:`gfclient.aio.File`'s methods; ``async with``
    closes it."""

    async def __aenter__(self) -> AsyncioFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._bridge.call(self._target.close)


@contextlib.asynccontextmanager
async def connect(uri: Any, **options: Any) -> AsyncIterator[AsyncioVolume]:
    """:func:`gfclient.aio.connect` for asyncio programs (same arguments)."""
    import asyncio

    from . import aio

    loop = asyncio.get_running_loop()
    thread: TrioThread[Any] = TrioThread("gfclient-asyncio")
    avol = await loop.run_in_executor(None, thread.start, lambda: aio._connect_trio(uri, **options))
    try:
        yield AsyncioVolume(_Bridge(thread, loop), avol)
    finally:
        await loop.run_in_executor(None, thread.stop)
