"""Property-based ledger tests: random sequences of postings, holds, posts, voids,
reversals and replays, checked against a tiny model of what each player should hold.

Each example builds a fresh tenant with its own players, so examples cannot see each
other's rows although they share one test transaction. An operation expected to be
refused runs in a savepoint, as a caller that goes on after a refusal would run it,
and must leave the tenant's rows exactly as they were.
"""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import IllegalStateTransition
from tests.factories import PlayerFactory, TenantFactory
from tests.ledger.helpers import SYSTEM, debit, ledger_snapshot, new_key, transfer
from wallet import services
from wallet.exceptions import InsufficientFunds, TransactionNotReversible
from wallet.models import PLAYER_KINDS, Account, JournalTransaction
from wallet.selectors import ledger_invariants_check

pytestmark = pytest.mark.django_db

PLAYERS = 3
amounts = st.integers(min_value=1, max_value=5_000)
deposits = st.integers(min_value=1, max_value=20_000)
player_index = st.integers(min_value=0, max_value=PLAYERS - 1)
pick = st.integers(min_value=0, max_value=1_000)

operation = st.one_of(
    st.tuples(st.just("deposit"), player_index, deposits),
    st.tuples(st.just("debit"), player_index, amounts),
    st.tuples(
        st.just("transfer"),
        player_index,
        st.integers(min_value=1, max_value=PLAYERS - 1),
        amounts,
    ),
    st.tuples(st.just("hold"), player_index, amounts),
    st.tuples(
        st.just("hold_and_resolve_twice"),
        player_index,
        amounts,
        st.sampled_from(["post", "void"]),
        st.sampled_from(["post", "void"]),
    ),
    st.tuples(st.just("post"), pick),
    st.tuples(st.just("void"), pick),
    st.tuples(st.just("reverse"), pick),
    st.tuples(st.just("reverse_reversal"), pick),
    st.tuples(st.just("replay"), pick),
)


@dataclass
class Posted:
    """A posting the model knows: how to repeat it and what it moved per player."""

    transaction_id: int
    moved: dict[int, int]
    repeat: object
    reversal_id: int | None = None


@dataclass
class Model:
    available: list[int] = field(default_factory=lambda: [0] * PLAYERS)
    held: list[int] = field(default_factory=lambda: [0] * PLAYERS)
    holds: list = field(default_factory=list)
    postings: list[Posted] = field(default_factory=list)


def _deposit(player, amount, key):
    return services.player_credit(
        player=player,
        currency="EUR",
        amount_minor=amount,
        source_kind=Account.Kind.PSP_CLEARING,
        kind=JournalTransaction.Kind.DEPOSIT,
        idempotency_key=key,
        actor=SYSTEM,
        provider="stripe",
    )


def _refused(tenant_id, error, call):
    """``call`` raises ``error`` and leaves every row of the tenant as it was."""
    before = ledger_snapshot(tenant_id=tenant_id)
    with pytest.raises(error), transaction.atomic():
        call()
    assert ledger_snapshot(tenant_id=tenant_id) == before


