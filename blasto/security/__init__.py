"""The shop's defences, each a small module.

Bound from the factory (blasto.app.register_security): `https` (production's
redirect to HTTPS, and HSTS), `headers` (the headers every response carries)
and `rate_limits` (Flask-Limiter on log-in, sign-up and checkout). Used by
the forms and the API: `passwords` (the password rule).
"""
