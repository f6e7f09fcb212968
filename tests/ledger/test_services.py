"""The ledger services, on whichever database DATABASE_URL names: the same tests
run the PostgreSQL posting function and the portable Python path.

A refused posting rolls back the caller's whole transaction (services join it with
``atomic(savepoint=False)``); a caller that carries on after a refusal, as these
tests do, wraps the call in a savepoint (``transaction.atomic()``)."""

from decimal import Decimal

import pytest
from django.db import connection, transaction

from audit.models import AuditEvent
from common.actors import Actor
from common.currency import InvalidAmount, UnknownCurrency, to_major, to_minor
from common.errors import (
    IdempotencyKeyReuseConflict,
    IllegalStateTransition,
    ValidationFailed,
)
from common.prepared import prepared_cursor
from tests.factories import OperatorFactory, PlayerFactory, fund
from tests.ledger.helpers import (
    SYSTEM,
    available_of,
    debit,
    held_of,
    ledger_snapshot,
    new_key,
    transfer,
)
from wallet import services
from wallet.exceptions import (
    InsufficientFunds,
    LedgerAccountMismatch,
    TransactionNotReversible,
    UnbalancedTransaction,
)
from wallet.models import Account, Entry, Hold, JournalTransaction
from wallet.selectors import account_balance, ledger_invariants_check
from wallet.services import ledger as ledger_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def player():
    return PlayerFactory()


def _deposit(player, amount_minor, key):
    return services.player_credit(
        player=player,
        currency="EUR",
        amount_minor=amount_minor,
        source_kind=Account.Kind.PSP_CLEARING,
        kind=JournalTransaction.Kind.DEPOSIT,
        idempotency_key=key,
        actor=SYSTEM,
        provider="stripe",
    )


# --- posting and idempotency -------------------------------------------------------


def test_deposit_credits_player_and_debits_psp_clearing(player):
    result = _deposit(player, 5000, "dep:1")
    clearing = Account.objects.get(
        tenant=player.tenant, kind=Account.Kind.PSP_CLEARING, provider="stripe"
    )
    assert available_of(player) == 5000
    assert account_balance(account=clearing) == -5000
    entries = Entry.objects.filter(transaction_id=result.transaction_id)
    assert sorted(entries.values_list("amount_minor", flat=True)) == [-5000, 5000]
    assert entries.get(amount_minor=5000).balance_after_minor == 5000
    assert entries.get(amount_minor=-5000).balance_after_minor is None
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_repeat_with_same_key_and_lines_returns_first_transaction_and_moves_nothing(
    player,
):
    first = _deposit(player, 5000, "dep:1")
    before = ledger_snapshot(tenant_id=player.tenant_id)
    second = _deposit(player, 5000, "dep:1")
    assert second.transaction_id == first.transaction_id
    assert first.replayed is False
    assert second.replayed is True
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_same_key_with_different_lines_is_a_conflict(player):
    first = _deposit(player, 5000, "dep:1")
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(IdempotencyKeyReuseConflict) as caught, transaction.atomic():
        _deposit(player, 4000, "dep:1")
    assert caught.value.details["transaction_id"] == first.transaction_id
    assert caught.value.http_status == 409
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_credit_and_the_same_lines_through_transaction_post_share_one_fingerprint(
    player,
):
    """On PostgreSQL a credit to existing accounts is fingerprinted by the database
    (wallet_request_hash); it must agree with the Python fingerprint either way round."""
    _deposit(player, 5000, "dep:opening")  # creates the accounts
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    clearing = Account.objects.get(
        tenant=player.tenant, kind=Account.Kind.PSP_CLEARING, provider="stripe"
    )
    lines = [
        services.PostingLine(clearing, -300),
        services.PostingLine(available, 300),
    ]

    def post(key):
        return services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.DEPOSIT,
            lines=lines,
            idempotency_key=key,
            actor=SYSTEM,
        )

    credited = _deposit(player, 300, "dep:a")
    assert post("dep:a") == services.PostingResult(credited.transaction_id, True)
    posted = post("dep:b")
    assert _deposit(player, 300, "dep:b") == services.PostingResult(
        posted.transaction_id, True
    )
    stored = JournalTransaction.objects.get(pk=credited.transaction_id).request_hash
    assert stored == ledger_services._fingerprint("deposit", lines, "", None)
    assert available_of(player) == 5600


