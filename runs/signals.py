"""Signals of the runs app.

`run_finished` (sender=Run, kwarg `run`) is sent after the commit that gave a run its final status
(succeeded, failed, stopped, partial_success). Receivers must not slow the run path: the failure alerts of
`notifications` hand their work to a background delivery.

`executor_swept` (sender=the executor's class) is sent by the embedded executor's sweeper thread after each
sweep (every few seconds, whether or not runs are going): other apps hang their own periodic healing on it
(notifications re-dispatches alert deliveries a dead process left pending). Receivers must be quick and must
not raise; the executor logs and ignores what they raise.
"""

from django.dispatch import Signal

run_finished = Signal()
executor_swept = Signal()
