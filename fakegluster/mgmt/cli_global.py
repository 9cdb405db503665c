"""``volume get all ...`` and ``volume set all ...``: glusterd's cluster-wide options; ``volume
set help``: the option docs (:func:`set_help`).

``volume get all KEY|all`` is ``glusterd_get_global_options_for_all_vols``
(``glusterd-utils.c``): the rows of ``valid_all_vol_opts`` (:data:`.options.ALL_VOLUME_OPTIONS`),
a value glusterd's ``opts`` does not hold as ``"DEFAULT (DEFAULT)"``, ``cluster.op-version`` as
the cluster's op-version and ``cluster.max-op-version`` as the highest every peer supports (both
:data:`.model.OP_VERSION_MAX` on a fake pool, whose nodes all run "10.3").

``volume set all KEY VALUE`` is staged as ``glusterd_op_stage_set_volume`` does for the volume
name ``all`` (unknown key, ``ALL_VOLUME_OPTION_CHECK``, the op-version rules); a change that
passes is refused with "not supported by fakegluster": the fake runs none of the daemons these
options steer (shared storage, brick multiplexing, server quorum), and an option it cannot
honour is refused rather than ignored.
"""

from __future__ import annotations

from collections.abc import Sequence

from .checks import volopt_validate
from .graph import volinfo_get
from .model import OP_VERSION_MAX, VolumeError
from .optable import VolOpt, key_exists, volopt_map, xlator_options
from .options import ALL_VOLUME_OPTIONS

__all__ = ["get_global", "stage_set_global", "set_help", "NOT_SUPPORTED_SET_ALL"]

#: what a ``volume set all`` that passed glusterd's checks gets from the fake
NOT_SUPPORTED_SET_ALL = "volume set all {} is not supported by fakegluster"

GD_OP_VERSION_MIN = 1  # globals.h
OP_VERSION_KEY = "cluster.op-version"  # GLUSTERD_GLOBAL_OP_VERSION_KEY
MAX_OP_VERSION_KEY = "cluster.max-op-version"  # GLUSTERD_MAX_OP_VERSION_KEY


def _check_all(key: str, get: bool) -> None:
    """``ALL_VOLUME_OPTION_CHECK("all", get, key, ...)`` (glusterd-utils.h)."""
    if not get and key in ("all", MAX_OP_VERSION_KEY):
        raise VolumeError("Not a valid option to set")
    if key != "all" and key not in ALL_VOLUME_OPTIONS:
        raise VolumeError("Not a valid option for all volumes")


def get_global(key: str, op_version: int = OP_VERSION_MAX) -> list[tuple[str, str]]:
    """The (key, value) rows of ``volume get all KEY`` (``all``: every global option, in
    ``valid_all_vol_opts`` order); :class:`VolumeError` with glusterd's op_errstr."""
    all_opts = key.lower() == "all"
    if not all_opts:
        exists, fixed = key_exists(key)
        if not exists:
            raise VolumeError(f"Did you mean {fixed}?" if fixed else f"Option with name: {key} does not exist")
        key = fixed or key
    _check_all("all" if all_opts else key, True)
    rows = []
    for opt, default in ALL_VOLUME_OPTIONS.items():
        if not all_opts and opt != key:
            continue
        if opt == MAX_OP_VERSION_KEY:  # glusterd_get_global_max_op_version
            rows.append((opt, str(OP_VERSION_MAX)))
        elif opt == OP_VERSION_KEY:  # not in priv->opts until set: priv->op_version
            rows.append((opt, str(op_version)))
        else:
            rows.append((opt, f"{default} (DEFAULT)"))
    return rows


def _uint(text: str) -> int | None:
    """``gf_string2uint``: strtoul with base 0, no sign, the whole string."""
    s = text.strip()
    if not s or s[0] in "+-":
        return None
    try:
        value = int(s, 0) if not (len(s) > 1 and s[0] == "0" and s[1].isdigit()) else int(s, 8)
    except ValueError:
        return None
    return value if value < 2**64 else None


def stage_set_global(pairs: Sequence[tuple[str, str]], op_version: int = OP_VERSION_MAX) -> None:
    """``volume set all K V ...`` as glusterd stages it; always raises :class:`VolumeError`
    (glusterd's refusal, or :data:`NOT_SUPPORTED_SET_ALL` for a change that passes)."""
    if not pairs:
        raise VolumeError("Options not specified")
    for count, (key, value) in enumerate(pairs, 1):
        volopt_validate(None, key, value, volinfo_get)  # glusterd_volopt_validate, no volinfo
        exists, fixed = key_exists(key)
        if not exists:
            raise VolumeError(f"option : {key} does not exist" + (f"\nDid you mean {fixed}?" if fixed else ""))
        key = fixed or key
        if key == OP_VERSION_KEY:
            if count != 1:
                raise VolumeError(f'Option "{key}" cannot be set along with other options')
            wanted = _uint(value)
            if wanted is None:
                raise VolumeError(f'invalid number format "{value}" in option "{key}"')
            if wanted > OP_VERSION_MAX or wanted < GD_OP_VERSION_MIN:
                raise VolumeError(
                    f"Required op_version ({wanted}) is not supported. Max supported op version is {op_version}"
                )
            if wanted <= op_version:
                raise VolumeError(
                    f"Required op-version ({wanted}) should not be equal or lower than current cluster "
                    f"op-version ({op_version})."
                )
            continue  # unreachable on a fake pool: it runs at the highest op-version already
        _check_all(key, False)
    raise VolumeError(NOT_SUPPORTED_SET_ALL.format(" ".join(k for k, _ in pairs)))


OPT_FLAG_RANGE = 1 << 6  # options.h: the description gets the range appended


def _volopt_doc(vme: VolOpt) -> tuple[str | None, str | None] | None:
    """(default, description) of a documented map entry, None when glusterd skips it
    (``glusterd_get_volopt_content``: the entry's own text, else the translator's option via
    ``xlator_option_info_list``)."""
    if vme.description:
        return vme.value, vme.description
    key = vme.xlator_key
    for opt in xlator_options(vme.voltype) or ():
        if opt.matches(key):
            if opt.flags & OPT_FLAG_RANGE:
                return opt.default, f"{opt.description} Minimum value is {opt.min:.0f}, maximum value is {opt.max:.0f}."
            return opt.default, opt.description
    return None


def _xml_text(s: str) -> str:
    """Element text as libxml2's writer escapes it (``xmlTextWriterWriteString``: quotes too)."""
    # xml.sax.saxutils.escape's replacements, without importing it (it pulls in urllib.request,
    # http.client and email: ~10 ms of every server start)
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return s.replace('"', "&quot;").replace("\r", "&#13;")


def set_help(xml: bool = False) -> str:
    """``volume set help`` / ``help-xml``: the documented options with their defaults, the
    ``help-str`` glusterd replies with (``glusterd_get_volopt_content``; the XML is what
    libxml2's text writer makes of ``xml_add_volset_element``)."""
    text = []
    for vme in volopt_map():
        if vme.type in ("NO_DOC", "GLOBAL_NO_DOC"):
            continue
        doc = _volopt_doc(vme)
        if doc is None:
            continue
        default, descr = ("(null)" if s is None else s for s in doc)
        if xml:
            text.append(
                f"<option><defaultValue>{_xml_text(default)}</defaultValue><description>{_xml_text(descr)}"
                f"</description><name>{_xml_text(vme.key)}</name></option>"
            )
        else:
            text.append(f"Option: {vme.key}\nDefault Value: {default}\nDescription: {descr}\n\n")
    if xml:
        return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<options>' + "".join(text) + "</options>\n"
    return "".join(text)
