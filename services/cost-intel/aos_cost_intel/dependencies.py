"""Who may call the cost routes, and on which tenant's data (aos_common.auth's Caller).

Reads need `read:cost` (default keys carry it through `read:*`); records, reservations, feature
tags and anomaly runs need `cost:write`; budgets and the alert webhook need `budgets:write`;
repricing needs the admin role (operators always pass). The tenant is the credential's; a
`tenant_id` query parameter must equal it unless the caller is an operator.
"""

from __future__ import annotations

from typing import Annotated

from aos_common.callers import Caller, caller_with_permission, caller_with_role

ReaderDep = Annotated[Caller, caller_with_permission("read:cost")]
WriterDep = Annotated[Caller, caller_with_permission("cost:write")]
BudgetWriterDep = Annotated[Caller, caller_with_permission("budgets:write")]
AdminDep = Annotated[Caller, caller_with_role("admin")]
