"""Sales reports: asked for on a page or through the API, built by the worker.

`ranges` checks what was asked, `asking` records it (one build per range at a
time) and queues it, `building` streams the sales into totals while it
reports progress, `rendering` turns the totals into CSVs and a chart, `tasks`
holds the worker's build and the clock's sweep, and `files` serves results.
"""
