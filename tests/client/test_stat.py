"""Conversions: gfx_iattx -> os.stat_result, gf_statfs -> os.statvfs_result, open flags."""

from __future__ import annotations

import os
import stat

import pytest

from fakegluster.proto.common import GfStatfs, GfxIattx
from gfclient.stat import GF_O, dtype_to_mode, gf_flags, mode_flags, stat_result, statvfs_result


def test_stat_result_from_iattx():
    ia = GfxIattx(
        ia_gfid=bytes(8) + (0x9C9CD97CBB8CB002).to_bytes(8, "big"),
        ia_ino=0x9C9CD97CBB8CB002,
        ia_dev=0xFE00,
        ia_size=1 << 20,
        ia_blocks=8,
        ia_atime=10,
        ia_mtime=20,
        ia_ctime=30,
        ia_atime_nsec=1,
        ia_mtime_nsec=500_000_000,
        ia_ctime_nsec=999_999_999,
        ia_nlink=2,
        ia_uid=7,
        ia_gid=8,
        ia_blksize=4096,
        mode=0o100600,
    )
    st = stat_result(ia)
    assert isinstance(st, os.stat_result)
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid) == (0x9C9CD97CBB8CB002, 0xFE00, 2, 7, 8)
    assert (st.st_size, st.st_blocks, st.st_blksize) == (1 << 20, 8, 4096)
    assert (st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns) == (10_000_000_001, 20_500_000_000, 30_999_999_999)
    assert st.st_mtime == 20.5 and st[stat.ST_MTIME] == 20


def test_statvfs_result():
    sv = statvfs_result(GfStatfs(4096, 4096, 100, 50, 40, 10, 5, 4, 0xC37380A78521DE7C, 4096, 255))
    assert (sv.f_bsize, sv.f_blocks, sv.f_bfree, sv.f_bavail, sv.f_files, sv.f_ffree, sv.f_favail) == (
        4096,
        100,
        50,
        40,
        10,
        5,
        4,
    )
    assert (sv.f_flag, sv.f_namemax, sv.f_fsid) == (4096, 255, 0xC37380A78521DE7C)


@pytest.mark.parametrize(
    "mode,flags",
    [
        ("r", os.O_RDONLY),
        ("rb", os.O_RDONLY),
        ("r+", os.O_RDWR),
        ("w", os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ("w+b", os.O_RDWR | os.O_CREAT | os.O_TRUNC),
        ("a", os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        ("a+", os.O_RDWR | os.O_CREAT | os.O_APPEND),
        ("x", os.O_WRONLY | os.O_CREAT | os.O_EXCL),
    ],
)
def test_mode_flags(mode, flags):
    assert mode_flags(mode) == flags


@pytest.mark.parametrize("mode", ["", "rw", "r++", "q", "rr", "bb"])
def test_bad_modes(mode):
    with pytest.raises(ValueError):
        mode_flags(mode)


def test_gf_flags_are_the_linux_numbers():
    assert gf_flags(os.O_WRONLY | os.O_CREAT | os.O_TRUNC) == 0o1101  # qemu-img create's CREATE
    assert gf_flags(os.O_RDWR | os.O_APPEND | os.O_EXCL) == GF_O["O_RDWR"] | GF_O["O_APPEND"] | GF_O["O_EXCL"]
    assert gf_flags(os.O_DIRECTORY | os.O_NOFOLLOW) == 0o600000


def test_dtype_to_mode():
    assert dtype_to_mode(4) == stat.S_IFDIR and dtype_to_mode(8) == stat.S_IFREG and dtype_to_mode(10) == stat.S_IFLNK
    assert dtype_to_mode(0) == 0
