from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/me/", views.MeView.as_view(), name="api-me"),
    path("api/", include("designer.urls")),
    path("api/", include("scripts_app.urls")),
    path("api/", include("notifications.urls")),
    path("", include("runs.urls")),
    # The demo API answers anyone, without CSRF checks: only where the demo is switched on.
    *([path("demo-api/", include("demo.urls"))] if settings.PATCHBAY_DEMO else []),
    # Everything else is the single-page app; its router decides what to show (/demo-api/ without the demo
    # is a 404, not the app).
    re_path(
        r"^(?!api/|admin/|static/|media/|ws/|hooks/|demo-api/|healthz|metrics).*$",
        views.app_shell,
        name="app",
    ),
]

# Unmatched /api/ URLs (a non-numeric id, say) answer with the API's JSON error shape, not an HTML page.
handler404 = "config.views.not_found"
handler500 = "config.api_errors.server_error"
