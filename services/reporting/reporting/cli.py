"""Operator commands of the reporting service: `campo-reporting migrate`."""

import argparse

from reporting.settings import ReportingSettings
from shared.migrations import upgrade


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="campo-reporting")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the reporting schema migrations")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade(ReportingSettings().database_url, "reporting")


if __name__ == "__main__":
    main()
