from django.urls import path

from crm import apis

urlpatterns = [
    path("players", apis.CrmPlayerSearchApi.as_view(), name="crm-player-search"),
    path(
        "players/<int:player_id>",
        apis.CrmPlayerDetailApi.as_view(),
        name="crm-player-detail",
    ),
    path(
        "players/<int:player_id>/timeline",
        apis.CrmPlayerTimelineApi.as_view(),
        name="crm-player-timeline",
    ),
    path(
        "players/<int:player_id>/consent",
        apis.CrmPlayerConsentApi.as_view(),
        name="crm-player-consent",
    ),
    path(
        "players/<int:player_id>/tags",
        apis.CrmPlayerTagAddApi.as_view(),
        name="crm-player-tag-add",
    ),
    path(
        "players/<int:player_id>/tags/<int:tag_id>",
        apis.CrmPlayerTagRemoveApi.as_view(),
        name="crm-player-tag-remove",
    ),
    path(
        "players/<int:player_id>/notes",
        apis.CrmPlayerNoteListCreateApi.as_view(),
        name="crm-player-notes",
    ),
    path("notes/<int:note_id>", apis.CrmNoteUpdateApi.as_view(), name="crm-note"),
    path("tags", apis.CrmTagListCreateApi.as_view(), name="crm-tags"),
    path("segments", apis.CrmSegmentListCreateApi.as_view(), name="crm-segments"),
    path(
        "segments/<int:segment_id>",
        apis.CrmSegmentDetailApi.as_view(),
        name="crm-segment-detail",
    ),
    path(
        "segments/<int:segment_id>/refresh",
        apis.CrmSegmentRefreshApi.as_view(),
        name="crm-segment-refresh",
    ),
    path("campaigns", apis.CrmCampaignListCreateApi.as_view(), name="crm-campaigns"),
    path(
        "campaigns/<int:campaign_id>/send",
        apis.CrmCampaignSendApi.as_view(),
        name="crm-campaign-send",
    ),
]
