"""Helpers for testing with fakegluster and against a real GlusterFS.

* :mod:`.plugin` — the pytest plugin: ``fakegluster`` and ``fakegluster_factory`` fixtures
  (in-process servers).
* :mod:`.serve` — ``fakegluster serve`` as a child process: :func:`~.serve.serve_process`
  starts it and returns once it printed ``ready``.
* :mod:`.realgluster` — a real GlusterFS 10.3 (glusterd, volumes, bricks) driven for tests,
  shared safely by several sessions.
* :mod:`.procs` — process-table helpers and the runners of libgfapi tools (qemu-img, qemu-io,
  fio), which take ~10 s to exit and now and then crash in ``glfs_fini``.
"""
