"""Where improvement tasks are pushed: the sink protocol, and the remote issue remembered per task.

The concrete sinks live in their own modules so that importing the outbox does not import every
client library: ``webhook.WebhookSink``, ``github.GitHubIssuesSink``, ``jira.JiraSink`` and
``notify.AppriseSink``.
"""

from kaizenflow.sinks.base import (
    EVENT_KINDS,
    REOPENED,
    STATUS_SET,
    TASK_CLOSED,
    TASK_CREATED,
    TASK_UPDATED,
    DeliveryError,
    Event,
    Sink,
)
from kaizenflow.sinks.links import DatabaseLinks, LinkStore, MemoryLinks
from kaizenflow.storage.schema import sink_links

__all__ = [
    "EVENT_KINDS", "REOPENED", "STATUS_SET", "TASK_CLOSED", "TASK_CREATED", "TASK_UPDATED",
    "DatabaseLinks", "DeliveryError", "Event", "LinkStore", "MemoryLinks", "Sink", "sink_links",
]
