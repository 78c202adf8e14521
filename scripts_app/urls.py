"""Custom script API routes, mounted under /api/ by config.urls."""

from rest_framework.routers import SimpleRouter

from scripts_app import api

router = SimpleRouter()
router.register("scripts", api.ScriptViewSet, basename="script")

urlpatterns = router.urls
