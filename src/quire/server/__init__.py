"""``quire server``: the HTTP API over a store (``pip install 'quire[server]'``).

The server is a thin layer over the store's protocols: the catalog's verbs and the
object store's keys, behind API keys with scopes. It keeps no state of its own, so any
number of replicas can serve one store. See ``docs/server.md``.
"""
