from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Failure alerts"

    def ready(self) -> None:
        from designer.services.export import register_export_section
        from notifications.delivery import redeliver_stale_alerts_now_and_then
        from notifications.export import SECTION
        from notifications.services import handle_run_finished
        from runs.models import Run
        from runs.signals import executor_swept, run_finished

        run_finished.connect(handle_run_finished, sender=Run, dispatch_uid="notifications.run_finished")
        register_export_section(SECTION)
        # Embedded mode: an idle server also heals deliveries a dead process left pending (Celery mode has
        # its beat task). At most once per REDELIVER_EVERY seconds per process.
        executor_swept.connect(
            lambda sender, **kwargs: redeliver_stale_alerts_now_and_then(),
            weak=False,
            dispatch_uid="notifications.executor_swept",
        )
