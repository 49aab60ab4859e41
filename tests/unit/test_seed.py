"""`flask --app blasto seed` loads the sample catalogue once, however often it runs."""
from sqlalchemy import func, select

from blasto.extensions import db
from blasto.models import Product
from blasto.shop.sample_books import BOOKS


def test_seed_loads_at_least_fifty_books_idempotently(db_app):
    runner = db_app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0 and f"{len(BOOKS)} books added" in first.output
    with db_app.app_context():
        db.session.execute(db.update(Product).where(Product.title == "Emma").values(stock=1))
        db.session.commit()
    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0 and "0 books added" in second.output
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Product.id))) == len(BOOKS) >= 50
        assert db.session.scalar(select(Product.stock).where(Product.title == "Emma")) == 1, "seeding never resets stock"
        assert all(isinstance(price, int) and price > 0 for price in db.session.scalars(select(Product.price_cents)))
