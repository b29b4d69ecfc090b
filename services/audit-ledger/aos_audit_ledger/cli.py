"""`aos ledger keygen` (the tree-head signing key, docs/OPERATIONS.md), and `aos audit export` and
`aos audit verify`: a tenant's whole ledger, fetched over the public API
and checked offline with the verification kernel (`aos_proofs`), so an auditor trusts arithmetic
rather than the server's own `/verify`.

The platform and key come from `--url` / `--key`, else AOS_ENDPOINT / AOS_API_KEY, else the
`credentials.json` that `aos up` wrote (the demo tenant's admin key through the gateway).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from aos_audit_ledger.ledger.signing import key_id_of, new_private_key
from aos_proofs import ledger

ledger_app = typer.Typer(help="The audit ledger's tree-head signing key.", no_args_is_help=True)
audit_app = typer.Typer(help="Export and verify a tenant's audit ledger.", no_args_is_help=True)
PAGE_SIZE = 500

UrlOption = Annotated[
    str | None, typer.Option("--url", help="Gateway URL (default: AOS_ENDPOINT or aos up's).")
]
KeyOption = Annotated[
    str | None, typer.Option("--key", help="API key (default: AOS_API_KEY or aos up's admin key).")
]


@audit_app.callback()
def audit_group() -> None:
    """Export and verify a tenant's audit ledger."""


def _unwrap(document: Any) -> Any:
    if isinstance(document, dict) and "success" in document and "data" in document:
        return document["data"]
    return document


def fetch_ledger_export(client: httpx.Client) -> dict[str, Any]:
    """Every entry of the caller's tenant (oldest first), the signed tree head and the key set."""
    head = _get(client, "/api/v1/audit/tree-head", {})
    public_key = _get(client, "/api/v1/audit/public-key", {})
    entries: list[dict[str, Any]] = []
    while True:
        response = client.get(
            "/api/v1/audit/entries", params={"limit": PAGE_SIZE, "offset": len(entries)}
        )
        _raise_for(response)
        page = response.json()
        batch = _unwrap(page)
        entries.extend(batch)
        if not batch or not page.get("meta", {}).get("has_more"):
            break
    entries.sort(key=lambda entry: int(entry["seq"]))
    tenant_id = entries[0]["tenant_id"] if entries else head.get("tenant_id")
    return {
        "kind": "aos.ledger-export",
        "tenant_id": tenant_id,
        "entries": entries,
        "tree_head": head,
        "public_key": public_key.get("public_key"),
        "keys": public_key,
    }


def _get(client: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = client.get(path, params=params)
    _raise_for(response)
    document = _unwrap(response.json())
    return document if isinstance(document, dict) else {}


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        detail = response.json().get("detail") or response.reason_phrase
    except ValueError:
        detail = response.reason_phrase
    raise typer.BadParameter(
        f"{response.request.url.path} answered {response.status_code}: {detail}"
    )


def _platform(url: str | None, key: str | None) -> tuple[str, str]:
    credentials: dict[str, Any] = {}
    path = Path(os.environ.get("AOS_DATA_DIR", ".aos")) / "credentials.json"
    if path.exists():
        credentials = json.loads(path.read_text())
    url = url or os.environ.get("AOS_ENDPOINT") or credentials.get("gateway_url")
    key = key or os.environ.get("AOS_API_KEY") or credentials.get("admin_key")
    if not url or not key:
        raise typer.BadParameter(
            "give --url and --key (no AOS_ENDPOINT/AOS_API_KEY, no aos up here)"
        )
    return str(url), str(key)


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"X-AOS-Key": key}, timeout=30.0, trust_env=False)


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="Where to write the export (JSON).")],
    url: UrlOption = None,
    key: KeyOption = None,
) -> None:
    """Write the tenant's ledger, its signed tree head and public key to one JSON file."""
    base, credential = _platform(url, key)
    try:
        with _client(base, credential) as client:
            document = fetch_ledger_export(client)
    except httpx.HTTPError as error:
        raise typer.BadParameter(f"cannot reach {base}: {error}") from None
    out.write_text(json.dumps(document, indent=1))
    typer.echo(
        f"Wrote {len(document['entries'])} entries to {out}; check it with `aos-verify ledger {out}`."
    )


@audit_app.command("verify")
def verify(url: UrlOption = None, key: KeyOption = None) -> None:
    """Fetch the tenant's ledger and verify it here: every hash, the chain, the signed root."""
    base, credential = _platform(url, key)
    try:
        with _client(base, credential) as client:
            document = fetch_ledger_export(client)
    except httpx.HTTPError as error:
        raise typer.BadParameter(f"cannot reach {base}: {error}") from None
    findings = ledger.verify_export(
        document["entries"],
        document["tree_head"],
        str(document["tenant_id"]),
        str(document["public_key"]),
    )
    for finding in findings:
        typer.echo(f"{'ok  ' if finding.ok else 'FAIL'} {finding.check}: {finding.detail}")
    if not all(finding.ok for finding in findings):
        typer.echo("The ledger is NOT intact.", err=True)
        raise typer.Exit(1)
    typer.echo(f"The ledger is intact: {len(document['entries'])} entries.")


@ledger_app.command("keygen")
def keygen() -> None:
    """Print a new Ed25519 signing key: store the first line as the AOS_LEDGER_SIGNING_KEY secret.
    The public key is what AOS_LEDGER_PREVIOUS_PUBLIC_KEYS lists once this key is rotated out."""
    private, public = new_private_key()
    typer.echo(f"AOS_LEDGER_SIGNING_KEY={private}")
    typer.echo(f"# public key (base64): {public}")
    typer.echo(f"# key id: {key_id_of(base64.b64decode(public))}")
