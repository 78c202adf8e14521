from django.apps import AppConfig


class FlowstoreConfig(AppConfig):
    name = "flowstore"
    verbose_name = "Caches and de-dupe pools"
