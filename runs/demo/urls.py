"""The demo API's routes, mounted at /demo-api/ (runs/demo/api.py)."""

from runs.demo.api import urlpatterns

__all__ = ["urlpatterns"]