def test_debit_replay_after_the_balance_changed_is_still_a_replay(player):
    fund(player, 1000)
    first = debit(player, 1000, key="debit:all")
    fund(player, 50)
    again = debit(player, 1000, key="debit:all")
    assert (again.transaction_id, again.replayed) == (first.transaction_id, True)
    assert available_of(player) == 50


def test_same_key_on_another_tenant_is_a_separate_posting(player):
    other = PlayerFactory()
    first = _deposit(player, 5000, "dep:1")
    second = _deposit(other, 5000, "dep:1")
    assert second.transaction_id != first.transaction_id
    assert second.replayed is False
    assert available_of(other) == 5000


def test_debit_beyond_available_is_refused_and_changes_nothing(player):
    fund(player, 1000)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(InsufficientFunds) as caught, transaction.atomic():
        debit(player, 1001)
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    assert caught.value.details == {"account_id": available.pk}
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_refused_key_can_be_used_again_once_funds_arrive(player):
    with pytest.raises(InsufficientFunds), transaction.atomic():
        debit(player, 500, key="debit:1")
    fund(player, 500)
    result = debit(player, 500, key="debit:1")
    assert result.replayed is False
    assert available_of(player) == 0


def test_exact_balance_can_be_spent_to_zero(player):
    fund(player, 1000)
    debit(player, 1000)
    assert available_of(player) == 0


def test_transfer_between_players_moves_both_cached_balances(player):
    other = PlayerFactory(tenant=player.tenant)
    fund(player, 1000)
    transfer(source=player, destination=other, amount_minor=300)
    assert available_of(player) == 700
    assert available_of(other) == 300
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_unbalanced_lines_are_refused(player):
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    clearing = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    with pytest.raises(UnbalancedTransaction), transaction.atomic():
        services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.DEPOSIT,
            lines=[
                services.PostingLine(clearing, -500),
                services.PostingLine(available, 400),
            ],
            idempotency_key=new_key(),
            actor=SYSTEM,
        )
    assert JournalTransaction.objects.filter(tenant=player.tenant).count() == 0


def test_lines_that_balance_only_across_currencies_are_refused(player):
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    clearing_usd = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="USD"
    )
    with pytest.raises(UnbalancedTransaction), transaction.atomic():
        services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.DEPOSIT,
            lines=[
                services.PostingLine(clearing_usd, -500),
                services.PostingLine(available, 500),
            ],
            idempotency_key=new_key(),
            actor=SYSTEM,
        )


def test_zero_and_non_integer_amounts_are_refused(player):
    available, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    clearing = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    for amount in (0, 1.5, Decimal("2")):
        with pytest.raises(ValidationFailed), transaction.atomic():
            services.transaction_post(
                tenant_id=player.tenant_id,
                kind=JournalTransaction.Kind.DEPOSIT,
                lines=[
                    services.PostingLine(clearing, -amount),
                    services.PostingLine(available, amount),
                ],
                idempotency_key=new_key(),
                actor=SYSTEM,
            )


def test_account_of_another_tenant_is_refused(player):
    stranger = PlayerFactory()
    fund(stranger, 1000)
    stranger_available, _ = services.player_accounts_get_or_create(
        player=stranger, currency="EUR"
    )
    clearing = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    before = ledger_snapshot(tenant_id=stranger.tenant_id)
    with pytest.raises(LedgerAccountMismatch), transaction.atomic():
        services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.TRANSFER,
            lines=[
                services.PostingLine(stranger_available, -500),
                services.PostingLine(clearing, 500),
            ],
            idempotency_key=new_key(),
            actor=SYSTEM,
        )
    assert ledger_snapshot(tenant_id=stranger.tenant_id) == before