def _apply(op, *, tenant, players, model):
    name = op[0]
    if name == "deposit":
        _, who, amount = op
        key = new_key("deposit")
        result = _deposit(players[who], amount, key)
        model.available[who] += amount
        model.postings.append(
            Posted(
                result.transaction_id,
                {who: amount},
                lambda: _deposit(players[who], amount, key),
            )
        )
    elif name in ("debit", "transfer"):
        who, amount = op[1], op[-1]
        moved = {who: -amount}
        if name == "transfer":
            to = (who + op[2]) % PLAYERS
            moved[to] = amount
        key = new_key(name)

        def call():
            if name == "debit":
                return debit(players[who], amount, key=key)
            return transfer(
                source=players[who],
                destination=players[to],
                amount_minor=amount,
                key=key,
            )

        if amount > model.available[who]:
            _refused(tenant.pk, InsufficientFunds, call)
            return
        result = call()
        for index, delta in moved.items():
            model.available[index] += delta
        model.postings.append(Posted(result.transaction_id, moved, call))
    elif name == "hold":
        _, who, amount = op

        def call():
            return services.hold_place(
                player=players[who],
                currency="EUR",
                amount_minor=amount,
                idempotency_key=new_key("hold"),
                actor=SYSTEM,
            )

        if amount > model.available[who]:
            _refused(tenant.pk, InsufficientFunds, call)
            return
        hold = call()
        model.available[who] -= amount
        model.held[who] += amount
        model.holds.append([hold, who, amount, "pending"])
    elif name == "hold_and_resolve_twice":
        _, who, amount, first, second = op
        holds_before = len(model.holds)
        _apply(("hold", who, amount), tenant=tenant, players=players, model=model)
        if len(model.holds) == holds_before:
            return
        last = len(model.holds) - 1
        for resolution in (first, second):
            _apply((resolution, last), tenant=tenant, players=players, model=model)
    elif name in ("post", "void"):
        if not model.holds:
            return
        entry = model.holds[op[1] % len(model.holds)]
        hold, who, amount, state = entry
        target = "posted" if name == "post" else "voided"
        resolve = services.hold_post if name == "post" else services.hold_void
        if state not in ("pending", target):
            _refused(
                tenant.pk,
                IllegalStateTransition,
                lambda: resolve(hold=hold, actor=SYSTEM),
            )
            return
        before = ledger_snapshot(tenant_id=tenant.pk)
        resolved = resolve(hold=hold, actor=SYSTEM)
        assert resolved.state == target
        if state == target:
            assert ledger_snapshot(tenant_id=tenant.pk) == before
            return
        model.held[who] -= amount
        if target == "voided":
            model.available[who] += amount
        entry[3] = target
    elif name == "reverse":
        if not model.postings:
            return
        posted = model.postings[op[1] % len(model.postings)]

        def call():
            return services.transaction_reverse(
                transaction_id=posted.transaction_id,
                tenant_id=tenant.pk,
                actor=SYSTEM,
                reason="property test",
            )

        if posted.reversal_id is not None:
            before = ledger_snapshot(tenant_id=tenant.pk)
            again = call()
            assert (again.transaction_id, again.replayed) == (posted.reversal_id, True)
            assert ledger_snapshot(tenant_id=tenant.pk) == before
            return
        if any(model.available[i] - delta < 0 for i, delta in posted.moved.items()):
            _refused(tenant.pk, InsufficientFunds, call)
            return
        posted.reversal_id = call().transaction_id
        for index, delta in posted.moved.items():
            model.available[index] -= delta
    elif name == "reverse_reversal":
        reversed_ = [p for p in model.postings if p.reversal_id is not None]
        if not reversed_:
            return
        posted = reversed_[op[1] % len(reversed_)]
        _refused(
            tenant.pk,
            TransactionNotReversible,
            lambda: services.transaction_reverse(
                transaction_id=posted.reversal_id,
                tenant_id=tenant.pk,
                actor=SYSTEM,
                reason="undo the undo",
            ),
        )
    elif name == "replay":
        if not model.postings:
            return
        posted = model.postings[op[1] % len(model.postings)]
        before = ledger_snapshot(tenant_id=tenant.pk)
        again = posted.repeat()
        assert (again.transaction_id, again.replayed) == (posted.transaction_id, True)
        assert ledger_snapshot(tenant_id=tenant.pk) == before


def _cached_balances(tenant_id, players):
    rows = Account.objects.filter(tenant_id=tenant_id, kind__in=PLAYER_KINDS)
    by_key = {(a.player_id, a.kind): a.balance_minor for a in rows}
    available = [by_key.get((p.pk, "player_available"), 0) for p in players]
    held = [by_key.get((p.pk, "player_held"), 0) for p in players]
    return available, held


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    opening=st.lists(deposits, min_size=PLAYERS, max_size=PLAYERS),
    operations=st.lists(operation, min_size=3, max_size=20),
)
def test_random_ledger_histories_keep_every_invariant(opening, operations):
    tenant = TenantFactory()
    players = [PlayerFactory(tenant=tenant) for _ in range(PLAYERS)]
    model = Model()
    opening_deposits = [("deposit", who, amount) for who, amount in enumerate(opening)]
    for op in opening_deposits + operations:
        _apply(op, tenant=tenant, players=players, model=model)
        available, held = _cached_balances(tenant.pk, players)
        assert (available, held) == (model.available, model.held), op
        assert min(available + held) >= 0
    assert ledger_invariants_check(tenant_id=tenant.pk) == []
