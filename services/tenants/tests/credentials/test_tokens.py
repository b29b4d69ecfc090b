"""Console tokens: HS256 mint/verify, RS256/ES256 through a JWKS endpoint, attacks refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from aos_tenants.credentials.tokens import (
    ConsoleTokenVerifier,
    InvalidConsoleToken,
    mint_console_token,
)

SECRET = "unit-test-secret-0123456789abcdef0123456789abcdef"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {
        "sub": "u1",
        "tenant_id": "tnt_1",
        "roles": ["admin"],
        "aud": "aos-api",
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    rsa_jwk = json.loads(RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    ec_jwk = json.loads(ECAlgorithm.to_jwk(EC_KEY.public_key()))
    document = json.dumps(
        {
            "keys": [
                {**rsa_jwk, "kid": "rsa-1", "alg": "RS256", "use": "sig"},
                {**ec_jwk, "kid": "ec-1", "alg": "ES256", "use": "sig"},
            ]
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(document.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


async def test_minted_token_verifies() -> None:
    token = mint_console_token(SECRET, tenant_id="tnt_1", subject="u1", roles=["viewer"])
    claims = await ConsoleTokenVerifier(hs_secret=SECRET).verify(token)
    assert (claims.subject, claims.tenant_id, claims.roles) == ("u1", "tnt_1", ("viewer",))


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("alg none", jwt.encode(_claims(), None, algorithm="none")),  # type: ignore[arg-type]
        ("wrong signature", jwt.encode(_claims(), "x" * 40, algorithm="HS256")),
        ("expired", jwt.encode(_claims(exp=int(time.time()) - 60), SECRET, algorithm="HS256")),
        ("wrong audience", jwt.encode(_claims(aud="other"), SECRET, algorithm="HS256")),
        ("missing tenant", jwt.encode(_claims(tenant_id=None), SECRET, algorithm="HS256")),
        ("empty tenant", jwt.encode(_claims(tenant_id=""), SECRET, algorithm="HS256")),
        ("roles not a list", jwt.encode(_claims(roles="admin"), SECRET, algorithm="HS256")),
        ("HS384", jwt.encode(_claims(), SECRET, algorithm="HS384")),
    ],
)
async def test_hs256_attacks_are_refused(name: str, token: str) -> None:
    with pytest.raises(InvalidConsoleToken):
        await ConsoleTokenVerifier(hs_secret=SECRET, leeway_seconds=0).verify(token)


async def test_rs256_and_es256_through_jwks(jwks_url: str) -> None:
    verifier = ConsoleTokenVerifier(hs_secret=None, jwks_url=jwks_url)
    rs = jwt.encode(_claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(_claims(sub="u2"), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert (await verifier.verify(rs)).subject == "u1"
    assert (await verifier.verify(es)).subject == "u2"


async def test_jwks_token_signed_by_another_key_is_refused(jwks_url: str) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidConsoleToken):
        await ConsoleTokenVerifier(hs_secret=None, jwks_url=jwks_url).verify(token)


async def test_algorithm_confusion_is_refused(jwks_url: str) -> None:
    """An HS256 token 'signed' with the RSA public key must not verify against the JWKS."""
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "rsa-1"}).encode())
    payload = b64(json.dumps(_claims()).encode())
    signature = b64(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidConsoleToken):
        await ConsoleTokenVerifier(hs_secret=None, jwks_url=jwks_url).verify(
            f"{header}.{payload}.{signature}"
        )


async def test_hs256_refused_when_no_secret_is_configured(jwks_url: str) -> None:
    token = mint_console_token(SECRET, tenant_id="tnt_1", subject="u1")
    with pytest.raises(InvalidConsoleToken):
        await ConsoleTokenVerifier(hs_secret=None, jwks_url=jwks_url).verify(token)


async def test_tenant_claim_with_nul_or_oversized_is_refused() -> None:
    verifier = ConsoleTokenVerifier(hs_secret=SECRET)
    for tenant_id in ("tnt_\x00", "t" * 65):
        token = jwt.encode(_claims(tenant_id=tenant_id), SECRET, algorithm="HS256")
        with pytest.raises(InvalidConsoleToken):
            await verifier.verify(token)


async def test_permissions_claim_is_carried_and_must_be_a_list_of_strings() -> None:
    verifier = ConsoleTokenVerifier(hs_secret=SECRET)
    token = jwt.encode(_claims(roles=[], permissions=["read:*"]), SECRET, algorithm="HS256")
    assert (await verifier.verify(token)).permissions == ("read:*",)
    bad = jwt.encode(_claims(permissions="*"), SECRET, algorithm="HS256")
    with pytest.raises(InvalidConsoleToken):
        await verifier.verify(bad)
