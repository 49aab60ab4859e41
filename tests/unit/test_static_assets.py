"""Static files: hashed names in the pages, a year's immutable cache, compressed, inside the security headers."""

from __future__ import annotations

import gzip
import re

import pytest
from whitenoise.compress import brotli_installed

from blasto.web.security_headers import CONTENT_SECURITY_POLICY
from blasto.web.static_assets import STATIC_DIR, YEAR_CACHE, build_static_assets, private_directory

HASHED_CSS = re.compile(r'href="(/static/css/site\.[0-9a-f]{12}\.css)"')


def hashed_css(client) -> str:
    page = client.get("/home").get_data(as_text=True)
    found = HASHED_CSS.search(page)
    assert found, page[:500]
    return found.group(1)


def assert_security_headers(response) -> None:
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Request-Id"]


def test_pages_link_the_hashed_stylesheet_which_is_cached_a_year_and_gzipped(client):
    url = hashed_css(client)
    assert "/static/css/site.css" not in client.get("/home").get_data(as_text=True)

    response = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert response.headers["Cache-Control"] == YEAR_CACHE
    assert response.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in response.headers["Vary"]
    assert gzip.decompress(response.data) == (STATIC_DIR / "css" / "site.css").read_bytes()
    assert_security_headers(response)

    plain = client.get(url)  # a client that accepts no encoding gets the bytes as they are
    assert "Content-Encoding" not in plain.headers
    assert plain.data == (STATIC_DIR / "css" / "site.css").read_bytes()
    assert plain.headers["Cache-Control"] == YEAR_CACHE


@pytest.mark.skipif(not brotli_installed, reason="the brotli package is not installed: only gzip is made")
def test_brotli_when_the_client_accepts_it(client, app):
    url = hashed_css(client)
    response = client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200 and response.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in response.headers["Vary"]
    # The copy `python -m whitenoise.compress` would have made (brotli is only a dev package: not imported here).
    made = app.extensions["static_assets"].root / (url.removeprefix("/static/") + ".br")
    assert response.data == made.read_bytes()
    assert len(response.data) < (STATIC_DIR / "css" / "site.css").stat().st_size // 2


def test_every_script_a_page_uses_is_hashed(app):
    with app.test_request_context():
        render = app.jinja_env.from_string(
            "{{ asset_url('js/card-payment.js') }} {{ asset_url('js/report-progress.js') }}"
        )
        card, report = render.render().split()
    assert re.fullmatch(r"/static/js/card-payment\.[0-9a-f]{12}\.js", card)
    assert re.fullmatch(r"/static/js/report-progress\.[0-9a-f]{12}\.js", report)
    response = app.test_client().get(card)
    assert response.status_code == 200 and response.headers["Cache-Control"] == YEAR_CACHE
    with app.test_request_context(), pytest.raises(LookupError, match="no static file 'js/nope.js'"):
        app.jinja_env.from_string("{{ asset_url('js/nope.js') }}").render()


def test_the_unhashed_name_still_loads_with_a_short_cache(client):
    """A page still open in an old tab asks for the name it was built with."""
    response = client.get("/static/css/site.css", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.mimetype == "text/css"
    assert response.headers["Cache-Control"] == "max-age=60, public"
    assert "immutable" not in response.headers["Cache-Control"]
    assert response.headers["Content-Encoding"] == "gzip"
    assert_security_headers(response)


def test_head_answers_the_headers_without_the_body(client):
    url = hashed_css(client)
    got = client.get(url)
    head = client.head(url)
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == got.headers["Content-Length"] == str(len(got.data))
    assert head.headers["Cache-Control"] == YEAR_CACHE and head.headers["ETag"] == got.headers["ETag"]
    assert_security_headers(head)
    again = client.get(url, headers={"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize(
    "path",
    [
        "/static/css/site.000000000000.css",  # an old deploy's hash
        "/static/css/nope.css",
        "/static/",
        "/static/css",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/css/../../app.py",
        "/static/..%2fapp.py",
        "/static/css/site.css.gz",  # the compressed copies are only ever served as an encoding
    ],
)
def test_unknown_or_escaping_paths_are_a_plain_404(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip, br"})
    body = response.get_data(as_text=True)
    assert response.status_code == 404, (path, response.status_code)
    assert "Traceback" not in body and "create_app" not in body and "import" not in body
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY


def test_a_changed_file_gets_a_new_name_and_the_old_one_is_gone(tmp_path):
    source = tmp_path / "static"
    (source / "css").mkdir(parents=True)
    (source / "css" / "site.css").write_text("body { color: black; }\n" * 100)
    (source / ".hidden").write_text("not served")
    first = build_static_assets(source, tmp_path / "cache")
    assert list(first.manifest) == ["css/site.css"]
    assert first.manifest == build_static_assets(source, tmp_path / "cache").manifest  # same bytes, same name

    (source / "css" / "site.css").write_text("body { color: navy; }\n" * 100)
    second = build_static_assets(source, tmp_path / "cache")
    assert second.manifest["css/site.css"] != first.manifest["css/site.css"]
    assert second.root != first.root
    served = {path.relative_to(second.root).as_posix() for path in second.root.rglob("*")}
    assert {"css/site.css", second.manifest["css/site.css"], second.manifest["css/site.css"] + ".gz"} <= served
    assert first.manifest["css/site.css"] not in served
    assert (second.root / second.manifest["css/site.css"]).read_text().startswith("body { color: navy; }")


def test_a_cache_that_lost_files_is_built_again(tmp_path):
    first = build_static_assets(STATIC_DIR, tmp_path / "cache")
    (first.root / first.manifest["css/site.css"]).unlink()  # what a cleaner of old files in /tmp does
    again = build_static_assets(STATIC_DIR, tmp_path / "cache")
    assert again.root == first.root
    assert (again.root / again.manifest["css/site.css"]).read_bytes() == (STATIC_DIR / "css" / "site.css").read_bytes()
    assert [path.name for path in (tmp_path / "cache").iterdir()] == [first.root.name]  # nothing left beside it


def test_a_cache_directory_others_can_write_is_never_used(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    chosen = private_directory(shared)
    assert chosen != shared and (chosen.stat().st_mode & 0o077) == 0
    chosen.rmdir()
    mine = tmp_path / "mine"
    assert private_directory(mine) == mine and (mine.stat().st_mode & 0o777) == 0o700