def test_account_whose_stored_tenant_differs_from_the_callers_copy_is_refused(
    player,
):
    """The database-side check: the in-memory account lies about its tenant."""
    stranger = PlayerFactory()
    fund(stranger, 1000)
    forged, _ = services.player_accounts_get_or_create(player=stranger, currency="EUR")
    forged.tenant_id = player.tenant_id
    clearing = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="EUR"
    )
    with pytest.raises(LedgerAccountMismatch), transaction.atomic():
        services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.TRANSFER,
            lines=[
                services.PostingLine(forged, -500),
                services.PostingLine(clearing, 500),
            ],
            idempotency_key=new_key(),
            actor=SYSTEM,
        )
    assert available_of(stranger) == 1000
    assert JournalTransaction.objects.filter(tenant=player.tenant).count() == 0


def test_account_whose_stored_currency_differs_from_the_line_is_refused(player):
    fund(player, 1000)
    forged, _ = services.player_accounts_get_or_create(player=player, currency="EUR")
    forged.currency = "USD"
    clearing_usd = services.system_account_get_or_create(
        tenant_id=player.tenant_id, kind=Account.Kind.PSP_CLEARING, currency="USD"
    )
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(LedgerAccountMismatch), transaction.atomic():
        services.transaction_post(
            tenant_id=player.tenant_id,
            kind=JournalTransaction.Kind.TRANSFER,
            lines=[
                services.PostingLine(forged, -500),
                services.PostingLine(clearing_usd, 500),
            ],
            idempotency_key=new_key(),
            actor=SYSTEM,
        )
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_unknown_currency_is_refused_before_any_account_exists(player):
    with pytest.raises(UnknownCurrency), transaction.atomic():
        services.player_accounts_get_or_create(player=player, currency="XXX")
    assert not Account.objects.filter(player=player).exists()


def test_posting_without_prepared_statements_behaves_the_same(settings, player):
    """WALLET_PREPARED_POSTING=False (PgBouncer in transaction mode) takes the plain
    server-side-binding call; on SQLite the setting changes nothing."""
    settings.WALLET_PREPARED_POSTING = False
    first = _deposit(player, 700, "dep:unprepared")
    again = _deposit(player, 700, "dep:unprepared")
    with pytest.raises(InsufficientFunds), transaction.atomic():
        debit(player, 701)
    assert (again.transaction_id, again.replayed) == (first.transaction_id, True)
    assert available_of(player) == 700


# --- actor and audit ---------------------------------------------------------------


def test_operator_actor_is_recorded_on_the_transaction(player):
    operator = OperatorFactory(tenants=[player.tenant])
    result = services.adjustment_create(
        actor=Actor.for_user(operator),
        player=player,
        currency="EUR",
        amount_minor=250,
        reason="goodwill",
        idempotency_key=new_key(),
    )
    txn = JournalTransaction.objects.get(pk=result.transaction_id)
    assert txn.actor_type == "user"
    assert txn.actor_user_id == operator.pk
    assert txn.actor_label == operator.username
    assert txn.description == "goodwill"


def test_player_and_psp_actors_are_recorded_on_the_transaction(player):
    fund(player, 1000)
    by_player = debit(player, 100)
    by_psp = services.player_credit(
        player=player,
        currency="EUR",
        amount_minor=100,
        source_kind=Account.Kind.PSP_CLEARING,
        kind=JournalTransaction.Kind.DEPOSIT,
        idempotency_key=new_key(),
        actor=Actor.psp("adyen"),
        provider="adyen",
    )
    assert JournalTransaction.objects.get(pk=by_player.transaction_id).actor_type == (
        "system"
    )
    psp_txn = JournalTransaction.objects.get(pk=by_psp.transaction_id)
    assert (psp_txn.actor_type, psp_txn.actor_label) == ("psp", "adyen")


