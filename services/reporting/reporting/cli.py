"""Operator commands of the reporting service.

`campo-reporting migrate` applies the schema migrations. `campo-reporting
rebuild` empties the read models and replays every topic into them; see
`reporting.rebuild` for what it touches and what it leaves alone. The
rebuild runs as `campo_operator` and is audited under `--operator`.
"""

import argparse
import asyncio
import sys

from reporting.rebuild import ReadModelsBusyError, rebuild_read_models
from reporting.settings import ReportingSettings
from shared.migrations import upgrade
from shared.operator_audit import add_operator_option


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="campo-reporting")
    add_operator_option(parser)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply the reporting schema migrations")
    commands.add_parser(
        "rebuild",
        help="empty the read models (visit_facts, campaigns, accounts) and "
        "replay every topic from its earliest offset into them",
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        upgrade(ReportingSettings().database_url, "reporting")
    elif args.command == "rebuild":
        try:
            report = asyncio.run(
                rebuild_read_models(ReportingSettings(), operator=args.operator)
            )
        except ReadModelsBusyError as error:
            sys.exit(f"campo-reporting rebuild: {error}")
        print(report.summary())
        for example in report.skipped_examples:
            print(f"  skipped {example}")


if __name__ == "__main__":
    main()
