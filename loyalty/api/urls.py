from django.urls import path

from . import views

urlpatterns = [
    path("members/", views.MembersView.as_view(), name="members"),
    path("members/<str:external_id>/", views.MemberView.as_view(), name="member"),
    path("members/<str:external_id>/points/", views.PointsLedgerView.as_view(), name="member-points"),
    path("members/<str:external_id>/growth/", views.GrowthLedgerView.as_view(), name="member-growth"),
    path("members/<str:external_id>/tier-history/", views.TierHistoryView.as_view(), name="member-tier-history"),
    path("events/", views.EventsView.as_view(), name="events"),
    path("events/batch/", views.EventBatchView.as_view(), name="events-batch"),
    path("tiers/", views.TiersView.as_view(), name="tiers"),
]
