"""A volume spec checked and turned into glusterd's model, as ``volume create ... force``
and ``volume set`` would (:mod:`fakegluster.mgmt.create`, :mod:`fakegluster.mgmt.options`),
without touching anything and without trio: ``fakegluster serve`` plans its volumes before
the server is imported (:mod:`.early`), :class:`~.runtime.Cluster` when it creates one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from ..mgmt import create, model, options
from .auth import server_options
from .node import Node, find_node

if TYPE_CHECKING:
    from .volspec import VolumeSpec

__all__ = ["ClusterError", "plan_volume"]


class ClusterError(ValueError):
    """An impossible request (unknown volume, brick, node; a spec glusterd would refuse)."""


def plan_volume(nodes: Sequence[Node], spec: VolumeSpec, others: Iterable[model.Volume] = ()) -> model.Volume:
    """The volume ``spec`` describes on ``nodes`` (bricks without a host go round them),
    checked as ``volume create ... force`` checks it (``glusterd_op_stage_create_volume``,
    ``glusterd_op_create_volume``), then its options set as ``volume set`` stages them."""
    others = list(others)
    words = []
    for i, (host, path) in enumerate(spec.brick_words([n.host for n in nodes])):
        node = nodes[i % len(nodes)] if host is None else find_node(nodes, host)
        if node is None:
            known = ", ".join(sorted({n for nd in nodes for n in nd.names()}))
            raise ClusterError(f"volume {spec.name}: brick {host}:{path}: no such node (nodes: {known})")
        words.append(f"{node.host}:{path}")

    def resolve_host(host: str) -> str | None:  # glusterd_hostname_to_uuid
        node = find_node(nodes, host)
        return node.uuid if node is not None else None

    try:
        req = create.cli_create_request(spec.name, words, **spec.create_args())
        new = create.stage_create(req, others, resolve_host)
        vol = create.commit_create(req, new)
    except model.VolumeError as exc:
        raise ClusterError(f"volume {spec.name}: {exc.message or 'refused by the gluster CLI'}") from None
    if spec.store is not None and vol.brick_count != 1:
        raise ClusterError(f"volume {spec.name}: a ready store serves a one-brick volume only")
    try:
        if spec.options:  # volume set, as glusterd stages and stores it
            options.set_options(vol, list(spec.options.items()), [*others, vol], strict=True)
        server_options("/", None, None, vol.options)
    except (model.VolumeError, ValueError) as exc:
        raise ClusterError(f"volume {spec.name}: {getattr(exc, 'message', exc)}") from None
    options.update_op_versions(vol)
    return vol
