"""`flask --app blasto seed` loads the sample catalogue once, however often it runs."""

import pytest
from sqlalchemy import func, select

from blasto.core.extensions import db
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
        assert db.session.scalar(select(Product.stock).where(Product.title == "Emma")) == 1, (
            "seeding never resets stock"
        )
        assert all(isinstance(price, int) and price > 0 for price in db.session.scalars(select(Product.price_cents)))


def test_seed_files_sample_books_seeded_before_details_existed_and_leaves_an_admins_details(db_app):
    runner = db_app.test_cli_runner()
    runner.invoke(args=["seed"])
    with db_app.app_context():
        db.session.execute(
            db.update(Product).values(genre=None, publisher=None, year_published=None, pages=None, format=None)
        )
        db.session.execute(db.update(Product).where(Product.title == "Emma").values(genre="drama"))
        db.session.commit()
    result = runner.invoke(args=["seed"])
    assert result.exit_code == 0 and f"{len(BOOKS) - 1} books seeded earlier given their genre" in result.output
    with db_app.app_context():
        assert db.session.scalar(select(Product.genre).where(Product.title == "Walden")) == "philosophy"
        assert db.session.scalar(select(Product.year_published).where(Product.title == "Walden")) == 1854
        assert db.session.scalar(select(Product.genre).where(Product.title == "Emma")) == "drama"
        assert db.session.scalar(select(Product.year_published).where(Product.title == "Emma")) is None
    assert "given their genre" not in runner.invoke(args=["seed"]).output


def test_if_empty_stocks_an_empty_development_catalogue_and_says_so(db_app, caplog):
    db_app.config["BLASTO_ENV"] = "development"
    caplog.set_level("INFO", logger="blasto.shop.seed")
    result = db_app.test_cli_runner().invoke(args=["seed", "--if-empty"])
    assert result.exit_code == 0, result.output
    assert "the catalogue is empty: loading the sample books" in caplog.text
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Product.id))) == len(BOOKS)


def test_if_empty_leaves_a_catalogue_with_any_book_alone(db_app, caplog):
    db_app.config["BLASTO_ENV"] = "development"
    with db_app.app_context():
        db.session.add(Product(title="The owner's own", author="Some One", price_cents=100, stock=1, hidden=True))
        db.session.commit()
    caplog.set_level("INFO", logger="blasto.shop.seed")
    assert db_app.test_cli_runner().invoke(args=["seed", "--if-empty"]).exit_code == 0
    assert "the catalogue has books" in caplog.text
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Product.id))) == 1


@pytest.mark.parametrize("environment", ["production", "test"])
def test_if_empty_loads_nothing_outside_development(db_app, caplog, environment):
    db_app.config["BLASTO_ENV"] = environment
    caplog.set_level("INFO", logger="blasto.shop.seed")
    assert db_app.test_cli_runner().invoke(args=["seed", "--if-empty"]).exit_code == 0
    assert "in development only" in caplog.text
    with db_app.app_context():
        assert db.session.scalar(select(func.count(Product.id))) == 0


def test_if_empty_does_not_take_sales(db_app):
    result = db_app.test_cli_runner().invoke(args=["seed", "--if-empty", "--sales", "5"])
    assert result.exit_code == 2 and "--if-empty loads the books only" in result.output
