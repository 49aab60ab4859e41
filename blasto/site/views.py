"""Front pages of the site."""
from flask import render_template

from blasto.site import bp


@bp.get("/")
@bp.get("/home")
def home():
    return render_template("index.html")
