"""/healthz (the process answers) and /readyz (it can do real work)."""

from flask import jsonify

from blasto.health import bp
from blasto.health.checks import readiness


@bp.get("/healthz")
def healthz():
    return {"status": "ok"}


@bp.get("/readyz")
def readyz():
    ready, checks, queue = readiness()
    failed = sorted(name for name, part in checks.items() if not part["ok"])
    response = jsonify(status="ready" if ready else "unavailable", failed=failed, checks=checks, queue=queue)
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response
