"""Totals are exact integer cents for any quantities (property-based)."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from blasto.shop import cart
from blasto.shop.money import format_cents, order_total

prices = st.integers(min_value=0, max_value=10_000_000)
quantities = st.integers(min_value=1, max_value=cart.MAX_QUANTITY)


@given(st.lists(st.tuples(prices, quantities), max_size=cart.MAX_LINES))
def test_order_total_is_the_exact_sum(lines):
    total = order_total(lines)
    assert isinstance(total, int)
    assert Fraction(total) == sum(Fraction(price) * quantity for price, quantity in lines)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_format_cents_round_trips(cents):
    text = format_cents(cents)
    assert int(text.replace("$", "").replace(",", "").replace(".", "")) == cents


@given(st.dictionaries(st.integers(1, 10**6), quantities, max_size=cart.MAX_LINES), st.integers(1, 10**6), quantities)
def test_cart_add_never_exceeds_the_limits(start, product_id, quantity):
    try:
        result = cart.add(start, product_id, quantity)
    except cart.CartError:
        result = start
    assert len(result) <= cart.MAX_LINES
    assert all(1 <= q <= cart.MAX_QUANTITY for q in result.values())
    assert cart.from_session(cart.to_session(result)) == result


@given(
    st.dictionaries(st.text(max_size=5) | st.integers(), st.text(max_size=5) | st.integers() | st.none(), max_size=80)
)
def test_a_tampered_session_cart_is_cleaned_not_trusted(raw):
    cleaned = cart.from_session(raw)
    assert len(cleaned) <= cart.MAX_LINES
    assert all(pid > 0 and 1 <= q <= cart.MAX_QUANTITY for pid, q in cleaned.items())
