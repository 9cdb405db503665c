"""What the :mod:`gfclient.gfapi` modules share: str/bytes as libgfapi-python converts them,
the raw fd table (its ``File`` wraps a glfd number), log levels and the mount check
(``validate_mount``)."""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ..sync import File as _SyncFile
from .exceptions import VolumeNotMounted

if TYPE_CHECKING:
    from .volume import Volume

log = logging.getLogger("gfclient.gfapi")

_MODE_FLAGS: dict[str, int] = {}
for _names, _flags in (
    (("r", "rb"), os.O_RDONLY),
    (("w", "wb"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
    (("a", "ab"), os.O_WRONLY | os.O_CREAT | os.O_APPEND),
    (("r+", "rb+", "r+b"), os.O_RDWR),
    (("w+", "wb+", "w+b"), os.O_RDWR | os.O_CREAT | os.O_TRUNC),
    (("a+", "ab+", "a+b"), os.O_RDWR | os.O_CREAT | os.O_APPEND),
):
    for _name in _names:
        _MODE_FLAGS[_name] = _flags

#: libglusterfs's gf_loglevel_t (GF_LOG_NONE = 0 ... GF_LOG_TRACE = 9) -> logging levels
_LOG_LEVELS = {0: logging.CRITICAL + 10, 1: logging.CRITICAL, 2: logging.CRITICAL, 3: logging.CRITICAL,
               4: logging.ERROR, 5: logging.WARNING, 6: logging.INFO, 7: logging.INFO, 8: logging.DEBUG,
               9: logging.DEBUG}  # fmt: skip


def _text(value: Any) -> str:
    """A path or name given as str or bytes (libgfapi-python takes both)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "surrogateescape")
    if isinstance(value, os.PathLike):
        return _text(os.fspath(value))
    raise ValueError(f"Cannot convert object with type {type(value)}")


def _bytes(value: Any) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise ValueError(f"Cannot convert object with type {type(value)}")


def _xattr_text(value: bytes) -> str:
    # libgfapi-python returns ``buf.value[:rc]``: ctypes' value stops at the first NUL
    return value.split(b"\0", 1)[0].decode("utf-8")


# ---- raw fds: libgfapi-python's File wraps a glfd number --------------------------------------

_fds: dict[int, tuple[_SyncFile, Volume, int]] = {}  # glfd -> (file, volume, open flags)
_fd_numbers = itertools.count(0x7F1D0001, 2)  # odd, never 0: "if self.fd" stays true
_fd_lock = threading.Lock()


def _register(f: _SyncFile, vol: Volume, flags: int) -> int:
    with _fd_lock:
        fd = next(_fd_numbers)
        _fds[fd] = (f, vol, flags)
    return fd


def _lookup(fd: int) -> tuple[_SyncFile, Volume, int]:
    entry = _fds.get(fd)
    if entry is None:
        raise OSError(errno.EBADF, os.strerror(errno.EBADF))
    return entry


_M = TypeVar("_M", bound=Callable[..., Any])


def _mounted(method: _M) -> _M:
    """libgfapi-python's ``validate_mount``: VolumeNotMounted unless mounted."""

    @functools.wraps(method)
    def wrapper(self: Volume, *args: Any, **kwargs: Any) -> Any:
        if self._vol is None or not self._mounted:
            raise VolumeNotMounted(f'Volume "{self.volname}" not mounted.')
        return method(self, *args, **kwargs)

    return cast(_M, wrapper)