def test_each_posting_writes_one_audit_event_and_a_replay_none(player):
    result = _deposit(player, 5000, "dep:1")
    _deposit(player, 5000, "dep:1")
    events = AuditEvent.objects.filter(
        action="ledger.transaction_posted", target_id=str(result.transaction_id)
    )
    assert events.count() == 1
    event = events.get()
    assert event.tenant_id == player.tenant_id
    assert event.target_type == "wallet.JournalTransaction"
    assert event.actor_label == "tests"
    assert event.after["kind"] == "deposit"
    assert sorted(e["amount_minor"] for e in event.after["entries"]) == [-5000, 5000]


def test_refused_posting_writes_no_audit_event(player):
    with pytest.raises(InsufficientFunds), transaction.atomic():
        debit(player, 1)
    assert not AuditEvent.objects.filter(action="ledger.transaction_posted").exists()


# --- adjustments -------------------------------------------------------------------


def test_adjustment_without_reason_is_refused(player):
    for reason in ("", "   "):
        with pytest.raises(ValidationFailed), transaction.atomic():
            services.adjustment_create(
                actor=SYSTEM,
                player=player,
                currency="EUR",
                amount_minor=100,
                reason=reason,
                idempotency_key=new_key(),
            )
    assert not JournalTransaction.objects.filter(tenant=player.tenant).exists()


def test_negative_adjustment_debits_against_the_adjustments_account(player):
    fund(player, 1000)
    services.adjustment_create(
        actor=SYSTEM,
        player=player,
        currency="EUR",
        amount_minor=-300,
        reason="duplicate bonus",
        idempotency_key=new_key(),
    )
    adjustments = Account.objects.get(
        tenant=player.tenant, kind=Account.Kind.ADJUSTMENTS
    )
    assert available_of(player) == 700
    assert account_balance(account=adjustments) == 300


def test_negative_adjustment_beyond_balance_is_refused(player):
    fund(player, 100)
    with pytest.raises(InsufficientFunds), transaction.atomic():
        services.adjustment_create(
            actor=SYSTEM,
            player=player,
            currency="EUR",
            amount_minor=-101,
            reason="claw back",
            idempotency_key=new_key(),
        )
    assert available_of(player) == 100


def test_zero_adjustment_is_refused(player):
    with pytest.raises(ValidationFailed), transaction.atomic():
        services.adjustment_create(
            actor=SYSTEM,
            player=player,
            currency="EUR",
            amount_minor=0,
            reason="nothing",
            idempotency_key=new_key(),
        )


# --- holds -------------------------------------------------------------------------


def _hold(player, amount_minor, key=None):
    return services.hold_place(
        player=player,
        currency="EUR",
        amount_minor=amount_minor,
        idempotency_key=key or new_key("hold"),
        actor=SYSTEM,
        reference="withdrawal:test",
    )


def test_hold_moves_available_to_held(player):
    fund(player, 1000)
    hold = _hold(player, 400)
    assert hold.state == Hold.State.PENDING
    assert (available_of(player), held_of(player)) == (600, 400)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_hold_place_repeat_returns_the_same_hold(player):
    fund(player, 1000)
    first = _hold(player, 400, key="hold:1")
    second = _hold(player, 400, key="hold:1")
    assert second.pk == first.pk
    assert (available_of(player), held_of(player)) == (600, 400)


