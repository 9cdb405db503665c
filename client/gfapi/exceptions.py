"""The exceptions of libgfapi-python's ``gluster.gfapi.exceptions``, same names and bases:
code that catches them keeps working (``from gfclient.gfapi.exceptions import ...``)."""

from __future__ import annotations

__all__ = ["LibgfapiException", "VolumeNotMounted", "Error"]


class LibgfapiException(Exception):
    """A volume could not be set up or mounted (``Volume(...)`` arguments, ``mount()``,
    ``umount()``)."""


class VolumeNotMounted(LibgfapiException):
    """A call that needs a mounted volume on one that is not (``Volume "NAME" not mounted.``)."""


class Error(EnvironmentError):
    """``copyfile``/``copytree`` failures (the same file twice; the list of what failed)."""
