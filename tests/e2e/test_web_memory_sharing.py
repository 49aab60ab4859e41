"""The web dyno's workers share the app gunicorn preloaded: gunicorn.conf.py follows Python's gc.freeze recipe.

The master loads the app with the collector off (so freeing leaves no holes in
its pages), and freezes everything it holds before each fork; each worker then
collects its own garbage but never writes to the frozen objects, so their
pages stay shared. Measured: docs/BENCHMARKS.md. A worker left with the
collector off would leak every reference cycle, so this reads the collector
from inside real workers of the Procfile's web line, serving a probe app
(tests/support/gc_probe_app.py) in Blasto's place.
"""

from __future__ import annotations

import json

import pytest

from tests.support.processes import ROOT, free_port, http_get, production_env, wait_for, web_procfile
from tests.support.procfile_processes import ProcessSet

pytestmark = pytest.mark.processes

PROBE_APP = "tests.support.gc_probe_app:app"
# The master imported the app's modules with gunicorn.conf.py: far more objects than a bare interpreter's few thousand.
FROZEN_AT_LEAST = 50_000


def test_each_web_worker_collects_its_own_garbage_and_leaves_the_masters_objects_frozen(tmp_path):
    web_procfile(PROBE_APP, tmp_path / "Procfile")
    port = free_port()
    workers: dict[int, dict] = {}

    def both_workers_answered() -> bool:
        try:
            status, _, body = http_get(f"http://127.0.0.1:{port}/", timeout=5)
        except OSError:
            return False
        assert status == 200, body
        state = json.loads(body)
        workers[state["pid"]] = state
        return len(workers) == 2

    with ProcessSet(tmp_path / "logs", procfile_path=tmp_path / "Procfile", cwd=ROOT) as stack:
        web_process = stack.start("web", production_env(PORT=str(port), WEB_CONCURRENCY="2"))
        wait_for(both_workers_answered, 60, interval=0.05, what="both web workers to answer")
        assert web_process.running, web_process.output()
    for state in workers.values():
        assert state["enabled"], f"worker {state['pid']} runs with the garbage collector off: cycles would leak"
        assert state["frozen"] >= FROZEN_AT_LEAST, state
    assert len({state["parent"] for state in workers.values()}) == 1, workers  # forked by one master
