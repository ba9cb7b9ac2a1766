from django.urls import path

from . import views

urlpatterns = [
    path("members/<str:external_id>/tags/", views.MemberTagsView.as_view(), name="member-tags"),
    path("members/<str:external_id>/tags/<str:code>/", views.MemberTagView.as_view(), name="member-tag"),
    path("members/<str:external_id>/segments/", views.MemberSegmentsView.as_view(), name="member-segments"),
    path("segments/", views.SegmentsView.as_view(), name="segments"),
]
