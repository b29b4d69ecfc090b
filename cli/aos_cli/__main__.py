"""`python -m aos_cli` is the `aos` command."""

from aos_cli.main import app

app(prog_name="aos")
