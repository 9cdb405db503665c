"""TrioThread: an async context manager held open in a trio loop of its own thread."""

from __future__ import annotations

import contextlib
import threading

import pytest
import trio

from fakegluster.trio_thread import TrioThread


@contextlib.asynccontextmanager
async def _service(log: list[str], fail_enter: bool = False, fail_exit: bool = False):
    log.append(f"enter in {threading.current_thread().name}")
    if fail_enter:
        raise OSError("cannot bind")
    try:
        yield "value"
    finally:
        await trio.sleep(0.01)  # the exit may await: it is not cancelled
        log.append("exited")
        if fail_exit:
            raise ValueError("exit failed")


def test_start_run_stop():
    log: list[str] = []
    loop: TrioThread[str] = TrioThread("probe")
    assert loop.start(lambda: _service(log)) == "value" and loop.alive
    assert log == ["enter in probe"]
    assert loop.run_sync(lambda: threading.current_thread().name) == "probe"

    async def add(a: int, b: int) -> int:
        await trio.sleep(0)
        return a + b

    assert loop.run(add, 2, b=3) == 5

    def nested() -> tuple[bool, str]:  # run_sync from the loop's own thread: just called
        return loop.in_loop, loop.run_sync(lambda: threading.current_thread().name)

    assert loop.run_sync(nested) == (True, "probe") and not loop.in_loop

    async def blocking_from_the_loop() -> None:
        with pytest.raises(RuntimeError, match="await it instead"):
            loop.run(add, 1, 1)

    loop.run(blocking_from_the_loop)
    loop.stop()
    assert log[-1] == "exited" and not loop.alive
    loop.stop()  # idempotent
    with pytest.raises(RuntimeError, match="not running"):
        loop.run_sync(print)


def test_an_error_entering_is_raised_by_start():
    loop: TrioThread[str] = TrioThread("probe")
    with pytest.raises(OSError, match="cannot bind"):
        loop.start(lambda: _service([], fail_enter=True))
    assert not loop.alive


def test_an_error_after_entering_is_raised_by_stop():
    log: list[str] = []
    loop: TrioThread[str] = TrioThread("probe")
    loop.start(lambda: _service(log, fail_exit=True))
    with pytest.raises(ValueError, match="exit failed"):
        loop.stop()
    assert log[-1] == "exited"


def test_a_crash_while_serving_ends_the_loop_and_is_raised_by_stop():
    @contextlib.asynccontextmanager
    async def crashing():
        async with trio.open_nursery() as nursery:

            async def boom() -> None:
                await trio.sleep(0.01)
                raise KeyError("background task")

            nursery.start_soon(boom)
            yield "up"

    loop: TrioThread[str] = TrioThread("probe")
    assert loop.start(crashing) == "up"
    with pytest.raises(BaseExceptionGroup) as info:  # trio's nurseries group their errors
        loop.stop()
    assert info.group_contains(KeyError, match="background task")
    assert not loop.alive
