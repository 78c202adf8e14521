"""The demo API's routes, mounted at /demo-api/ by config.urls only when PATCHBAY_DEMO is on."""

from demo.api import urlpatterns

__all__ = ["urlpatterns"]
