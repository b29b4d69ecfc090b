"""`aos ledger`: provisioning and rotating the tree-head signing key (docs/OPERATIONS.md)."""

from __future__ import annotations

import base64

import typer

from aos_audit_ledger.signing import key_id_of, new_private_key

ledger_app = typer.Typer(help="The audit ledger's tree-head signing key.", no_args_is_help=True)


@ledger_app.command("keygen")
def keygen() -> None:
    """Print a new Ed25519 signing key: store the first line as the AOS_LEDGER_SIGNING_KEY secret.
    The public key is what AOS_LEDGER_PREVIOUS_PUBLIC_KEYS lists once this key is rotated out."""
    private, public = new_private_key()
    typer.echo(f"AOS_LEDGER_SIGNING_KEY={private}")
    typer.echo(f"# public key (base64): {public}")
    typer.echo(f"# key id: {key_id_of(base64.b64decode(public))}")
