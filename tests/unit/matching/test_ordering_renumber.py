import uuid
from types import SimpleNamespace

from matching.ordering import OfferRanking, OrderedCandidate, renumber


def _ordered(rank: int) -> OrderedCandidate:
    ranking = OfferRanking(
        score=1.0, rank=rank, candidates_considered=3, factors=[], weights={}
    )
    return OrderedCandidate(row=SimpleNamespace(agent_id=uuid.uuid4()), ranking=ranking)


def test_ranks_restart_at_one_after_a_filter() -> None:
    kept = [_ordered(2), _ordered(3)]

    renumbered = renumber(kept, dropped_by_hours=1)

    assert [c.ranking.rank for c in renumbered] == [1, 2]
    assert {c.ranking.dropped_by_hours for c in renumbered} == {1}
    assert {c.ranking.candidates_considered for c in renumbered} == {2}
    assert [c.row for c in renumbered] == [c.row for c in kept]


def test_nothing_dropped_keeps_the_order() -> None:
    renumbered = renumber([_ordered(1)], dropped_by_hours=0)

    assert renumbered[0].ranking.rank == 1
    assert renumbered[0].ranking.dropped_by_hours == 0
