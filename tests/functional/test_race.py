"""Two shoppers press "Place order" for the last copy at the same moment, on Postgres."""

from blasto.models import Purchase
from tests.support.factories import count, make_book, make_user, stock_of
from tests.support.form_browser import Browser, log_in, race


def test_two_shoppers_race_for_the_last_copy(pg_app):
    last = make_book(pg_app, "The Last Copy", stock=1)
    shoppers = []
    for n in (1, 2):
        make_user(pg_app, email=f"racer{n}@example.com", name=f"Racer {n}")
        browser = Browser(pg_app.test_client())
        log_in(browser, f"racer{n}@example.com")
        browser.submit(browser.get(f"/books/{last}"), "/cart/add")
        review = browser.get("/checkout")
        assert "Place the order" in review.text
        shoppers.append((browser, review.form("/checkout").data()))

    statuses = race([(browser, "/checkout", form) for browser, form in shoppers])
    locations = {i: where for i, (status, where) in enumerate(statuses) if status == 303}
    assert len(locations) == 2, statuses
    winners = [i for i, where in locations.items() if where.startswith("/purchases/")]
    losers = [i for i, where in locations.items() if where == "/cart"]
    assert len(winners) == 1 and len(losers) == 1, locations

    loser_browser = shoppers[losers[0]][0]
    page = loser_browser.get("/cart")
    assert "“The Last Copy” is sold out." in page.text and "Sold out" in page.text
    winner_page = shoppers[winners[0]][0].get(locations[winners[0]])
    assert "The Last Copy" in winner_page.text and "is placed" in winner_page.text
    assert stock_of(pg_app, last) == 0 and count(pg_app, Purchase) == 1
