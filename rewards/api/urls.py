from django.urls import path

from . import views

urlpatterns = [
    path("rewards/", views.RewardsView.as_view(), name="rewards"),
    path("rewards/<str:code>/", views.RewardView.as_view(), name="reward"),
    path("redemptions/", views.RedemptionsView.as_view(), name="redemptions"),
    path("redemptions/<int:redemption_id>/", views.RedemptionView.as_view(), name="redemption"),
    path("redemptions/<int:redemption_id>/cancel/", views.RedemptionCancelView.as_view(), name="redemption-cancel"),
    path("members/<str:external_id>/redemptions/", views.MemberRedemptionsView.as_view(), name="member-redemptions"),
    path("members/<str:external_id>/coupons/", views.MemberCouponsView.as_view(), name="member-coupons"),
    path("members/<str:external_id>/points/holds/", views.MemberHoldsView.as_view(), name="member-holds"),
    path("coupons/<str:code>/", views.CouponView.as_view(), name="coupon"),
    path("coupons/<str:code>/use/", views.CouponUseView.as_view(), name="coupon-use"),
    path("coupons/<str:code>/release/", views.CouponReleaseView.as_view(), name="coupon-release"),
    path("points/holds/<int:hold_id>/", views.HoldView.as_view(), name="hold"),
    path("points/holds/<int:hold_id>/capture/", views.HoldCaptureView.as_view(), name="hold-capture"),
    path("points/holds/<int:hold_id>/release/", views.HoldReleaseView.as_view(), name="hold-release"),
]
