"""libgfapi-python's ``gluster.gfapi`` on gfclient: code written for it runs unchanged,
without libgfapi.

Change the import (``from gluster import gfapi`` -> ``from gfclient import gfapi``), or
leave the code alone and call :func:`install` once (e.g. in a ``conftest.py``), which makes
``import gluster.gfapi`` and ``gluster.gfapi.exceptions`` this module::

    from gfclient import gfapi

    vol = gfapi.Volume("127.0.0.1", "testvol")        # hosts, volname, proto, port
    vol.mount()
    with vol.fopen("a.txt", "w") as f:
        f.write(b"hello")
    fd = vol.open("a.txt", os.O_RDONLY)                # a raw glfd, as in libgfapi-python
    with gfapi.File(fd, path="a.txt") as f:
        assert f.read() == b"hello"
    vol.setxattr("a.txt", "user.k", "v")               # xattrs are str, as there
    vol.umount()

The API is libgfapi-python 1.2's (``gluster/gfapi/gfapi.py``), method for method, with its
quirks kept so that its users see no change: ``File.read`` returns ``None`` at end of file,
``readinto`` takes only a ``bytearray``, xattr values are ``str`` cut at the first NUL,
``listxattr`` is sorted, ``makedirs`` fails on an existing leaf, ``walk`` puts symlinks to
directories among the files, ``scandir`` entries do not follow symlinks by default,
``copyfile`` of a file onto itself raises :class:`Error`, a mount failure raises
:class:`LibgfapiException` (``glfs_init(...) failed: ...``), a call on an unmounted volume
:class:`VolumeNotMounted`, on a closed file ``OSError(EBADF)``.

Where it cannot be the same: ``stat``/``statvfs`` results are :class:`os.stat_result` /
:class:`os.statvfs_result` (same ``st_*``/``f_*`` attributes as libgfapi-python's ctypes
structures); ``set_logging`` writes gfclient's :mod:`logging` records (not libgfapi's) to
the file at the matching level; ``setfsuid``/``setfsgid`` change the identity of every later
call on this volume (libgfapi: of the calling thread, on every volume); ``dup`` opens the
path again with the same flags and offset (a second fd, where ``glfs_dup`` shares one);
``write(data, flags)`` honours ``O_SYNC``/``O_DSYNC`` with an fsync after the write.
"""

from __future__ import annotations

import sys
import types

from .exceptions import Error, LibgfapiException, VolumeNotMounted
from .files import Dir, Dirent, DirEntry, File
from .volume import Volume

__all__ = ["Volume", "File", "Dir", "DirEntry", "Dirent", "install", "LibgfapiException", "VolumeNotMounted", "Error"]
__version__ = "1.2"  # the libgfapi-python API this module follows


def install() -> None:
    """Make ``import gluster.gfapi`` (and ``from gluster import gfapi``,
    ``gluster.gfapi.exceptions``) give this module, so code written for libgfapi-python runs
    unchanged.  Call it before that code imports them (a ``conftest.py`` is a good place)."""
    from . import exceptions

    pkg = sys.modules.get("gluster")
    if pkg is None or getattr(pkg, "gfapi", None) is not sys.modules[__name__]:
        pkg = types.ModuleType("gluster")
        pkg.__path__ = []
        sys.modules["gluster"] = pkg
    pkg.gfapi = sys.modules[__name__]  # type: ignore[attr-defined]
    sys.modules["gluster.gfapi"] = sys.modules[__name__]
    sys.modules["gluster.gfapi.exceptions"] = exceptions
