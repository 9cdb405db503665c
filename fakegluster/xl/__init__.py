"""Pure algorithms of GlusterFS's cluster translators, shared by the client and the server.

No IO, no trio: bytes and numbers in, bytes and numbers out.

* :mod:`fakegluster.xl.dht` -- cluster/distribute: the Davies-Meyer name hash with its
  name munging, directory layouts (``trusted.glusterfs.dht``) and how a new directory's
  layout is laid out.
* :mod:`fakegluster.xl.ec` -- cluster/disperse: the Reed-Solomon codec over GF(2^8) in
  disperse's bit-sliced fragment layout, and the ``trusted.ec.*`` xattrs.
* :mod:`fakegluster.xl.afr` -- cluster/replicate: the changelog xattrs (``trusted.afr.*``),
  the pending matrix, readable bricks and the heal direction.

Each was checked against a real GlusterFS 10.3 volume (tests/xl/: names placed by a real
client, fragments a real client wrote, changelogs of a real heal).
"""
