"""E-mails owed to people, delivered exactly once by the worker.

`records` writes what is owed in the caller's transaction; `dispatch` queues
the send once that transaction commits; `delivery` claims, sends and marks a
row; `tasks` are the worker's and the clock's entry points; `cli` lists and
retries from a shell.
"""
