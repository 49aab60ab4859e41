"""Process plumbing every process shares: settings, extensions, logging, Celery, metrics, error tracking.

The bottom layer: it imports nothing else of blasto (README, "Layout").
"""
