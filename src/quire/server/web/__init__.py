"""The web UI of ``quire server``: HTML pages over a store, for reading it in a browser (issue 15)."""
