"""When the card sweep asks Stripe about an order still awaiting payment: at 1, 2, 4, 8... times the wait."""

import pytest

from blasto.shop.card_reconciliation import due_for_a_question

AFTER, EVERY = 300.0, 15.0


@pytest.mark.parametrize(
    ("age", "due"),
    [
        (0, False),
        (299, False),
        (300, True),  # the first question, after CARD_RECONCILE_AFTER_SECONDS
        (329, True),  # a sweep a little late still asks
        (331, False),
        (450, False),
        (600, True),
        (1200, True),
        (1500, False),
        (300 * 2**10 + 10, True),  # about three days and a half: still asked, rarely
    ],
)
def test_an_order_is_asked_about_as_its_age_doubles(age, due):
    assert due_for_a_question(age, AFTER, EVERY) is due


def test_over_a_three_day_timeout_an_order_is_asked_about_a_dozen_times_at_most():
    asked = sum(due_for_a_question(age, AFTER, EVERY) for age in range(0, 3 * 24 * 3600, int(EVERY)))
    assert 9 <= asked <= 2 * 10


def test_with_no_wait_every_order_is_due():
    assert due_for_a_question(0, 0, EVERY) and due_for_a_question(5000, 0, EVERY)