def test_hold_beyond_available_is_refused_and_changes_nothing(player):
    fund(player, 1000)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(InsufficientFunds), transaction.atomic():
        _hold(player, 1001)
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_hold_post_moves_held_to_withdrawals_in_flight(player):
    fund(player, 1000)
    hold = services.hold_post(hold=_hold(player, 400), actor=SYSTEM)
    in_flight = Account.objects.get(
        tenant=player.tenant, kind=Account.Kind.WITHDRAWALS_IN_FLIGHT
    )
    assert hold.state == Hold.State.POSTED
    assert hold.resolve_transaction.kind == JournalTransaction.Kind.WITHDRAWAL_POST
    assert (available_of(player), held_of(player)) == (600, 0)
    assert account_balance(account=in_flight) == 400
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_hold_void_returns_held_to_available(player):
    fund(player, 1000)
    hold = services.hold_void(hold=_hold(player, 400), actor=SYSTEM)
    assert hold.state == Hold.State.VOIDED
    assert hold.resolve_transaction.kind == JournalTransaction.Kind.WITHDRAWAL_VOID
    assert (available_of(player), held_of(player)) == (1000, 0)
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_repeating_a_hold_post_is_a_no_op(player):
    fund(player, 1000)
    hold = services.hold_post(hold=_hold(player, 400), actor=SYSTEM)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    again = services.hold_post(hold=hold, actor=SYSTEM)
    assert again.resolve_transaction_id == hold.resolve_transaction_id
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_repeating_a_hold_void_is_a_no_op(player):
    fund(player, 1000)
    hold = services.hold_void(hold=_hold(player, 400), actor=SYSTEM)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    services.hold_void(hold=hold, actor=SYSTEM)
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_post_after_void_is_an_illegal_transition(player):
    fund(player, 1000)
    hold = services.hold_void(hold=_hold(player, 400), actor=SYSTEM)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(IllegalStateTransition) as caught, transaction.atomic():
        services.hold_post(hold=hold, actor=SYSTEM)
    assert caught.value.code == "ILLEGAL_TRANSACTION_STATE_TRANSITION"
    assert caught.value.details["from_state"] == "voided"
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_void_after_post_is_an_illegal_transition(player):
    fund(player, 1000)
    hold = services.hold_post(hold=_hold(player, 400), actor=SYSTEM)
    with pytest.raises(IllegalStateTransition), transaction.atomic():
        services.hold_void(hold=hold, actor=SYSTEM)
    assert (available_of(player), held_of(player)) == (600, 0)


def test_resolving_a_stale_copy_of_a_hold_reads_the_stored_state(player):
    fund(player, 1000)
    stale = _hold(player, 400)
    services.hold_void(hold=Hold.objects.get(pk=stale.pk), actor=SYSTEM)
    with pytest.raises(IllegalStateTransition), transaction.atomic():
        services.hold_post(hold=stale, actor=SYSTEM)


def test_held_funds_cannot_be_debited_from_available(player):
    fund(player, 1000)
    _hold(player, 800)
    with pytest.raises(InsufficientFunds), transaction.atomic():
        debit(player, 201)
    assert (available_of(player), held_of(player)) == (200, 800)


# --- reversals ---------------------------------------------------------------------


def test_reversal_mirrors_the_entries_and_links_the_original(player):
    original = _deposit(player, 5000, "dep:1")
    reversal = services.transaction_reverse(
        transaction_id=original.transaction_id,
        tenant_id=player.tenant_id,
        actor=SYSTEM,
        reason="duplicate deposit",
    )
    reversed_txn = JournalTransaction.objects.get(pk=reversal.transaction_id)
    assert reversed_txn.kind == JournalTransaction.Kind.REVERSAL
    assert reversed_txn.reverses_id == original.transaction_id
    assert reversed_txn.description == "duplicate deposit"
    mirror = sorted(
        (e.account_id, -e.amount_minor)
        for e in Entry.objects.filter(transaction_id=original.transaction_id)
    )
    assert (
        sorted(reversed_txn.entries.values_list("account_id", "amount_minor")) == mirror
    )
    assert available_of(player) == 0
    assert ledger_invariants_check(tenant_id=player.tenant_id) == []


