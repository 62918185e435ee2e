"""The aggregate SQL columns behind every figure, over rows of `visit_facts`.

One builder serves the campaign summary and every breakdown (agent, zone,
day, leaderboard), so a figure means the same wherever it is shown. The
definitions are those of the product. Contact is meeting the debtor or a
guarantor, and located is a debtor who lives at the address. The promise
rate is over visits with contact, and time to first visit runs to the
first verified check-in.

`when` narrows each figure to the rows whose own event happened in a day or
a period: a visit requested on Monday and completed on Tuesday counts as
requested on Monday and completed on Tuesday.
"""

from collections.abc import Callable
from typing import Any

from sqlalchemy import ColumnElement, Interval, and_, cast, func, literal, true

from reporting.models import FINAL_STATES, VisitFact

FIRST_VISIT_WINDOW = "72 hours"

When = Callable[[ColumnElement[Any]], ColumnElement[bool]]

fact = VisitFact
rejected = and_(fact.rejected_at.is_not(None), fact.rejection_overturned_at.is_(None))
# A rejected visit is not completed; an overturned appeal makes it completed again.
completed = and_(fact.completed_at.is_not(None), ~rejected)
contact = and_(completed, fact.person_met.in_(("debtor", "guarantor")))
promised = and_(completed, fact.promise_amount.is_not(None))
# A visit the campaign withdrew before the agent got there does not count
# against the first-visit window, like one no agent could reach.
in_coverage = and_(fact.out_of_coverage_at.is_(None), fact.cancelled_at.is_(None))
to_first_visit = fact.first_verified_check_in_at - fact.requested_at
within_window = to_first_visit <= cast(literal(FIRST_VISIT_WINDOW), Interval)
# Credit goes to the agent who filed the result, else to the latest holder.
agent_of_visit = func.coalesce(fact.completed_agent_id, fact.agent_id)


def always(_: ColumnElement[Any]) -> ColumnElement[bool]:
    return true()


def figure_columns(currency: str, when: When | None = None) -> list[Any]:
    """Build the labelled aggregates; `when` picks the rows counted per event."""
    on = when or always
    on_requested = on(fact.requested_at) if when else true()
    on_completed = on(fact.completed_at)

    def count(*conditions: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count().filter(and_(true(), *conditions))

    def total(value: ColumnElement[Any], *conditions: ColumnElement[bool]) -> Any:
        return func.sum(value).filter(and_(*conditions))

    in_currency = fact.promise_currency == currency
    columns = [
        func.count(func.distinct(fact.account_id))
        .filter(on_requested)
        .label("accounts_visited"),
        count(on_requested).label("visits_requested"),
        count(fact.assigned_at.is_not(None), on(fact.assigned_at)).label(
            "visits_assigned"
        ),
        count(fact.first_check_in_at.is_not(None), on(fact.first_check_in_at)).label(
            "visits_checked_in"
        ),
        count(
            fact.first_verified_check_in_at.is_not(None),
            on(fact.first_verified_check_in_at),
        ).label("visits_visited"),
        count(completed, on_completed).label("visits_completed"),
        count(rejected, on(fact.rejected_at)).label("visits_rejected"),
        count(fact.out_of_coverage_at.is_not(None), on(fact.out_of_coverage_at)).label(
            "visits_out_of_coverage"
        ),
        count(fact.expired_at.is_not(None), on(fact.expired_at)).label(
            "visits_expired"
        ),
        count(fact.cancelled_at.is_not(None), on(fact.cancelled_at)).label(
            "visits_cancelled"
        ),
        count(fact.state.in_(FINAL_STATES), on_requested).label("visits_final"),
        count(fact.state.not_in(FINAL_STATES), on_requested).label("visits_open"),
        count(contact, on_completed).label("contacts"),
        count(completed, fact.debtor_lives_there.is_(True), on_completed).label(
            "located"
        ),
        count(promised, on_completed).label("promises"),
        count(contact, promised, on_completed).label("promises_with_contact"),
        total(fact.promise_amount, promised, in_currency, on_completed).label(
            "promised_amount"
        ),
        *_promise_outcomes(on_completed, in_currency),
        count(fact.flagged.is_(True), on_completed).label("visits_flagged"),
        count(completed, fact.completed_at <= fact.deadline, on_completed).label(
            "completed_within_deadline"
        ),
        count(in_coverage, on_requested).label("in_coverage"),
        count(in_coverage, within_window, on_requested).label("visited_within_window"),
    ]
    return columns + _percentile_columns(on)


def _promise_outcomes(
    on_completed: ColumnElement[bool], in_currency: ColumnElement[bool]
) -> list[Any]:
    status = fact.promise_status
    counted = and_(promised, on_completed)
    return [
        func.count().filter(counted, status == "kept").label("promises_kept"),
        func.count()
        .filter(counted, status == "partly_kept")
        .label("promises_partly_kept"),
        func.count().filter(counted, status == "broken").label("promises_broken"),
        func.sum(fact.promise_amount_paid)
        .filter(counted, in_currency)
        .label("kept_amount"),
    ]


def _percentile_columns(on: When) -> list[Any]:
    durations = {
        "time_to_assignment": (fact.assigned_at - fact.requested_at, fact.assigned_at),
        "time_to_first_visit": (to_first_visit, fact.first_verified_check_in_at),
        "time_to_result": (fact.completed_at - fact.requested_at, fact.completed_at),
    }
    columns = []
    for name, (interval, at) in durations.items():
        # date_part gives float8; extract gives numeric, which sorts far slower.
        seconds = func.date_part("epoch", interval)
        for percent in (50, 90):
            # Ordered-set aggregates skip nulls, so visits not there yet are ignored.
            percentile = (
                func.percentile_cont(percent / 100).within_group(seconds).filter(on(at))
            )
            columns.append(percentile.label(f"{name}_p{percent}"))
    return columns
