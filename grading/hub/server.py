"""The grading service's web side: the instructor's live page, behind the hub's login.

JupyterHub starts the service with its address and prefix in the environment
(`JUPYTERHUB_SERVICE_URL`, `JUPYTERHUB_SERVICE_PREFIX`) and proxies `/services/grading/` to it.
Every page needs the hub's OAuth login with the scope `access:services!service=grading`, which the
hub's configuration grants to instructors only (`grading.hub.site`): a student is refused.
"""

from __future__ import annotations

import asyncio
import os
import threading
from urllib.parse import urlparse

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from jupyterhub.utils import url_path_join
from tornado.web import Application, HTTPError, RequestHandler, authenticated

from grading.hub.service import GradingService
from grading.hub.status_page import lab_view, render

POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


class PageHandler(HubOAuthenticated, RequestHandler):
    def initialize(self, service: GradingService) -> None:
        self.service = service

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", POLICY)
        self.set_header("X-Content-Type-Options", "nosniff")


class StatusHandler(PageHandler):
    @authenticated
    def get(self) -> None:
        service = self.service
        with service.queue.lock:
            waiting = list(service.queue.waiting.values())
            grading = dict(service.queue.grading)
        views = [
            lab_view(service.ledgers[lab], service.policy, sum(a.lab == lab for a in waiting)) for lab in service.labs
        ]
        self.write(render(views, waiting, grading))


class ReportHandler(PageHandler):
    """A lab's class report, as the last grading wrote it."""

    @authenticated
    def get(self, lab: str) -> None:
        if lab not in self.service.labs:
            raise HTTPError(404)
        page = self.service.course.reports / f"{lab}.html"
        if not page.is_file():
            self.write(f"<p>No class report yet: nobody's {lab} has been graded.</p>")
            return
        self.write(page.read_bytes())


def application(service: GradingService, prefix: str) -> Application:
    return Application(
        [
            (prefix, StatusHandler, {"service": service}),
            (url_path_join(prefix, "report/([a-z0-9_]+)"), ReportHandler, {"service": service}),
            (url_path_join(prefix, "oauth_callback"), HubOAuthCallbackHandler),
        ],
        cookie_secret=os.urandom(32),
    )


def serve_in_background(service: GradingService) -> threading.Thread | None:
    """Serve the live page on the address the hub gave the service, from a thread of its own;
    None when the service was not started by a hub."""
    url = os.environ.get("JUPYTERHUB_SERVICE_URL")
    if not url:
        return None
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/grading/")
    address = urlparse(url)

    def serve() -> None:
        async def main() -> None:
            application(service, prefix).listen(address.port, address.hostname)
            await asyncio.Event().wait()

        asyncio.run(main())

    thread = threading.Thread(target=serve, name="live-page", daemon=True)
    thread.start()
    return thread
