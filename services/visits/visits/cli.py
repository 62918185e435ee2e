"""Operator commands of the visits service: `campo-visits migrate`."""

import argparse

from shared.migrations import upgrade
from visits.settings import VisitsSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="campo-visits")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the visits schema migrations")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade(VisitsSettings().database_url, "visits")


if __name__ == "__main__":
    main()