def test_second_reversal_returns_the_first_and_moves_nothing(player):
    original = _deposit(player, 5000, "dep:1")
    first = services.transaction_reverse(
        transaction_id=original.transaction_id,
        tenant_id=player.tenant_id,
        actor=SYSTEM,
        reason="duplicate",
    )
    before = ledger_snapshot(tenant_id=player.tenant_id)
    second = services.transaction_reverse(
        transaction_id=original.transaction_id,
        tenant_id=player.tenant_id,
        actor=SYSTEM,
        reason="another reason",
    )
    assert second.transaction_id == first.transaction_id
    assert second.replayed is True
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_reversal_of_a_reversal_is_refused(player):
    original = _deposit(player, 5000, "dep:1")
    reversal = services.transaction_reverse(
        transaction_id=original.transaction_id,
        tenant_id=player.tenant_id,
        actor=SYSTEM,
        reason="duplicate",
    )
    with pytest.raises(TransactionNotReversible), transaction.atomic():
        services.transaction_reverse(
            transaction_id=reversal.transaction_id,
            tenant_id=player.tenant_id,
            actor=SYSTEM,
            reason="undo the undo",
        )


def test_reversal_of_a_hold_movement_is_refused(player):
    fund(player, 1000)
    hold = _hold(player, 400)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(TransactionNotReversible), transaction.atomic():
        services.transaction_reverse(
            transaction_id=hold.place_transaction_id,
            tenant_id=player.tenant_id,
            actor=SYSTEM,
            reason="no",
        )
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_reversal_needs_a_reason(player):
    original = _deposit(player, 5000, "dep:1")
    with pytest.raises(ValidationFailed), transaction.atomic():
        services.transaction_reverse(
            transaction_id=original.transaction_id,
            tenant_id=player.tenant_id,
            actor=SYSTEM,
            reason=" ",
        )


def test_reversal_of_a_spent_deposit_is_refused_for_insufficient_funds(player):
    original = _deposit(player, 5000, "dep:1")
    debit(player, 4000)
    before = ledger_snapshot(tenant_id=player.tenant_id)
    with pytest.raises(InsufficientFunds), transaction.atomic():
        services.transaction_reverse(
            transaction_id=original.transaction_id,
            tenant_id=player.tenant_id,
            actor=SYSTEM,
            reason="chargeback",
        )
    assert ledger_snapshot(tenant_id=player.tenant_id) == before


def test_reversal_of_another_tenants_transaction_is_not_found(player):
    stranger = PlayerFactory()
    original = _deposit(stranger, 5000, "dep:1")
    with pytest.raises(JournalTransaction.DoesNotExist), transaction.atomic():
        services.transaction_reverse(
            transaction_id=original.transaction_id,
            tenant_id=player.tenant_id,
            actor=SYSTEM,
            reason="not mine",
        )
    assert available_of(stranger) == 5000


# --- currency conversion -----------------------------------------------------------


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        ("50.00", "EUR", 5000),
        ("50", "EUR", 5000),
        ("0.01", "EUR", 1),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("0.001", "KWD", 1),
    ],
)
def test_to_minor_scales_by_the_currency_exponent(major, currency, minor):
    assert to_minor(major, currency) == minor


@pytest.mark.parametrize(
    ("major", "currency"),
    [
        ("0.001", "EUR"),
        ("1.5", "JPY"),
        ("1.2345", "KWD"),
        ("abc", "EUR"),
        ("NaN", "EUR"),
    ],
)
def test_to_minor_refuses_more_decimals_than_the_currency_has(major, currency):
    with pytest.raises(InvalidAmount):
        to_minor(major, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "major"),
    [
        (5000, "EUR", "50.00"),
        (1, "EUR", "0.01"),
        (1500, "JPY", "1500"),
        (1234, "KWD", "1.234"),
    ],
)
def test_to_major_formats_with_the_currency_exponent(minor, currency, major):
    assert to_major(minor, currency) == major


def test_unknown_currency_is_refused_by_conversion():
    with pytest.raises(UnknownCurrency):
        to_minor("1.00", "XXX")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postings_keep_working_when_django_reconnects_between_them():
    """The prepared posting call reuses one psycopg cursor per connection: a new
    connection must get its own, not the closed one's."""
    player = PlayerFactory()
    fund(player, 5000)
    first = prepared_cursor(connection)
    connection.close()

    fund(player, 100)

    assert prepared_cursor(connection) is not first
    assert available_of(player) == 5100
