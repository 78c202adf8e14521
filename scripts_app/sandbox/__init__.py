"""The script sandbox: a RestrictedPython policy (`policy`), the worker process loop (`worker`) and the pool
of pre-started worker processes the server talks to (`pool`).

Nothing here imports Django: the worker processes import this package and must stay small and free of the
server's settings and secrets.
"""
