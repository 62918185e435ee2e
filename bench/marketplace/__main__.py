"""Compare matching's batched dispatcher with a greedy one on a simulated city.

    uv run --group bench python -m bench.marketplace [--agents N] [--visits N]
        [--weights W,W,W,W,W,W] [--same-speed] [--intervals M,M,...]

Simulates a day of visit requests in Mexico City and the three days after
it once per column: the greedy baseline whose agents keep acceptance
order, the same dispatch with agents that follow the day route, and our
batched dispatcher with routed agents, scoring travel as the detour a
visit adds to the agent's route. Then our dispatcher again at longer batch
intervals, and one batch of 50,000 visits over 5,000 agents timed. It
prints each column's figures, the ratios the targets are stated in, and
whether each target is met. Every column meets the same city, agents,
visits and answers.
"""

import argparse
import dataclasses
import os
import time
from collections.abc import Mapping

from bench.marketplace.city import as_profile, as_request, at, build_city
from bench.marketplace.dispatchers import BatchedFlow, NearestFree
from bench.marketplace.simulation import Dispatcher, Outcome, Simulation
from matching.batch import build_graph, greedy, solve_batch
from matching.models import TravelMode
from matching.ranking import RankScales, RankWeights, ranking_from_settings
from matching.settings import MatchingSettings

SEED = 7
TARGET_SHARE = 0.95
TARGET_DISTANCE_RATIO = 0.9
TARGET_LARGE_BATCH_SECONDS = 10.0


def main() -> None:
    started = time.perf_counter()
    options = _arguments()
    print(f"load average at start: {_load()}")
    weights, scales = _ranking(options)
    # Agents travel at the settings' speeds, whatever speeds ranking assumes.
    speeds_kmh = ranking_from_settings(MatchingSettings())[1].speeds_kmh

    def ours(interval: int) -> BatchedFlow:
        return BatchedFlow(
            weights=weights,
            scales=scales,
            k=options.k,
            interval_minutes=interval,
            detours=True,
            name=f"batched + route, every {interval} min",
        )

    columns: list[tuple[Dispatcher, bool]] = [
        (NearestFree(name="greedy, acceptance order"), False),
        (NearestFree(name="greedy + route"), True),
        (ours(2), True),
    ]
    outcomes = [_simulate(d, routed, options, speeds_kmh) for d, routed in columns]
    print(
        f"city: {outcomes[0].places} real localities within 45 km of the Zócalo, "
        f"{options.agents} agents x {options.capacity} visits a day, "
        f"{options.visits} requests, {outcomes[0].outcome.in_coverage} in coverage"
    )
    for run in outcomes:
        _print_outcome(run.outcome)
    greedy_km = outcomes[0].outcome.travel_km
    for interval in _intervals(options):
        run = _simulate(ours(interval), True, options, speeds_kmh)
        _print_outcome(run.outcome)
        _print_trade_off(run.outcome, greedy_km)
    seconds = _large_batch(
        options.large_visits, options.large_agents, options.k, weights, scales
    )
    _print_targets(
        outcomes[0].outcome, outcomes[2].outcome, large_batch_seconds=seconds
    )
    print(
        f"benchmark took {time.perf_counter() - started:.0f} s; "
        f"load average at the end: {_load()}"
    )


@dataclasses.dataclass(frozen=True)
class Run:
    places: int
    outcome: Outcome


def _simulate(
    dispatcher: Dispatcher,
    routed: bool,
    options: argparse.Namespace,
    speeds_kmh: Mapping[TravelMode, float],
) -> Run:
    """Play one column on a freshly built city, the same for every column."""
    city = build_city(
        agents=options.agents,
        visits=options.visits,
        capacity=options.capacity,
        seed=SEED,
    )
    simulation = Simulation(
        city, dispatcher, speeds_kmh=speeds_kmh, seed=SEED, routed=routed
    )
    return Run(places=city.places, outcome=simulation.run())


