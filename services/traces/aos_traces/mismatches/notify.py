"""Where a mismatch report goes: a GitHub issue when GITHUB_TOKEN and GITHUB_REPO are set, else
the generic webhook AOS_MISMATCH_WEBHOOK, else nowhere. A failing channel falls through to the
next; a notification failure never fails the report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import httpx

from aos_traces.settings import TracesSettings

logger = logging.getLogger("aos.traces.notify")


@dataclass(frozen=True)
class Notification:
    channel: str  # github | webhook | none
    issue_url: str | None = None


async def create_github_issue(
    settings: TracesSettings, title: str, body: str, labels: list[str]
) -> str | None:
    if not (settings.github_token and settings.github_repo):
        return None
    url = f"{settings.github_api_url.rstrip('/')}/repos/{settings.github_repo}/issues"
    try:
        async with httpx.AsyncClient(timeout=settings.notification_timeout_seconds) as client:
            response = await client.post(
                url,
                headers={
                    "Authorization": f"Bearer {settings.github_token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": "2022-11-28",
                },
                json={"title": title, "body": body, "labels": labels},
            )
    except httpx.HTTPError as error:
        logger.warning("GitHub issue creation failed: %s", error)
        return None
    if response.status_code not in (200, 201):
        logger.warning("GitHub issue creation answered %s", response.status_code)
        return None
    try:
        issue_url = response.json().get("html_url")
    except ValueError:
        return None
    return issue_url if isinstance(issue_url, str) else None


async def comment_on_issue(settings: TracesSettings, issue_url: str, comment: str) -> None:
    if not (settings.github_token and settings.github_repo):
        return
    number = issue_url.rstrip("/").rsplit("/", 1)[-1]
    url = (
        f"{settings.github_api_url.rstrip('/')}/repos/{settings.github_repo}"
        f"/issues/{number}/comments"
    )
    try:
        async with httpx.AsyncClient(timeout=settings.notification_timeout_seconds) as client:
            await client.post(
                url,
                headers={
                    "Authorization": f"Bearer {settings.github_token}",
                    "Accept": "application/vnd.github+json",
                },
                json={"body": comment},
            )
    except httpx.HTTPError as error:
        logger.warning("GitHub comment failed: %s", error)


async def post_webhook(settings: TracesSettings, payload: dict[str, Any]) -> bool:
    if not settings.mismatch_webhook:
        return False
    try:
        async with httpx.AsyncClient(timeout=settings.notification_timeout_seconds) as client:
            response = await client.post(settings.mismatch_webhook, json=payload)
    except httpx.HTTPError as error:
        logger.warning("mismatch webhook failed: %s", error)
        return False
    return 200 <= response.status_code < 300


async def notify(
    settings: TracesSettings, *, title: str, body: str, labels: list[str], payload: dict[str, Any]
) -> Notification:
    issue_url = await create_github_issue(settings, title, body, labels)
    if issue_url is not None:
        return Notification("github", issue_url)
    if await post_webhook(settings, {"title": title, "text": body, **payload}):
        return Notification("webhook")
    return Notification("none")
