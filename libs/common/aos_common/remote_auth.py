"""Credential resolution by the tenants service, for every other service and the gateway."""

from __future__ import annotations

from aos_common.auth import Credential, Principal
from aos_common.errors import ServiceUnavailable
from aos_common.http_client import PeerUnavailable, ServiceClient
from aos_common.revocation import REVOCATIONS_PATH

VERIFY_PATH = "/internal/v1/auth/verify"


class RemoteCredentialResolver:
    def __init__(self, client: ServiceClient, service: str = "tenants") -> None:
        self._client = client
        self._service = service

    async def resolve(self, credential: Credential) -> Principal | None:
        try:
            response = await self._client.request(
                self._service, "GET", VERIFY_PATH, headers=credential.headers()
            )
        except PeerUnavailable as error:
            raise ServiceUnavailable(
                "Credential verification is unavailable; retry shortly",
                headers={"Retry-After": "1"},
            ) from error
        if response.status_code in (401, 403):
            return None
        if response.status_code != 200:
            raise ServiceUnavailable(
                "Credential verification failed; retry shortly", headers={"Retry-After": "1"}
            )
        return Principal.model_validate(response.json())

    async def recently_revoked(self) -> set[str]:
        """The keys revoked within a context's lifetime (aos_common.revocation); raises when the
        tenants service does not answer them."""
        response = await self._client.request(self._service, "GET", REVOCATIONS_PATH)
        response.raise_for_status()
        return set(response.json()["key_ids"])