def _intervals(options: argparse.Namespace) -> list[int]:
    return [int(m) for m in options.intervals.split(",") if m.strip()]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _print_trade_off(outcome: Outcome, greedy_km: float) -> None:
    print(
        f"  trade-off: assigned within 1 h "
        f"{outcome.assigned_within_hour / outcome.in_coverage:.1%}, travel "
        f"{outcome.travel_km / greedy_km:.3f}x greedy"
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.marketplace")
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--visits", type=int, default=2000)
    parser.add_argument("--capacity", type=int, default=10)
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--large-visits", type=int, default=50_000)
    parser.add_argument("--large-agents", type=int, default=5_000)
    parser.add_argument(
        "--weights",
        help="Rank weights in the order travel, slack, balance, days past due, "
        "reliability, new agent; the MATCHING_RANK_ settings by default.",
    )
    parser.add_argument(
        "--same-speed",
        action="store_true",
        help="Rank every travel mode at one speed, so travel time follows distance.",
    )
    parser.add_argument(
        "--intervals",
        default="5,10,15",
        help="Longer batch intervals, in minutes, to run our dispatcher at too; "
        "empty for none.",
    )
    return parser.parse_args()


def _ranking(options: argparse.Namespace) -> tuple[RankWeights, RankScales]:
    weights, scales = ranking_from_settings(MatchingSettings())
    if options.weights:
        weights = RankWeights(*(float(w) for w in options.weights.split(",")))
    if options.same_speed:
        one = dict.fromkeys(scales.speeds_kmh, 20.0)
        scales = dataclasses.replace(scales, speeds_kmh=one)
    print(f"ranking: {weights}, speeds {dict(scales.speeds_kmh)}")
    return weights, scales


def _print_outcome(outcome: Outcome) -> None:
    clock = outcome.clock
    print(
        f"{outcome.dispatcher}: assigned within 1 h "
        f"{outcome.assigned_within_hour / outcome.in_coverage:.1%}, visited within "
        f"72 h {outcome.visited_within_72h / outcome.in_coverage:.1%}, "
        f"assigned {outcome.assignments}, travel {outcome.travel_km:,.0f} km "
        f"({outcome.travel_km / max(outcome.assignments, 1):.2f} km a visit), "
        f"travel time {outcome.travel_hours:,.0f} h, "
        f"offers per assignment {outcome.offers / max(outcome.assignments, 1):.2f}, "
        f"solver {clock.seconds:.2f} s over {clock.calls} calls "
        f"(slowest {clock.slowest * 1000:.0f} ms, greedy fallbacks "
        f"{clock.greedy_fallbacks})"
    )


def _large_batch(
    visits: int, agents: int, k: int, weights: RankWeights, scales: RankScales
) -> float:
    city = build_city(agents=agents, visits=visits, capacity=10, seed=SEED)
    requests = [as_request(v) for v in city.visits]
    profiles = [as_profile(a, minute=0) for a in city.agents]
    options = {"weights": weights, "scales": scales, "now": at(0), "k": k}
    started = time.perf_counter()
    graph = build_graph(requests, profiles, **options)
    graph_seconds = time.perf_counter() - started
    started = time.perf_counter()
    greedy_assigned = int(greedy(graph).sum())
    greedy_seconds = time.perf_counter() - started
    result = solve_batch(requests, profiles, time_limit_seconds=60, **options)
    print(
        f"one batch: {visits} visits x {agents} agents, k={k}: {result.edges} edges, "
        f"pruning and scoring {graph_seconds:.2f} s, whole batch "
        f"{result.seconds:.2f} s with {result.solver}, "
        f"{len(result.assignments)} assigned, {len(result.queued)} queued; "
        f"a greedy pass over the same graph assigned {greedy_assigned} "
        f"in {greedy_seconds:.2f} s"
    )
    return result.seconds


def _print_targets(
    greedy: Outcome, batched: Outcome, *, large_batch_seconds: float
) -> None:
    checks = [
        (
            "assigned within 1 h",
            batched.assigned_within_hour / batched.in_coverage,
            batched.assigned_within_hour / batched.in_coverage >= TARGET_SHARE,
            f">= {TARGET_SHARE:.0%}",
        ),
        (
            "visited within 72 h",
            batched.visited_within_72h / batched.in_coverage,
            batched.visited_within_72h / batched.in_coverage >= TARGET_SHARE,
            f">= {TARGET_SHARE:.0%}",
        ),
        (
            "travel vs greedy",
            batched.travel_km / greedy.travel_km,
            batched.travel_km / greedy.travel_km <= TARGET_DISTANCE_RATIO,
            f"<= {TARGET_DISTANCE_RATIO}x",
        ),
        (
            "50k x 5k batch seconds",
            large_batch_seconds,
            large_batch_seconds < TARGET_LARGE_BATCH_SECONDS,
            f"< {TARGET_LARGE_BATCH_SECONDS:.0f} s",
        ),
    ]
    for name, value, met, target in checks:
        print(f"target {name}: {value:.3f} ({target}): {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
