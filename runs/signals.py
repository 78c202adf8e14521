"""Signals of the runs app.

`run_finished` (sender=Run, kwarg `run`) is sent after the commit that gave a run its final status
(succeeded, failed, stopped, partial_success). Receivers must not slow the run path: the failure alerts of
`notifications` hand their work to a background delivery.
"""

from django.dispatch import Signal

run_finished = Signal()
