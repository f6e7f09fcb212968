"""Segment rules: parsed once into a typed spec, then turned into one database query.

Rules are a JSON object; every key is optional and all given keys must hold (AND):

``country_in``            ["DE", "AT"]: the player's country is one of these
``kyc_status_in``         ["verified"]: the player's KYC status is one of these
``deposits_in_last_days`` {"days": 30, "currency": "EUR", "at_least": "100.00"}: completed
                          deposits in the currency, completed at or after now − days,
                          sum to at least the amount (major units)
``last_login_before``     "2026-11-01" or an ISO datetime: the last login is strictly
                          before that moment (a date means 00:00 UTC of that day); a
                          player who never logged in counts as before
``has_tags``              ["vip", "whale"]: the player has every one of these tags
``balance_above``         {"currency": "EUR", "amount": "50.00"}: the available balance in
                          the currency is strictly above the amount
``self_excluded``         true / false: the player is (not) excluded from play. The player
                          model has no self-exclusion record yet, so this reads the
                          ``blocked`` status, the exclusion the model has today
                          (``crm.selectors.marketing_excluded_q``)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Sum
from django.utils.dateparse import parse_date, parse_datetime

from casino.models import Player
from common import clock
from common.currency import InvalidAmount, UnknownCurrency, to_minor
from crm.exceptions import SegmentRulesInvalid
from crm.models import PlayerTag
from tenants.models import Tenant
from wallet.models import Account, Deposit

RULE_KEYS = (
    "country_in",
    "kyc_status_in",
    "deposits_in_last_days",
    "last_login_before",
    "has_tags",
    "balance_above",
    "self_excluded",
)


@dataclass(frozen=True)
class DepositRule:
    days: int
    currency: str
    at_least_minor: int


@dataclass(frozen=True)
class BalanceRule:
    currency: str
    above_minor: int


@dataclass(frozen=True)
class SegmentSpec:
    country_in: tuple[str, ...] | None = None
    kyc_status_in: tuple[str, ...] | None = None
    deposits: DepositRule | None = None
    last_login_before: datetime | None = None
    has_tags: tuple[str, ...] | None = None
    balance_above: BalanceRule | None = None
    self_excluded: bool | None = None


def _fail(key: str, message: str) -> SegmentRulesInvalid:
    return SegmentRulesInvalid(
        f"{key}: {message}", details={"fields": {key: [message]}}
    )


def _string_list(rules: Mapping[str, Any], key: str) -> tuple[str, ...] | None:
    value = rules.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, str) and v.strip() for v in value)
    ):
        raise _fail(key, "a non-empty list of strings")
    return tuple(v.strip() for v in value)


def _money(value: Any, key: str, amount_key: str) -> tuple[str, int]:
    if not isinstance(value, dict):
        raise _fail(
            key, f'an object like {{"currency": "EUR", "{amount_key}": "50.00"}}'
        )
    currency = value.get("currency")
    amount = value.get(amount_key)
    if not isinstance(currency, str) or not isinstance(amount, (str, int)):
        raise _fail(key, f"needs currency and {amount_key} (major units, as a string)")
    currency = currency.upper()
    try:
        minor = to_minor(str(amount), currency)
    except (InvalidAmount, UnknownCurrency) as exc:
        raise _fail(key, exc.message) from exc
    if minor < 0:
        raise _fail(key, "the amount cannot be negative")
    return currency, minor


def _moment(value: Any, key: str) -> datetime:
    if isinstance(value, str):
        moment = parse_datetime(value) if "T" in value else None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        try:
            day = parse_date(value)
        except ValueError:
            day = None
        if day is not None:
            return datetime.combine(day, time.min, tzinfo=UTC)
    raise _fail(key, "an ISO date (2026-11-01) or datetime")


def segment_rules_parse(rules: Any) -> SegmentSpec:
    """Validate rules as stored or posted; SEGMENT_RULES_INVALID names the bad key."""
    if rules in (None, ""):
        rules = {}
    if not isinstance(rules, dict):
        raise SegmentRulesInvalid("Rules are a JSON object.", details={})
    unknown = sorted(set(rules) - set(RULE_KEYS))
    if unknown:
        raise SegmentRulesInvalid(
            f"Unknown rule(s): {', '.join(unknown)}.",
            details={"unknown": unknown, "known": list(RULE_KEYS)},
        )
    spec: dict[str, Any] = {}
    countries = _string_list(rules, "country_in")
    if countries is not None:
        if not all(len(c) == 2 and c.isalpha() for c in countries):
            raise _fail("country_in", "ISO 3166-1 alpha-2 codes, e.g. DE")
        spec["country_in"] = tuple(c.upper() for c in countries)
    kyc = _string_list(rules, "kyc_status_in")
    if kyc is not None:
        bad = [k for k in kyc if k not in Player.KycStatus.values]
        if bad:
            raise _fail("kyc_status_in", f"one of {Player.KycStatus.values}")
        spec["kyc_status_in"] = kyc
    if "deposits_in_last_days" in rules:
        value = rules["deposits_in_last_days"]
        currency, minor = _money(value, "deposits_in_last_days", "at_least")
        days = value.get("days")
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            raise _fail("deposits_in_last_days", "days is a whole number, 1 to 3650")
        spec["deposits"] = DepositRule(days, currency, minor)
    if "last_login_before" in rules:
        spec["last_login_before"] = _moment(
            rules["last_login_before"], "last_login_before"
        )
    tags = _string_list(rules, "has_tags")
    if tags is not None:
        spec["has_tags"] = tags
    if "balance_above" in rules:
        currency, minor = _money(rules["balance_above"], "balance_above", "amount")
        spec["balance_above"] = BalanceRule(currency, minor)
    if "self_excluded" in rules:
        if not isinstance(rules["self_excluded"], bool):
            raise _fail("self_excluded", "true or false")
        spec["self_excluded"] = rules["self_excluded"]
    return SegmentSpec(**spec)


def excluded_q() -> Q:
    """Players excluded from play (and so from marketing). Today the player model's
    only exclusion is the ``blocked`` status; a self-exclusion record joins here."""
    return Q(status=Player.Status.BLOCKED)


def segment_player_queryset(
    *, tenant: Tenant, spec: SegmentSpec, now: datetime | None = None
) -> QuerySet[Player]:
    """The players matching ``spec``, as one query (nothing is evaluated in Python)."""
    now = now or clock.now()
    players = Player.objects.filter(tenant=tenant)
    if spec.country_in is not None:
        players = players.filter(country__in=spec.country_in)
    if spec.kyc_status_in is not None:
        players = players.filter(kyc_status__in=spec.kyc_status_in)
    if spec.deposits is not None:
        rule = spec.deposits
        depositors = (
            Deposit.objects.filter(
                tenant=tenant,
                state=Deposit.State.COMPLETED,
                currency=rule.currency,
                completed_at__gte=now - timedelta(days=rule.days),
            )
            .values("player_id")
            .annotate(total=Sum("amount_minor"))
            .filter(total__gte=rule.at_least_minor)
            .values("player_id")
        )
        players = players.filter(pk__in=depositors)
    if spec.last_login_before is not None:
        players = players.filter(
            Q(last_login_at__lt=spec.last_login_before) | Q(last_login_at__isnull=True)
        )
    for name in spec.has_tags or ():
        players = players.filter(
            Exists(
                PlayerTag.objects.filter(
                    player_id=OuterRef("pk"), tag__tenant=tenant, tag__name__iexact=name
                )
            )
        )
    if spec.balance_above is not None:
        rule = spec.balance_above
        players = players.filter(
            Exists(
                Account.objects.filter(
                    player_id=OuterRef("pk"),
                    kind=Account.Kind.PLAYER_AVAILABLE,
                    currency=rule.currency,
                    balance_minor__gt=rule.above_minor,
                )
            )
        )
    if spec.self_excluded is not None:
        players = players.filter(excluded_q() if spec.self_excluded else ~excluded_q())
    return players
