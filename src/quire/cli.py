"""The ``quire`` command line (placeholder until the CLI lands)."""


def main() -> None:
    """Entry point."""
    raise SystemExit("quire: CLI not built yet")
