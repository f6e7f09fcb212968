from __future__ import annotations

import json

from django.core import signing
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.views import View
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from common.currency import format_money
from common.errors import NotFound, ValidationFailed
from payments.models import PSPConfig
from payments.providers.stripe.mapping import SUPPORTED_EVENTS
from payments.providers.stripe.provider import SIMULATOR_SALT
from payments.simulator import adyen
from payments.simulator.events import deliver, event_for
from tenants.selectors import tenant_ids_for_operator
from wallet.models import Deposit, PayoutAttempt

TOKEN_MAX_AGE = 24 * 3600


class SimulatedCheckoutView(View):
    """Stands in for Stripe's hosted checkout page: Pay or Cancel."""

    def _session(self, request, session_id: str):
        token = request.GET.get("s") or request.POST.get("s") or ""
        try:
            data = signing.loads(token, salt=SIMULATOR_SALT, max_age=TOKEN_MAX_AGE)
        except signing.BadSignature:
            raise Http404("unknown checkout session") from None
        deposit = (
            Deposit.objects.select_related("player__tenant")
            .filter(
                pk=data["deposit_id"],
                player__tenant__slug=data["tenant"],
                provider_reference=session_id,
            )
            .first()
        )
        if deposit is None or data["session_id"] != session_id:
            raise Http404("unknown checkout session")
        config = PSPConfig.objects.get(
            tenant_id=deposit.tenant_id, provider=deposit.provider
        )
        return deposit, config, data, token

    def get(self, request, session_id: str):
        deposit, _, _, token = self._session(request, session_id)
        return render(
            request,
            "payments/simulator_checkout.html",
            {
                "deposit": deposit,
                "amount": format_money(deposit.amount_minor, deposit.currency),
                "token": token,
                "session_id": session_id,
            },
        )

    def post(self, request, session_id: str):
        deposit, config, data, _ = self._session(request, session_id)
        action = request.POST.get("action")
        if action not in ("pay", "cancel"):
            raise Http404("unknown action")
        if (
            deposit.state == Deposit.State.PENDING_PROVIDER
            and deposit.provider == "adyen"
        ):
            event = "AUTHORISATION" if action == "pay" else "AUTHORISATION_REFUSED"
            adyen.deliver(
                config=config,
                document=adyen.batch(
                    adyen.notification_item(config=config, deposit=deposit, event=event)
                ),
            )
        elif deposit.state == Deposit.State.PENDING_PROVIDER:
            event_type = (
                "checkout.session.completed"
                if action == "pay"
                else "checkout.session.expired"
            )
            deliver(config=config, event=event_for(deposit, event_type))
        return HttpResponseRedirect(
            data["return_url"] if action == "pay" else data["cancel_url"]
        )


class SimulatorEventEmitApi(APIView):
    """Staff only: send any supported Stripe event for a deposit through the real
    webhook endpoint, e.g. ``{"deposit_id": 7, "type": "charge.dispute.created"}``."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        deposit_id = serializers.IntegerField()
        type = serializers.ChoiceField(choices=[*SUPPORTED_EVENTS, *adyen.EVENTS])
        amount_minor = serializers.IntegerField(required=False, min_value=0)

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        deposits = Deposit.objects.select_related("player__tenant")
        tenant_ids = tenant_ids_for_operator(user=request.user)
        if tenant_ids is not None:
            deposits = deposits.filter(tenant_id__in=tenant_ids)
        deposit = deposits.filter(pk=data.validated_data["deposit_id"]).first()
        if deposit is None:
            raise NotFound(details={"deposit_id": data.validated_data["deposit_id"]})
        config = PSPConfig.objects.get(
            tenant_id=deposit.tenant_id, provider=deposit.provider
        )
        if deposit.provider == "adyen":
            return self._emit_adyen(config, deposit, data.validated_data)
        event = event_for(
            deposit,
            data.validated_data["type"],
            amount_minor=data.validated_data.get("amount_minor"),
        )
        response = deliver(config=config, event=event)
        return Response(
            {
                "event": event,
                "webhook_status": response.status_code,
                "webhook_response": json.loads(response.content),
            }
        )

    def _emit_adyen(self, config, deposit, data):
        if data["type"] not in adyen.EVENTS:
            raise ValidationFailed(details={"fields": {"type": ["not an Adyen event"]}})
        references = {}
        refund = adyen.refund_for(deposit=deposit, event=data["type"])
        if refund is not None:
            # Answer the operator's refund as Adyen would: its reference, its amount.
            references = {
                "merchant_reference": f"refund:{refund.pk}",
                "psp_reference": refund.provider_reference or None,
                "amount_minor": refund.amount_minor,
            }
        document = adyen.batch(
            adyen.notification_item(
                config=config,
                deposit=deposit,
                event=data["type"],
                **{"amount_minor": data.get("amount_minor"), **references},
            )
        )
        response = adyen.deliver(config=config, document=document)
        return Response(
            {
                "event": document,
                "webhook_status": response.status_code,
                "webhook_response": response.content.decode(),
            }
        )


class SimulatorTransferEmitApi(APIView):
    """Staff only: report the outcome of an Adyen payout as Adyen's Balance Platform
    would, through the real webhook endpoint, e.g. ``{"withdrawal_id": 7,
    "status": "booked"}`` (or ``failed``)."""

    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAdminUser]

    class InputSerializer(serializers.Serializer):
        withdrawal_id = serializers.IntegerField()
        status = serializers.ChoiceField(
            choices=[
                "received",
                "authorised",
                "booked",
                "credited",
                "failed",
                "refused",
            ]
        )

    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        attempts = PayoutAttempt.objects.select_related("withdrawal").filter(
            provider="adyen", withdrawal_id=data.validated_data["withdrawal_id"]
        )
        tenant_ids = tenant_ids_for_operator(user=request.user)
        if tenant_ids is not None:
            attempts = attempts.filter(tenant_id__in=tenant_ids)
        attempt = attempts.order_by("-number").first()
        if attempt is None:
            raise NotFound(
                details={"withdrawal_id": data.validated_data["withdrawal_id"]}
            )
        config = PSPConfig.objects.get(tenant_id=attempt.tenant_id, provider="adyen")
        withdrawal = attempt.withdrawal
        status = data.validated_data["status"]
        document = adyen.transfer_update(
            config=config,
            transfer_id=attempt.provider_reference or f"SIMTR{attempt.pk}",
            reference=f"withdrawal:{withdrawal.pk}:attempt:{attempt.pk}",
            amount_minor=withdrawal.amount_minor,
            currency=withdrawal.currency,
            status=status,
            reason="approved" if status in ("booked", "credited") else "declined",
            sequence_number=adyen.TRANSFER_SEQUENCE[status],
        )
        response = adyen.deliver_transfer_update(config=config, document=document)
        return Response(
            {
                "event": document,
                "webhook_status": response.status_code,
                "webhook_response": response.content.decode(),
            }
        )
