"""Request plumbing shared by the site, the admin and the API: the WSGI stack, errors, forms, paging, redirects.

It sits under the channels and over the domain; it never imports a channel (README, "Layout").
"""
