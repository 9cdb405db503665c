"""glusterd's management plane as pure data and functions (no IO).

* :mod:`.model`: volumes and bricks as glusterd keeps them (``glusterd_volinfo_t`` /
  ``glusterd_brickinfo_t``).
* :mod:`.create`: ``volume create``: the CLI's and glusterd's checks with their exact texts.
* :mod:`.options`: glusterd 10.3's option table, ``volume set/reset/get`` semantics.
* :mod:`.volgen`: the volfiles glusterd writes (client, trusted client, brick).
"""
