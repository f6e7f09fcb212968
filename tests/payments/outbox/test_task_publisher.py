"""The per-process publisher of hot-path nudges (common.queue.task_enqueue_batched):
what request threads hand over while it lingers goes to Redis as one task message,
each value with the request id it came with; a broker that is down loses only the
nudge (the outbox sweep sends it again) and the publisher carries on."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from common import queue as task_queue
from common.request_id import request_id_reset, request_id_set
from tests.payments.outbox.conftest import wait_until

pytestmark = pytest.mark.usefixtures("background_publishing")


@pytest.fixture
def background_publishing(settings, redis_broker):
    settings.TASK_PUBLISH_IN_BACKGROUND = True
    settings.TASK_PUBLISH_LINGER_MS = 200
    settings.TASK_PUBLISH_BATCH = 50
    task_queue._current_publisher = None  # a publisher with these settings
    yield
    task_queue._current_publisher = None


def published(redis_broker) -> list[tuple[str, dict]]:
    """(task name, kwargs) of every message waiting in Celery's default queue."""
    messages = []
    for raw in reversed(redis_broker.lrange("celery", 0, -1)):
        message = json.loads(raw)
        _, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], kwargs))
    return messages


def hand_over(value: int, request_id: str) -> None:
    token = request_id_set(request_id)
    try:
        task_queue.task_enqueue_batched(
            "payments.webhook_apply_batch", argument="inbox_ids", value=value
        )
    finally:
        request_id_reset(token)


def test_what_arrives_within_the_linger_is_one_message_with_each_request_id(
    redis_broker,
):
    threads = [
        threading.Thread(target=hand_over, args=(n, f"req-{n}")) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    wait_until(lambda: published(redis_broker))
    ((name, kwargs),) = published(redis_broker)
    assert name == "payments.webhook_apply_batch"
    pairs = sorted(zip(kwargs["inbox_ids"], kwargs["request_ids"], strict=True))
    assert pairs == [(n, f"req-{n}") for n in range(8)]


def test_a_batch_is_cut_at_its_size(settings, redis_broker):
    settings.TASK_PUBLISH_BATCH = 3
    task_queue._current_publisher = None
    for n in range(7):
        hand_over(n, f"req-{n}")

    wait_until(
        lambda: sum(len(k["inbox_ids"]) for _, k in published(redis_broker)) == 7
    )
    sizes = [len(kwargs["inbox_ids"]) for _, kwargs in published(redis_broker)]
    assert max(sizes) <= 3
    assert sorted(
        v for _, k in published(redis_broker) for v in k["inbox_ids"]
    ) == list(range(7))


def test_a_broker_that_is_down_loses_the_nudge_not_the_publisher(
    redis_broker, monkeypatch, caplog
):
    from celery.app.task import Task

    def refuse(self, *args, **kwargs):
        raise ConnectionError("broker unreachable")

    with monkeypatch.context() as down:
        down.setattr(Task, "apply_async", refuse)
        hand_over(1, "req-lost")
        wait_until(lambda: "task.enqueue_failed" in caplog.text)
    assert published(redis_broker) == []

    hand_over(2, "req-after")
    wait_until(lambda: published(redis_broker))
    ((_, kwargs),) = published(redis_broker)
    assert kwargs == {"inbox_ids": [2], "request_ids": ["req-after"]}


def test_a_forked_child_starts_its_own_publisher(monkeypatch):
    parent = task_queue._publisher()
    assert task_queue._publisher() is parent
    monkeypatch.setattr(task_queue.os, "getpid", lambda: parent.pid + 1)
    child = task_queue._publisher()
    assert child is not parent
    assert child.thread.is_alive()


def test_at_exit_what_waits_is_published(redis_broker, monkeypatch):
    # A publisher whose thread never got to the values when the process exits.
    monkeypatch.setattr(task_queue._BatchPublisher, "_run", lambda self: None)
    publisher = task_queue._BatchPublisher()
    publisher.hand_over("payments.webhook_apply_batch", "inbox_ids", 9, "req-9")
    publisher.hand_over("payments.webhook_apply_batch", "inbox_ids", 10, "req-10")
    publisher.flush()
    assert published(redis_broker) == [
        (
            "payments.webhook_apply_batch",
            {"inbox_ids": [9, 10], "request_ids": ["req-9", "req-10"]},
        )
    ]


def test_a_forked_child_does_not_send_what_its_parent_held(redis_broker, monkeypatch):
    monkeypatch.setattr(task_queue._BatchPublisher, "_run", lambda self: None)
    parent = task_queue._BatchPublisher()
    parent.hand_over("payments.webhook_apply_batch", "inbox_ids", 9, "req-9")
    monkeypatch.setattr(task_queue.os, "getpid", lambda: parent.pid + 1)
    parent.flush()  # the inherited at-exit handler, run in the child
    assert published(redis_broker) == []
