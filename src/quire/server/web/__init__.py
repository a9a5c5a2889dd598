"""The web UI: pages of the store served by ``quire server`` (server-rendered HTML)."""
