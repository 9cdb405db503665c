"""What is made on first use (a struct class's __init__, a schema's fast codec and those of its
fields) is made once, whatever the threads (issue #14 defect 6: 16 threads connecting at once
got "cannot encode GfGetspecReq ... expected GfGetspecReq, got GfGetspecReq" when the classes
themselves were made lazily, each thread making its own).

No ``from __future__ import annotations`` here: the structs are declared inside a function,
and their field annotations name its local classes."""

import sys
import threading
from typing import Annotated

from fakegluster.proto.xdr import Array, Opaque, String, Struct, UInt, decode, encode


def _fresh(i: int) -> tuple[type[Struct], type[Struct]]:
    class Inner(Struct, xname=f"inner_{i}"):
        a: UInt = 0
        b: Opaque = b""

    class Outer(Struct, xname=f"outer_{i}"):
        n: UInt = 0
        s: String = ""
        items: Annotated[tuple[Inner, ...], Array(Inner)] = ()
        inner: Inner = Inner()

    return Outer, Inner


def test_sixteen_threads_get_one_init_and_one_codec():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for i in range(40):
            outer, inner = _fresh(i)
            start = threading.Barrier(16)
            seen: list[tuple[object, object, bytes]] = []
            errors: list[BaseException] = []

            def use(start: threading.Barrier = start, seen: list = seen, errors: list = errors) -> None:
                try:
                    start.wait()
                    value = outer(7, "x", (inner(2, b"z"),), inner(1, b"y"))  # noqa: B023 (this iteration's)
                    seen.append((outer.__init__, outer.schema.fast_encode, encode(outer, value)))  # noqa: B023
                except BaseException as exc:  # noqa: BLE001 (reported below)
                    errors.append(exc)

            threads = [threading.Thread(target=use) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert len({id(init) for init, _, _ in seen}) == 1, f"round {i}: several __init__ were made"
            assert len({id(f) for _, f, _ in seen}) == 1, f"round {i}: several codecs were made"
            data = seen[0][2]
            assert all(d == data for _, _, d in seen)
            assert decode(outer, data)[0] == outer(7, "x", (inner(2, b"z"),), inner(1, b"y"))
    finally:
        sys.setswitchinterval(old)
