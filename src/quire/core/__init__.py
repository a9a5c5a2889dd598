"""Core: manifests, hashing, staging, the local cache and references (no SQL, no runs)."""
