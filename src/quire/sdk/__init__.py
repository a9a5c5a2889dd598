"""The W&B-style user API: runs, artifacts, tables and the public read API."""
