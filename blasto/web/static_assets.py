"""Static files under content-hashed names, compressed, and served by WhiteNoise.

`asset_url('css/site.css')` in a template gives `/static/css/site.<hash>.css`,
whose bytes can never change, so it is cached for a year as `immutable`; the
unhashed `/static/css/site.css` keeps working with a short cache, so a page
still open in an old tab loads. A changed file gets a new name on the next
start, and browsers fetch it at once.

Why the names and the compressed copies are made at startup, into a cache
directory outside the checkout: Heroku's Python buildpack runs no build step
for a Flask app (there is no collectstatic), and a fresh clone has no built
files either, so a separate `python -m whitenoise.compress` step would be one
more thing to forget. blasto/static holds a few small files: hashing them takes
about a millisecond; compressing them (gzip, and Brotli when the `brotli`
package is installed) a few tens, done once per dyno boot (gunicorn preloads
the app, so its workers share the result) and reused by every later start on
the same machine, because the directory is named after the files' contents.
It is built beside its final name and renamed into place, so processes that
start together never see half of it. WhiteNoise serves gzip or Brotli to a
client that accepts it, with `Vary: Accept-Encoding`, and reads the directory
once, so a request can only ever reach a file listed at startup.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from wsgiref.headers import Headers

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor, brotli_installed

from blasto.web.https import plain_http_via_router, redirects_plain_http

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
STATIC_PREFIX = "/static/"
YEAR_CACHE = "public, max-age=31536000, immutable"  # hashed names: their bytes never change
SHORT_MAX_AGE = 60  # seconds, for unhashed names, whose bytes change with a deploy
HASH_LENGTH = 12  # hex digits of SHA-256: a collision between two versions of one file is not a concern
CACHE_LAYOUT = "1"  # bump when what goes into the cache directory changes


@dataclass(frozen=True)
class StaticAssets:
    """The served directory and the manifest from a file's name to its hashed name."""

    root: Path
    manifest: dict[str, str]  # "css/site.css" -> "css/site.0123456789ab.css"

    def url(self, name: str) -> str:
        """The hashed URL of `name`; a name not under blasto/static is a template's bug, said plainly."""
        try:
            return STATIC_PREFIX + self.manifest[name]
        except KeyError:
            raise LookupError(f"no static file {name!r} under {STATIC_DIR}") from None


def hashed_name(name: str, content: bytes) -> str:
    """`css/site.css` -> `css/site.<12 hex digits of SHA-256>.css`."""
    path = PurePosixPath(name)
    digest = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return str(path.with_name(f"{path.stem}.{digest}{path.suffix}"))


def read_sources(source: Path) -> dict[str, bytes]:
    """Every file under `source` by its POSIX relative name (dot-files left out)."""
    files = {}
    for path in sorted(source.rglob("*")):
        name = path.relative_to(source).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in PurePosixPath(name).parts):
            files[name] = path.read_bytes()
    return files


def default_cache_root() -> Path:
    """A directory of this user's in the system's temporary directory (a dyno's is its own, wiped on restart)."""
    return Path(tempfile.gettempdir()) / f"blasto-static-{os.getuid()}"


def private_directory(path: Path) -> Path:
    """`path`, made if missing, if only this user can write it; a fresh private one otherwise.

    The system's temporary directory is shared: another user's directory of the
    same name must never be where the served files come from.
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
        if stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022:
            return path
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="blasto-static-"))


def build_static_assets(source: Path = STATIC_DIR, cache_root: Path | None = None) -> StaticAssets:
    """Hash the files under `source`; copy them, by both names and compressed, into the cache (once per content)."""
    files = read_sources(source)
    manifest = {name: hashed_name(name, content) for name, content in files.items()}
    fingerprint = hashlib.sha256(
        "\n".join([CACHE_LAYOUT, f"brotli={brotli_installed}", *(f"{n} {h}" for n, h in manifest.items())]).encode()
    ).hexdigest()[:16]
    root = private_directory(cache_root or default_cache_root())
    built = root / fingerprint
    if not all((built / name).is_file() for pair in manifest.items() for name in pair):
        write_cache(root, built, files, manifest)
    return StaticAssets(root=built, manifest=manifest)


def write_cache(root: Path, built: Path, files: dict[str, bytes], manifest: dict[str, str]) -> None:
    """Write beside `built`, then rename into place: the first process to finish wins, the others drop theirs.

    A `built` that lost files (a cleaner of old files in /tmp) is moved aside first and rebuilt.
    """
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=root))
    try:
        if built.is_dir():
            with contextlib.suppress(OSError):  # another process moved it already
                built.rename(staging.with_name(staging.name + "-stale"))
            shutil.rmtree(staging.with_name(staging.name + "-stale"), ignore_errors=True)
        compressor = Compressor(quiet=True)  # what `python -m whitenoise.compress` runs
        for name, content in files.items():
            hashed = staging / manifest[name]
            hashed.parent.mkdir(parents=True, exist_ok=True)
            hashed.write_bytes(content)
            shutil.copyfile(hashed, staging / name)
            if compressor.should_compress(name):
                # Compressed once (Brotli's best level is the slow part), copied to the unhashed name.
                for written in compressor.compress(str(hashed)):
                    shutil.copyfile(written, staging / (name + written[-3:]))
        try:
            staging.rename(built)
        except OSError:
            if not built.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def init_static_assets(app: Flask) -> StaticAssets:
    """Build the assets and give templates `asset_url`; build_middleware puts WhiteNoise in front of Flask."""
    assets = build_static_assets(cache_root=app.config.get("STATIC_CACHE_DIR"))
    app.extensions["static_assets"] = assets
    app.add_template_global(assets.url, "asset_url")
    return assets


class StaticFiles(WhiteNoise):
    """WhiteNoise that leaves plain HTTP through the router to Flask in production, whose hook redirects it to HTTPS."""

    def __init__(self, application: Any, *, redirect_plain_http: bool, **options: Any):
        super().__init__(application, **options)
        self.redirect_plain_http = redirect_plain_http

    def __call__(self, environ, start_response):
        if self.redirect_plain_http and plain_http_via_router(environ):
            return self.application(environ, start_response)
        return super().__call__(environ, start_response)


def static_files_app(app: Flask, wsgi_app: Any) -> StaticFiles:
    """WhiteNoise over `wsgi_app`: hashed names cached a year, unhashed a minute; anything else goes on to Flask (a 404)."""
    assets: StaticAssets = app.extensions["static_assets"]
    hashed = frozenset(assets.manifest.values())

    def year_for_hashed(headers: Headers, path: str, url: str) -> None:
        # WhiteNoise's own immutable age is ten years; a year is what RFC 9111 and browsers expect as "forever".
        if url.removeprefix(STATIC_PREFIX) in hashed:
            headers["Cache-Control"] = YEAR_CACHE

    return StaticFiles(
        wsgi_app,
        redirect_plain_http=redirects_plain_http(app),
        root=str(assets.root),
        prefix=STATIC_PREFIX,
        max_age=SHORT_MAX_AGE,
        immutable_file_test=lambda path, url: url.removeprefix(STATIC_PREFIX) in hashed,
        add_headers_function=year_for_hashed,
        allow_all_origins=False,  # no CDN or web font here reads them from another origin
    )
