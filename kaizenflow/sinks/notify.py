"""The chat and e-mail sink: a one-line notice per task event through Apprise (Slack, Teams, mail...)."""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Sequence

import apprise

from kaizenflow.sinks.base import TASK_CLOSED, TASK_CREATED, DeliveryError, Event, one_line
from kaizenflow.sinks.pages import WebPages

_REMEMBERED_EVENTS = 1000


class AppriseSink:
    """Notifies every Apprise URL (``slack://...``, ``msteams://...``, ``mailtos://...``) of each event.

    The URLs hold their services' credentials, so they are never shown: errors name a URL by its
    position and scheme. Apprise bounds each request with its own timeouts (``cto``/``rto`` URL
    parameters, 4 s by default). When one URL of several fails, the retry goes only to the ones
    that have not had the event yet, as long as this process lives; a retry in a later process
    may repeat a notice, which for a chat line is the lesser evil than losing it.
    """

    def __init__(self, urls: Sequence[str], *, pages: WebPages | None = None) -> None:
        if not urls:
            raise ValueError("an Apprise sink needs at least one URL")
        self._targets: list[apprise.Apprise] = []
        with warnings.catch_warnings():
            # Loading Apprise's plugins imports the standard library's deprecated imghdr (for
            # its PGP e-mail support): a warning of Apprise's import, not of anything done here.
            warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
            for position, url in enumerate(urls, start=1):
                target = apprise.Apprise()
                if not target.add(url):
                    scheme = url.split("://", 1)[0] if "://" in url else "?"
                    raise ValueError(f"Apprise URL #{position} (scheme {scheme!r}) is not valid")
                self._targets.append(target)
        self._pages = pages
        self._done: OrderedDict[str, set[int]] = OrderedDict()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"AppriseSink({len(self._targets)} URLs)"

    def send(self, event: Event) -> None:
        with self._lock:
            done = set(self._done.get(event.event_id, set()))
        failed = []
        notify_type = {TASK_CREATED: apprise.NotifyType.WARNING,
                       TASK_CLOSED: apprise.NotifyType.SUCCESS}.get(event.kind, apprise.NotifyType.INFO)
        for position, target in enumerate(self._targets, start=1):
            if position in done:
                continue
            if target.notify(body=one_line(event, self._pages), title="kaizenflow", notify_type=notify_type):
                done.add(position)
            else:
                failed.append(position)
        with self._lock:
            if failed:
                self._done[event.event_id] = done
                while len(self._done) > _REMEMBERED_EVENTS:
                    self._done.popitem(last=False)
            else:
                self._done.pop(event.event_id, None)
        if failed:
            # Apprise reports only success or failure; a failure is most often a network one.
            raise DeliveryError(
                f"Apprise: notification failed for URL #{', #'.join(map(str, failed))}", retryable=True
            )
