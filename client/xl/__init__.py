"""gfclient's client-graph translators: :mod:`.base` (the subvolume interface),
:mod:`.protocol` (a brick), :mod:`.dht`, :mod:`.afr`, :mod:`.ec` (the cluster translators)."""
