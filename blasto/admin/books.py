"""The catalogue for admins: every book (hidden ones too), add, edit, restock, hide.

Stock is the one column shoppers change concurrently (checkout's
`UPDATE ... SET stock = stock - n WHERE stock >= n`), so the admin never
writes it from a value read earlier:

- Restock is `UPDATE ... SET stock = stock + n` in SQL, so it composes with
  any checkout running at the same moment: both changes are kept.
- The edit form keeps a stock field (an admin must be able to correct a
  count, down as well as up) with an optimistic check: the form carries the
  stock it was shown with (`stock_seen`). Stock left as shown is not written
  at all, so editing a title never undoes a sale. Stock changed by the admin
  is written only `WHERE stock = stock_seen`; if a sale or restock happened
  in between, nothing is written and the form comes back with the current
  count and a message, for the admin to decide again.

Each change is one transaction, written with its record of who changed what
(blasto.shop.book_edits, shown as the page's "Changes"): nothing half-written.

A cover upload has its own form and route, with a body limit of its own
(the app's is 1 MiB): it is checked as an image here and sized by the worker
(blasto.shop.covers).
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from blasto.admin import bp
from blasto.admin.forms import BookForm, CoverForm, EditBookForm, RestockForm, VisibilityForm
from blasto.core.extensions import csrf, db
from blasto.models import BookCover, Product
from blasto.models.base import ID_CONVERTER
from blasto.models.product import STOCK_MAX
from blasto.reports.dashboard import LOW_STOCK
from blasto.shop import book_edits
from blasto.shop.catalog import MAX_SEARCH_LENGTH, CatalogQuery, catalog_page, clean_search
from blasto.shop.cover_images import MAX_BYTES as COVER_MAX_BYTES
from blasto.shop.cover_images import CoverProblem, check_cover
from blasto.shop.covers import queue_sizes
from blasto.web.paging import Page, check_in_range, page_number
from blasto.web.redirects import safe_next, see_other

PER_PAGE = 25


@bp.get("/books")
def books():
    number = page_number()
    search = clean_search(request.args.get("q"))
    # The dashboard's low-stock figure: books for sale with fewer than LOW_STOCK copies.
    low = request.args.get("low_stock") == "1"
    query = CatalogQuery(search=search, stock_below=LOW_STOCK if low else None)
    found, total = catalog_page(query, number, PER_PAGE, for_sale=low)
    check_in_range(number, total, PER_PAGE)
    page = Page(items=found, number=number, per_page=PER_PAGE, total=total)
    args = {name: value for name, value in (("q", search), ("low_stock", "1" if low else "")) if value}
    return render_template(
        "admin/books.html",
        page=page,
        search=search,
        max_search=MAX_SEARCH_LENGTH,
        low_stock=low,
        low_stock_under=LOW_STOCK,
        args=args,
    )


@bp.route("/books/new", methods=["GET", "POST"])
def new_book():
    form = BookForm()
    if not form.validate_on_submit():
        return _form_page(form, None, status=400 if request.method == "POST" else 200)
    book = Product(
        title=form.title.data,
        author=form.author.data,
        description=form.description.data or "",
        price_cents=form.price.data,
        stock=form.stock.data,
        **_details(form),
    )
    db.session.add(book)
    db.session.commit()
    flash(f"Added “{book.title}” to the catalogue.", "success")
    return see_other(url_for("admin.edit_book", book_id=book.id))


@bp.route(f"/books/<{ID_CONVERTER}:book_id>/edit", methods=["GET", "POST"])
def edit_book(book_id: int):
    book = _book_or_404(book_id)
    if request.method == "GET":
        form = EditBookForm(formdata=None, obj=book, price=book.price_cents, stock_seen=book.stock)
        return _form_page(form, book)
    form = EditBookForm()
    if not form.validate():
        return _form_page(form, book, status=400)
    values = {
        "title": form.title.data,
        "author": form.author.data,
        "description": form.description.data or "",
        "price_cents": form.price.data,
        **_details(form),
    }
    if form.stock.data != form.stock_seen.data:  # the admin changed it: only over the count they saw
        values["stock"] = form.stock.data
    try:
        book_edits.edit(book_id, values, current_user.id, stock_seen=form.stock_seen.data)
    except book_edits.StockMoved:
        return _stock_moved(form, book_id)
    flash(f"Saved “{form.title.data}”.", "success")
    return see_other(url_for("admin.edit_book", book_id=book_id))


@bp.post(f"/books/<{ID_CONVERTER}:book_id>/restock")
def restock(book_id: int):
    book = _book_or_404(book_id)
    form = RestockForm()
    if not form.validate_on_submit():
        return _form_page(None, book, restock_form=form, status=400)
    copies = form.copies.data
    assert copies is not None  # the form validated: DataRequired
    stock = book_edits.restock(book_id, copies, current_user.id)
    if stock is None:
        db.session.refresh(book)
        form.copies.errors.append(
            f"At most {STOCK_MAX:,} copies in stock; this book has {book.stock:,}, so add at most {STOCK_MAX - book.stock:,}."
        )
        return _form_page(None, book, restock_form=form, status=400)
    flash(f"Added {copies:,} {'copy' if copies == 1 else 'copies'} of “{book.title}”: {stock:,} in stock.", "success")
    return see_other(url_for("admin.edit_book", book_id=book_id))


@bp.post(f"/books/<{ID_CONVERTER}:book_id>/hide")
def hide_book(book_id: int):
    return _set_hidden(book_id, True)


@bp.post(f"/books/<{ID_CONVERTER}:book_id>/show")
def show_book(book_id: int):
    return _set_hidden(book_id, False)


def _set_hidden(book_id: int, hidden: bool):
    book = _book_or_404(book_id)
    form = VisibilityForm()
    back = safe_next(form.next.data) or url_for("admin.edit_book", book_id=book_id)
    if not form.validate_on_submit():  # only a missing CSRF token can fail; Flask-WTF answers 400 first
        return see_other(back)
    book_edits.set_hidden(book_id, hidden, current_user.id)
    if hidden:
        flash(f"“{book.title}” is hidden: shoppers no longer see or buy it. Past purchases still show it.", "success")
    else:
        flash(f"“{book.title}” is for sale again.", "success")
    return see_other(back)


# Room for the multipart framing and the CSRF token around a file of COVER_MAX_BYTES.
COVER_BODY_MAX = COVER_MAX_BYTES + 64 * 1024


@bp.post(f"/books/<{ID_CONVERTER}:book_id>/cover")
@csrf.exempt  # checked just below, once the body limit is this route's: CSRFProtect would read it under the app's
def upload_cover(book_id: int):
    request.max_content_length = COVER_BODY_MAX  # larger: a 413 page (its length is known before it is read)
    csrf.protect()
    book = _book_or_404(book_id)
    form = CoverForm()
    upload = form.cover.data if form.validate_on_submit() else None
    try:
        if not isinstance(upload, FileStorage):  # no file part at all (a text field of that name is none)
            raise CoverProblem("Choose an image file to upload.")
        data = upload.read(COVER_MAX_BYTES + 1)
        if not data and not upload.filename:
            raise CoverProblem("Choose an image file to upload.")
        content_type = check_cover(data)
    except CoverProblem as problem:
        form.cover.errors = [str(problem)]
        return _form_page(None, book, cover_form=form, status=400)
    digest, needs_sizes = book_edits.upload_cover(book_id, data, content_type, current_user.id)
    if not needs_sizes:
        flash("This is already the book's cover.", "success")
    elif queue_sizes(book_id, digest):
        flash(f"Uploaded the cover of “{book.title}”. Shoppers see it in a moment, once its sizes are made.", "success")
    else:
        flash(
            "The cover was saved, but the worker could not be asked to prepare it just now;"
            " it is asked again within a few minutes, and shoppers see the cover once it is ready.",
            "error",
        )
    return see_other(url_for("admin.edit_book", book_id=book_id))


def _details(form: BookForm) -> dict:
    """The catalogue details as columns: a blank field is no value (NULL), never an empty string."""
    return {
        name: getattr(form, name).data or None
        for name in ("genre", "format", "publisher", "year_published", "pages", "isbn13")
    } | {"low_stock_threshold": form.low_stock_threshold.data}


def _book_or_404(book_id: int) -> Product:
    book = db.session.get(Product, book_id)
    if book is None:
        abort(404, description="There is no book with this id.")
    return book


def _stock_moved(form: EditBookForm, book_id: int):
    """The stock changed under the admin's edit: show the new count and ask again."""
    current = db.session.scalar(select(Product.stock).where(Product.id == book_id))
    if current is None:
        abort(404, description="There is no book with this id.")
    form.stock_seen.data, form.stock_seen.raw_data = current, [str(current)]
    form.stock.errors.append(
        f"The stock changed to {current:,} while you were editing (a sale or a restock). Nothing was saved; check the number and save again."
    )
    return _form_page(form, db.session.get(Product, book_id), status=409)


def _form_page(
    form: BookForm | None,
    book: Product | None,
    restock_form: RestockForm | None = None,
    status: int = 200,
    cover_form: CoverForm | None = None,
):
    """The new-book page (book None) or a book's edit page with its cover, restock and hide forms."""
    if book is not None and form is None:
        form = EditBookForm(formdata=None, obj=book, price=book.price_cents, stock_seen=book.stock)
    return render_template(
        "admin/book_form.html",
        form=form,
        book=book,
        restock_form=restock_form or RestockForm(formdata=None),
        visibility_form=VisibilityForm(formdata=None),
        cover_form=cover_form or CoverForm(formdata=None),
        cover_pending=book is not None and _cover_pending(book.id),
        changes=book_edits.recent_changes(book.id) if book is not None else [],
        changes_max=book_edits.CHANGES_SHOWN,
    ), status


def _cover_pending(book_id: int) -> bool:
    """An upload whose sizes the worker has not made yet (the book shows its generated cover meanwhile)."""
    sized_at = db.session.execute(select(BookCover.sized_at).where(BookCover.product_id == book_id)).first()
    return sized_at is not None and sized_at[0] is None
