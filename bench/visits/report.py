"""Figures of one run at one rate, and the table that compares the targets."""

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

TARGET_RATE = 500
TARGET_SHARE_OF_CEILING = 0.5
TARGET_P99_MS = 50.0
# A run that responds to under 90 % of the offered rate, or fails over 1 % of
# its requests, marks the server saturated.
SATURATED_SHARE = 0.9
SATURATED_ERRORS = 0.01


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def succeeded(outcome: dict[str, Any]) -> bool:
    status = outcome["status"]
    return isinstance(status, int) and 200 <= status < 300


@dataclass(frozen=True)
class Figures:
    target: str
    rate: int
    sent: int
    results_per_s: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    result_p99_ms: float
    errors: int
    error_kinds: dict[str, int]
    lag_p99_ms: float
    cpu_ms_per_pair: float
    """Server CPU per check-in and result, the requests given up on included."""


def figures(
    target: str,
    rate: int,
    duration: float,
    outcomes: list[dict[str, Any]],
    *,
    cpu: float,
) -> Figures:
    """Summarise one run; throughput counts 2xx responses over the run's span.

    The span ends at the scheduled end or at the last response, whichever is
    later, so a server that falls behind shows a lower rate than was sent.
    `cpu` is the server's CPU seconds over the run and until it was idle:
    unlike latency, it barely moves when other programs share the cores.
    """
    ok = [o for o in outcomes if succeeded(o)]
    span = max([duration, *(o["done_s"] for o in outcomes)])
    latencies = [o["latency_ms"] for o in outcomes]
    results = [o for o in ok if o["kind"] == "result"]
    errors = Counter(f"{o['kind']} {o['status']}" for o in outcomes if not succeeded(o))
    return Figures(
        target=target,
        rate=rate,
        sent=len(outcomes),
        results_per_s=len(results) / span,
        requests_per_s=len(ok) / span,
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        result_p99_ms=percentile(
            [o["latency_ms"] for o in outcomes if o["kind"] == "result"], 0.99
        ),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        lag_p99_ms=percentile([o["lag_ms"] for o in outcomes], 0.99),
        cpu_ms_per_pair=cpu * 1000 / max(1, len(outcomes) / 2),
    )


def is_saturated(figure: Figures) -> bool:
    return (
        figure.results_per_s < SATURATED_SHARE * figure.rate
        or figure.errors > SATURATED_ERRORS * figure.sent
    )


HEADER = (
    f"{'results/s':>9} {'target':<8} {'sent':>6} {'res/s':>7} {'req/s':>7} "
    f"{'p50 ms':>7} {'p99 ms':>7} {'res p99':>8} {'errors':>6} {'lag p99':>8} "
    f"{'cpu/pair':>8} {'ratio':>6}"
)


def row(figure: Figures, ceiling: Figures | None) -> str:
    ratio = ""
    if ceiling is not None and figure is not ceiling and ceiling.results_per_s:
        ratio = f"{figure.results_per_s / ceiling.results_per_s:6.2f}"
    return (
        f"{figure.rate:>9} {figure.target:<8} {figure.sent:>6} "
        f"{figure.results_per_s:>7.0f} {figure.requests_per_s:>7.0f} "
        f"{figure.p50_ms:>7.1f} {figure.p99_ms:>7.1f} {figure.result_p99_ms:>8.1f} "
        f"{figure.errors:>6} {figure.lag_p99_ms:>8.1f} "
        f"{figure.cpu_ms_per_pair:>8.1f} {ratio:>6}"
    )


def print_table(runs: list[Figures]) -> None:
    print(HEADER)
    ceilings = {f.rate: f for f in runs if f.target == "ceiling"}
    for figure in runs:
        print(row(figure, ceilings.get(figure.rate)))
    for figure in runs:
        if figure.error_kinds:
            kinds = ", ".join(
                f"{k}: {n}" for k, n in sorted(figure.error_kinds.items())
            )
            print(f"  errors of {figure.target} at {figure.rate}/s: {kinds}")


def print_verdict(runs: list[Figures]) -> None:
    """Judge the targets: half the ceiling's peak, p99 under 50 ms at 500/s.

    Throughput is each server's peak of results a second with a 2xx response, so a
    server that saturated below 500/s is judged on what it reached.
    """
    peaks = {
        target: max(f.results_per_s for f in runs if f.target == target)
        for target in {f.target for f in runs}
    }
    if "service" not in peaks or "ceiling" not in peaks:
        print("Targets: not judged, the run did not measure both servers")
        return
    share = peaks["service"] / peaks["ceiling"]
    print_cpu_capacity(runs)
    if not any(is_saturated(f) for f in runs if f.target == "ceiling"):
        print("The ceiling did not saturate: its peak is the highest rate sent.")
    print(
        f"Peak results/s: service {peaks['service']:.0f}, "
        f"ceiling {peaks['ceiling']:.0f}"
    )
    print("Targets:")
    verdict(
        "peak service / ceiling",
        f"{share:.2f}",
        f"at least {TARGET_SHARE_OF_CEILING}",
        share >= TARGET_SHARE_OF_CEILING,
    )
    at_target = [f for f in runs if f.target == "service" and f.rate == TARGET_RATE]
    if not at_target:
        verdict(
            f"p99 at {TARGET_RATE} results/s",
            "not run",
            f"under {TARGET_P99_MS:.0f} ms; the service saturated below",
            False,
        )
        return
    service = at_target[0]
    verdict(
        f"p99 at {TARGET_RATE} results/s",
        f"{service.p99_ms:.1f} ms",
        f"under {TARGET_P99_MS:.0f} ms",
        service.p99_ms < TARGET_P99_MS and not is_saturated(service),
    )


def print_cpu_capacity(runs: list[Figures]) -> None:
    """Print each server's CPU per check-in and result, and what one core allows.

    The least CPU of a server's runs: a saturated run adds the cost of
    requests that waited long, which a dedicated core would not see.
    """
    cpu = {
        target: min(f.cpu_ms_per_pair for f in runs if f.target == target)
        for target in sorted({f.target for f in runs})
    }
    parts = ", ".join(
        f"{target} {ms:.1f} ms (one core: {1000 / ms:.0f} results/s)"
        for target, ms in cpu.items()
        if ms > 0
    )
    print(f"Server CPU per check-in and result: {parts}")


def verdict(name: str, figure: str, target: str, met: bool) -> None:
    print(f"  {name:<22}{figure:>10}  (target {target})  {'met' if met else 'NOT met'}")
