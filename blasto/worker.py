"""The Celery worker's `-A` target: the one app, imported from the package.

`celery --app blasto.worker worker` loads `blasto.APP` (built once from the
environment) and uses the Celery instance bound to it; no second copy of the
application logic exists for the worker.
"""

from blasto import APP

celery = APP.extensions["celery"]
