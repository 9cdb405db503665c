"""Dataclasses and fast codecs are made on first use, once, whatever the threads (issue #14
defect 6: 16 threads connecting at once got "cannot encode GfGetspecReq ... expected
GfGetspecReq, got GfGetspecReq": each had made a class of its own)."""

from __future__ import annotations

import sys
import threading

from fakegluster.proto.xdr import Array, Opaque, String, UInt, XdrStruct, decode, encode, xdr_struct


def _fresh(i: int) -> XdrStruct:
    inner = xdr_struct(f"inner_{i}", "a" / UInt, "b" / Opaque())
    return xdr_struct(f"outer_{i}", "n" / UInt, "s" / String(), "items" / Array(inner), "inner" / inner)


def test_sixteen_threads_get_one_class_and_one_codec():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    try:
        for i in range(40):
            schema = _fresh(i)
            start = threading.Barrier(16)
            seen: list[tuple[type, object, bytes]] = []
            errors: list[BaseException] = []

            def use(
                schema: XdrStruct = schema, start: threading.Barrier = start, seen: list = seen, errors: list = errors
            ) -> None:
                try:
                    start.wait()
                    cls = schema.cls
                    value = cls(7, "x", (), schema.subcon.subcons[3].subcon.cls(1, b"y"))
                    seen.append((cls, schema.fast_encode, encode(schema, value)))
                except BaseException as exc:  # noqa: BLE001 (reported below)
                    errors.append(exc)

            threads = [threading.Thread(target=use) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert not errors, errors
            assert len({id(c) for c, _, _ in seen}) == 1, f"schema {i}: several classes were made"
            assert len({id(f) for _, f, _ in seen}) == 1
            data = seen[0][2]
            assert all(d == data for _, _, d in seen)
            assert decode(schema, data)[0] == decode(schema, seen[-1][2])[0]
    finally:
        sys.setswitchinterval(old)
