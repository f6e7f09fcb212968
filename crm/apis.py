"""The operator API under /api/v1/crm/: back-office tools with a brand's API key.

Every view derives from ``tenants.api_keys.ApiKeyApi``: the key names the brand
(no X-Tenant), the brand must have the CRM feature (403 FEATURE_DISABLED, or 503
MODULE_TEMPORARILY_DISABLED under a kill switch), and the key must carry the scope
of the operation (GET: crm:read, anything else: crm:write). An id of another brand's
object is a 404, like a missing one. Edits are audited with the key as the actor."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from common.errors import NotFound, ValidationFailed
from crm import selectors, services
from crm.models import Campaign, Consent, Note, Segment, Tag
from crm.timeline import KINDS, MAX_PAGE_SIZE, player_timeline
from tenants.api_keys import ApiKeyApi
from tenants.features import Feature

MAX_LIMIT = 100


class CrmApi(ApiKeyApi):
    feature = Feature.CRM
    read_scope = "crm:read"
    write_scope = "crm:write"

    def actor(self, request):
        return request.user.actor

    def player(self, request, player_id: int):
        player = selectors.player_get(tenant=request.tenant, player_id=player_id)
        if player is None:
            raise NotFound("No such player.")
        return player


# --- serializers (module level: each is one named OpenAPI component) -------------


class CrmPlayerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    country = serializers.CharField()
    status = serializers.CharField()
    kyc_status = serializers.CharField()
    last_login_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class CrmPlayerPageSerializer(serializers.Serializer):
    results = CrmPlayerSerializer(many=True)
    next_before_id = serializers.IntegerField(allow_null=True)


class CrmConsentSerializer(serializers.Serializer):
    channel = serializers.CharField()
    granted = serializers.BooleanField()
    source = serializers.CharField()
    recorded_at = serializers.DateTimeField()


class CrmNoteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Note
        fields = [
            "id",
            "player",
            "body",
            "pinned",
            "author_label",
            "created_at",
            "updated_at",
        ]


class CrmPlayerDetailSerializer(CrmPlayerSerializer):
    tags = serializers.ListField(child=serializers.CharField())
    segments = serializers.ListField(child=serializers.CharField())
    consents = CrmConsentSerializer(many=True)
    pinned_notes = CrmNoteSerializer(many=True)


class CrmTimelineItemSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    amount = serializers.CharField(help_text="Major units and currency, e.g. 12.50 EUR")


class CrmTimelinePageSerializer(serializers.Serializer):
    results = CrmTimelineItemSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)


class CrmTagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "description", "created_at"]


class CrmTagInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50)
    description = serializers.CharField(max_length=200, required=False, default="")


class CrmPlayerTagInputSerializer(serializers.Serializer):
    tag_id = serializers.IntegerField(min_value=1)


class CrmNoteInputSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000)
    pinned = serializers.BooleanField(required=False, default=False)


class CrmNoteUpdateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=10_000, required=False)
    pinned = serializers.BooleanField(required=False)


class CrmConsentInputSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Consent.Channel.values)
    granted = serializers.BooleanField()
    source = serializers.CharField(max_length=100)


class CrmSegmentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Segment
        fields = [
            "id",
            "name",
            "description",
            "rules",
            "member_count",
            "refreshed_at",
            "created_at",
        ]


class CrmSegmentInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, default="")
    rules = serializers.JSONField(
        help_text="Rule object, see docs/crm.md (country_in, kyc_status_in, "
        "deposits_in_last_days, last_login_before, has_tags, balance_above, "
        "self_excluded)."
    )


class CrmSegmentUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False)
    rules = serializers.JSONField(required=False)


class CrmCampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "segment",
            "subject_template",
            "body_template",
            "from_email",
            "created_by",
            "created_at",
            "last_run_at",
        ]


class CrmCampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    segment_id = serializers.IntegerField(min_value=1)
    subject_template = serializers.CharField(max_length=200)
    body_template = serializers.CharField()
    from_email = serializers.EmailField(required=False, default="")


class CrmCampaignRunSerializer(serializers.Serializer):
    campaign_id = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())


def _player_out(player) -> dict:
    return CrmPlayerSerializer(player).data


LIMIT = OpenApiParameter("limit", int, description=f"1 to {MAX_LIMIT} (default 50)")


def _limit(request) -> int:
    raw = request.query_params.get("limit", "50")
    return max(1, min(int(raw), MAX_LIMIT)) if raw.isdigit() else 50


# --- players ---------------------------------------------------------------------


class CrmPlayerSearchApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_search",
        parameters=[
            OpenApiParameter("q", str, description="Player id, e-mail or its start"),
            OpenApiParameter("tag", str, description="Only players with this tag"),
            OpenApiParameter("segment", int, description="Only members of a segment"),
            OpenApiParameter("before_id", int, description="Next page: ids below"),
            LIMIT,
        ],
        responses={200: CrmPlayerPageSerializer},
    )
    def get(self, request):
        params = request.query_params
        segment = params.get("segment", "")
        before = params.get("before_id", "")
        players = selectors.player_search(
            tenant=request.tenant,
            query=params.get("q", ""),
            tag=params.get("tag", ""),
            segment_id=int(segment) if segment.isdigit() else None,
        )
        if before.isdigit():
            players = players.filter(pk__lt=int(before))
        limit = _limit(request)
        page = list(players[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
        return Response(
            {
                "results": [_player_out(p) for p in page],
                "next_before_id": page[-1].pk if more else None,
            }
        )


class CrmPlayerDetailApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_get", responses={200: CrmPlayerDetailSerializer}
    )
    def get(self, request, player_id: int):
        player = self.player(request, player_id)
        consents = selectors.consent_list(player=player).values()
        return Response(
            {
                **_player_out(player),
                "tags": selectors.player_tag_names(player=player),
                "segments": selectors.player_segment_names(player=player),
                "consents": CrmConsentSerializer(consents, many=True).data,
                "pinned_notes": CrmNoteSerializer(
                    selectors.note_list(tenant=request.tenant, player=player).filter(
                        pinned=True
                    ),
                    many=True,
                ).data,
            }
        )


class CrmPlayerTimelineApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_timeline",
        parameters=[
            OpenApiParameter("cursor", str, description="next_cursor of a page"),
            OpenApiParameter("kind", str, enum=KINDS, description="One source only"),
            OpenApiParameter("limit", int, description=f"1 to {MAX_PAGE_SIZE}"),
        ],
        responses={200: CrmTimelinePageSerializer},
    )
    def get(self, request, player_id: int):
        player = self.player(request, player_id)
        kind = request.query_params.get("kind", "")
        if kind and kind not in KINDS:
            raise ValidationFailed(details={"fields": {"kind": [f"one of {KINDS}"]}})
        raw_limit = request.query_params.get("limit", "50")
        page = player_timeline(
            player=player,
            cursor=request.query_params.get("cursor") or None,
            page_size=int(raw_limit) if raw_limit.isdigit() else 50,
            kinds=[kind] if kind else None,
        )
        return Response(
            {
                "results": CrmTimelineItemSerializer(page.items, many=True).data,
                "next_cursor": page.next_cursor,
            }
        )


class CrmPlayerConsentApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_consent_set",
        request=CrmConsentInputSerializer,
        responses={200: CrmConsentSerializer},
    )
    def put(self, request, player_id: int):
        player = self.player(request, player_id)
        data = CrmConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            consent = services.consent_set(
                actor=self.actor(request), player=player, **data.validated_data
            )
        return Response(CrmConsentSerializer(consent).data)


# --- tags ------------------------------------------------------------------------


class CrmTagListCreateApi(CrmApi):
    @extend_schema(
        operation_id="crm_tag_list", responses={200: CrmTagSerializer(many=True)}
    )
    def get(self, request):
        return Response(
            CrmTagSerializer(selectors.tag_list(tenant=request.tenant), many=True).data
        )

    @extend_schema(
        operation_id="crm_tag_create",
        request=CrmTagInputSerializer,
        responses={201: CrmTagSerializer},
    )
    def post(self, request):
        data = CrmTagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            tag = services.tag_create(
                actor=self.actor(request), tenant=request.tenant, **data.validated_data
            )
        return Response(CrmTagSerializer(tag).data, status=status.HTTP_201_CREATED)


class CrmPlayerTagAddApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_tag_add",
        request=CrmPlayerTagInputSerializer,
        responses={200: CrmPlayerDetailSerializer},
    )
    def post(self, request, player_id: int):
        player = self.player(request, player_id)
        data = CrmPlayerTagInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        tag = selectors.tag_get(
            tenant=request.tenant, tag_id=data.validated_data["tag_id"]
        )
        if tag is None:
            raise NotFound("No such tag.")
        with transaction.atomic(durable=True):
            services.player_tag_add(actor=self.actor(request), player=player, tag=tag)
        return CrmPlayerDetailApi().get(request, player_id)


class CrmPlayerTagRemoveApi(CrmApi):
    @extend_schema(operation_id="crm_player_tag_remove", responses={204: None})
    def delete(self, request, player_id: int, tag_id: int):
        player = self.player(request, player_id)
        tag = selectors.tag_get(tenant=request.tenant, tag_id=tag_id)
        if tag is None:
            raise NotFound("No such tag.")
        with transaction.atomic(durable=True):
            services.player_tag_remove(
                actor=self.actor(request), player=player, tag=tag
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- notes -----------------------------------------------------------------------


class CrmPlayerNoteListCreateApi(CrmApi):
    @extend_schema(
        operation_id="crm_player_note_list",
        responses={200: CrmNoteSerializer(many=True)},
    )
    def get(self, request, player_id: int):
        player = self.player(request, player_id)
        notes = selectors.note_list(tenant=request.tenant, player=player)[:MAX_LIMIT]
        return Response(CrmNoteSerializer(notes, many=True).data)

    @extend_schema(
        operation_id="crm_player_note_create",
        request=CrmNoteInputSerializer,
        responses={201: CrmNoteSerializer},
    )
    def post(self, request, player_id: int):
        player = self.player(request, player_id)
        data = CrmNoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            note = services.note_create(
                actor=self.actor(request), player=player, **data.validated_data
            )
        return Response(CrmNoteSerializer(note).data, status=status.HTTP_201_CREATED)


class CrmNoteUpdateApi(CrmApi):
    @extend_schema(
        operation_id="crm_note_update",
        request=CrmNoteUpdateSerializer,
        responses={200: CrmNoteSerializer},
    )
    def patch(self, request, note_id: int):
        note = selectors.note_get(tenant=request.tenant, note_id=note_id)
        if note is None:
            raise NotFound("No such note.")
        data = CrmNoteUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            note = services.note_update(
                actor=self.actor(request), note=note, **data.validated_data
            )
        return Response(CrmNoteSerializer(note).data)


# --- segments --------------------------------------------------------------------


class CrmSegmentListCreateApi(CrmApi):
    @extend_schema(
        operation_id="crm_segment_list",
        responses={200: CrmSegmentSerializer(many=True)},
    )
    def get(self, request):
        segments = selectors.segment_list(tenant=request.tenant)[:MAX_LIMIT]
        return Response(CrmSegmentSerializer(segments, many=True).data)

    @extend_schema(
        operation_id="crm_segment_create",
        request=CrmSegmentInputSerializer,
        responses={201: CrmSegmentSerializer},
    )
    def post(self, request):
        data = CrmSegmentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            segment = services.segment_create(
                actor=self.actor(request), tenant=request.tenant, **data.validated_data
            )
        return Response(
            CrmSegmentSerializer(segment).data, status=status.HTTP_201_CREATED
        )


def _segment(request, segment_id: int) -> Segment:
    segment = selectors.segment_get(tenant=request.tenant, segment_id=segment_id)
    if segment is None:
        raise NotFound("No such segment.")
    return segment


class CrmSegmentDetailApi(CrmApi):
    @extend_schema(
        operation_id="crm_segment_get", responses={200: CrmSegmentSerializer}
    )
    def get(self, request, segment_id: int):
        return Response(CrmSegmentSerializer(_segment(request, segment_id)).data)

    @extend_schema(
        operation_id="crm_segment_update",
        request=CrmSegmentUpdateSerializer,
        responses={200: CrmSegmentSerializer},
    )
    def patch(self, request, segment_id: int):
        segment = _segment(request, segment_id)
        data = CrmSegmentUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            segment = services.segment_update(
                actor=self.actor(request), segment=segment, **data.validated_data
            )
        return Response(CrmSegmentSerializer(segment).data)


class CrmSegmentRefreshApi(CrmApi):
    @extend_schema(
        operation_id="crm_segment_refresh",
        request=None,
        responses={200: CrmSegmentSerializer},
    )
    def post(self, request, segment_id: int):
        segment = _segment(request, segment_id)
        with transaction.atomic(durable=True):
            services.segment_refresh(segment=segment)
        segment.refresh_from_db()
        return Response(CrmSegmentSerializer(segment).data)


# --- campaigns -------------------------------------------------------------------


class CrmCampaignListCreateApi(CrmApi):
    @extend_schema(
        operation_id="crm_campaign_list",
        responses={200: CrmCampaignSerializer(many=True)},
    )
    def get(self, request):
        campaigns = selectors.campaign_list(tenant=request.tenant)[:MAX_LIMIT]
        return Response(CrmCampaignSerializer(campaigns, many=True).data)

    @extend_schema(
        operation_id="crm_campaign_create",
        request=CrmCampaignInputSerializer,
        responses={201: CrmCampaignSerializer},
    )
    def post(self, request):
        data = CrmCampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        segment = selectors.segment_get(
            tenant=request.tenant, segment_id=fields.pop("segment_id")
        )
        if segment is None:
            raise NotFound("No such segment.")
        with transaction.atomic(durable=True):
            campaign = services.campaign_create(
                actor=self.actor(request), segment=segment, **fields
            )
        return Response(
            CrmCampaignSerializer(campaign).data, status=status.HTTP_201_CREATED
        )


class CrmCampaignSendApi(CrmApi):
    @extend_schema(
        operation_id="crm_campaign_send",
        request=None,
        responses={200: CrmCampaignRunSerializer},
        description="Mails the campaign to the segment's matching players who gave "
        "e-mail consent and are not excluded. Repeating the call mails nobody twice. "
        "Runs in the request; for very large segments use `manage.py "
        "crm_send_campaign`.",
    )
    def post(self, request, campaign_id: int):
        campaign = selectors.campaign_get(
            tenant=request.tenant, campaign_id=campaign_id
        )
        if campaign is None:
            raise NotFound("No such campaign.")
        result = services.campaign_send(actor=self.actor(request), campaign=campaign)
        return Response(
            {
                "campaign_id": campaign.pk,
                "counts": {k: int(v) for k, v in result.counts.items()},
            }
        )
