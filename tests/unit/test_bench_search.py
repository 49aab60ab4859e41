"""The benchmark's step search (bench/run.py): where it goes next, and which step sets a tree's rate.

`python3 dev.py bench --before TREE` runs both trees in one search, taking
turns step by step. Here the steps' outcomes are given (a tree passes up to a
number of users), so what is checked is the search itself: it brackets each
tree's limit to a twentieth, never runs a tree at or above a count that tree
already failed, and does not let a lucky pass above a failure set the rate.
"""

from __future__ import annotations

from bench.run import RESOLUTION, Tree, bracket, next_users, search


class Outcomes:
    """A tree's users process that passes every step up to `limit` users."""

    def __init__(self, limit: int):
        self.limit, self.asked = limit, []

    def step(self, users: int) -> dict:
        self.asked.append(users)
        return {"users": users, "passed": users <= self.limit, "rps": users / 2}


def run(limits: dict[str, Outcomes], start: int = 40) -> dict[str, dict[int, dict]]:
    trees = [Tree(label, root=None) for label in limits]  # type: ignore[arg-type]
    return search(trees, limits, start, growth=1.5)  # type: ignore[arg-type]


def test_each_tree_s_limit_is_bracketed_to_a_twentieth_and_both_trees_run_the_counts_below_it():
    users = {"before": Outcomes(430), "after": Outcomes(380)}
    searches = run(users)
    for label, outcome in users.items():
        passed, failed = bracket(searches[label])
        assert passed <= outcome.limit < failed
        assert failed - passed <= max(2, round(passed * RESOLUTION)), (label, passed, failed)
    # Every count the lower tree passed was run on the other tree too: pages are compared at the same load.
    assert {u for u, step in searches["after"].items() if step["passed"]} <= set(searches["before"])


def test_a_tree_is_not_run_at_or_above_a_count_it_failed():
    users = {"before": Outcomes(600), "after": Outcomes(200)}
    run(users)
    first_failure = min(u for u in users["after"].asked if u > 200)
    assert all(u < first_failure for u in users["after"].asked if u != first_failure)
    assert users["after"].asked.count(first_failure) == 1


def test_a_pass_above_a_failure_does_not_set_the_rate():
    steps = {u: {"users": u, "passed": ok} for u, ok in ((303, True), (340, True), (378, False), (454, True))}
    assert bracket(steps) == (340, 378)
    tree = Tree("before", root=None)  # type: ignore[arg-type]
    assert tree.best(list(steps.values()))["users"] == 340


def test_the_search_grows_until_a_tree_fails_and_ends_when_every_gap_is_closed():
    assert next_users({"after": {40: {"passed": True}}}, 1.5) == 60
    assert next_users({"after": {40: {"passed": False}}}, 1.5) == 27  # the first step failed: down the same way
    closed = {u: {"passed": u <= 100} for u in (90, 100, 104)}
    assert next_users({"after": closed}, 1.5) is None
