"""Flask's signed-cookie sessions, with the signing serializer built once.

Flask builds a new itsdangerous serializer (with a probe `dumps`) on every
request, even when no route touches the session: about 15 µs, the largest
share of Blasto's per-request overhead (docs/BENCHMARKS.md). The serializer
holds no per-request state, so one per key set is reused.
"""
from flask.sessions import SecureCookieSessionInterface


class CachedSerializerSessionInterface(SecureCookieSessionInterface):
    def __init__(self):
        self._serializers: dict = {}

    def get_signing_serializer(self, app):
        keys = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = self._serializers[keys] = super().get_signing_serializer(app)
        return serializer
