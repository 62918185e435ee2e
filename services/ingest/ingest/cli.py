"""Operator commands of the ingest service: `campo-ingest migrate`."""

import argparse

from ingest.settings import IngestSettings
from shared.migrations import upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="campo-ingest")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the ingest schema migrations")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade(IngestSettings().database_url, "ingest")


if __name__ == "__main__":
    main()
