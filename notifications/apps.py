from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Failure alerts"

    def ready(self) -> None:
        from designer.services.export import register_export_section
        from notifications.export import SECTION
        from notifications.services import handle_run_finished
        from runs.models import Run
        from runs.signals import run_finished

        run_finished.connect(handle_run_finished, sender=Run, dispatch_uid="notifications.run_finished")
        register_export_section(SECTION)
