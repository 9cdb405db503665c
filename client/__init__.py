"""gfclient: a pure-Python client of the GlusterFS 10.x wire protocol."""
