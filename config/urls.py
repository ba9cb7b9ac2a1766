from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from loyalty.api.errors import not_found

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("loyalty.api.urls")),
    path("api/v1/", include("rewards.api.urls")),
    path("api/v1/", include("campaigns.api.urls")),
    path("notifications/", include("notifications.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/", not_found),  # unknown API paths answer in the API's error shape, DEBUG or not
]

if settings.DEBUG:  # the demo's webhook receiver (webhooks.demo) and mailbox (notifications.demo)
    urlpatterns.append(path("demo/webhooks/", include("webhooks.demo")))
    urlpatterns.append(path("demo/mail/", include("notifications.demo")))

handler404 = "loyalty.api.errors.not_found"
handler500 = "loyalty.api.errors.server_error"
