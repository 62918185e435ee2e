"""Operator commands of the reporting service.

`campo-reporting migrate` applies the schema migrations. `campo-reporting
rebuild` empties the read models and replays every topic into them; see
`reporting.rebuild` for what it touches and what it leaves alone. The
rebuild runs as `campo_operator` and is audited under `--operator`.
`campo-reporting deliver` runs the webhook delivery worker until SIGTERM or
SIGINT, for API processes started with REPORTING_DELIVERY_IN_PROCESS=false.
"""

import argparse
import asyncio
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from reporting.app import create_delivery_app
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
    commands.add_parser(
        "deliver",
        help="run the webhook delivery worker in this process until stopped; "
        "set REPORTING_DELIVERY_IN_PROCESS=false on the API processes",
    )
    args = parser.parse_args(argv)
    if args.command == "deliver":
        run_event_loop(deliver_until_stopped(ReportingSettings()))
    elif args.command == "migrate":
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


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run on uvloop where uvicorn[standard] installed it, as the API does.

    The worker spends most of its time writing POSTs to sockets, which
    uvloop does for a fraction of the CPU of the standard loop.
    """
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


async def deliver_until_stopped(settings: ReportingSettings) -> None:
    """Run the delivery worker; on a signal, flush its outcomes and return."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stopped.set)
    app = create_delivery_app(settings)
    async with app.router.lifespan_context(app):
        await stopped.wait()


if __name__ == "__main__":
    main()
