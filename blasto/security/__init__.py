"""Rate limits on log-in, sign-up and checkout (Flask-Limiter), bound from the factory.

HTTPS and the security headers are request plumbing (blasto.web); the password rule is the shop's (blasto.shop.passwords).
"""
