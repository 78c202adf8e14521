"""Notify: writes the rendered message to the run log, and emails it when `email` is set."""

from __future__ import annotations

from django.core.mail import send_mail

from runs.engine.context import StepContext
from runs.engine.outcome import Emit, Outcome, StepFailed, WorkPayload
from runs.models import LogLine


def execute(context: StepContext, item: WorkPayload) -> Outcome:
    settings = context.settings
    level = settings.get("level") or LogLine.Level.INFO
    if level not in (LogLine.Level.INFO, LogLine.Level.WARNING, LogLine.Level.ERROR):
        level = LogLine.Level.INFO
    message = context.render(settings.get("message") or "", item)
    context.log(level, message)
    email = settings.get("email")
    if email:
        recipients = [str(address) for address in email.get("to") or []]
        if not recipients:
            raise StepFailed("Notify: the email has no recipients.")
        subject = context.render(email.get("subject") or f"Patchbay: {context.run.flow.name}", item)
        try:
            send_mail(subject=subject, message=message, from_email=None, recipient_list=recipients)
        except Exception as exc:  # the mail backend's errors vary (SMTP, sockets, ...)
            raise StepFailed(f"Notify: could not send the email: {exc}") from exc
        context.log(LogLine.Level.INFO, f"Notification emailed to {', '.join(recipients)}")
    return Outcome.ok([Emit(item.payload, item.meta)])
