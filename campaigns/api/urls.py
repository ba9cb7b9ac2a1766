from django.urls import path

from . import views

urlpatterns = [
    path("members/<str:external_id>/tags/", views.MemberTagsView.as_view(), name="member-tags"),
    path("members/<str:external_id>/tags/<str:code>/", views.MemberTagView.as_view(), name="member-tag"),
    path("members/<str:external_id>/segments/", views.MemberSegmentsView.as_view(), name="member-segments"),
    path("members/<str:external_id>/campaigns/", views.MemberCampaignsView.as_view(), name="member-campaigns"),
    path("segments/", views.SegmentsView.as_view(), name="segments"),
    path("campaigns/", views.CampaignsView.as_view(), name="campaigns"),
]
