// API keys with a budget of their own (LiteLLM's "virtual key budgets"): the limit and period set
// on the key, and from cost-intel what the key has spent this period, holds and has left.
import { useQuery } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { api, ok } from "../../api/client";
import type { components } from "../../api/schema";
import { DataTable } from "../../components/DataTable";
import { Empty, Panel } from "../../components/States";
import { budgetFigures, type Budget } from "../../lib/budgets";
import { formatCents } from "../../lib/money";
import { ACTIONS, can } from "../../lib/permissions";
import { useSession } from "../../lib/session";

type Key = components["schemas"]["ApiKeyRead"];

interface KeyBudgetRow {
  keyId: string;
  name: string;
  limit: string;
  period: string;
  spent: string | null;
  held: string | null;
  remaining: string | null;
}

/** The tenant's active keys (when this session may read them), shared with the Keys page cache. */
function useKeys() {
  const session = useSession();
  return useQuery({
    queryKey: ["keys", false],
    enabled: can(session, ACTIONS.readKeys),
    queryFn: () => ok(api.GET("/api/v1/tenant/api-keys", { params: { query: { include_revoked: false } } })),
  });
}

/** key id → key name, for the budgets and holds that name a key only by id. */
export function useKeyNames(): Map<string, string> {
  const keys = useKeys();
  return new Map((keys.data ?? []).map((key) => [key.id, key.name]));
}

/** Keys carrying a budget, joined with their cost-intel budget (absent until it has arrived). */
function rows(keys: Key[], budgets: Budget[], keyNames: Map<string, string>): KeyBudgetRow[] {
  const byKey = new Map(budgets.filter((b) => b.budget_type === "api_key").map((b) => [b.entity_id ?? "", b]));
  const out: KeyBudgetRow[] = keys
    .filter((key) => key.budget)
    .map((key) => {
      const figures = byKey.get(key.id) ? budgetFigures(byKey.get(key.id)!) : null;
      byKey.delete(key.id);
      return {
        keyId: key.id,
        name: key.name,
        limit: key.budget!.limit_cents,
        period: key.budget!.period,
        spent: figures?.spent ?? null,
        held: figures?.held ?? null,
        remaining: figures?.remaining ?? null,
      };
    });
  for (const [keyId, budget] of byKey) {
    const figures = budgetFigures(budget);
    if (!figures) continue;
    const { limit, period, spent, held, remaining } = figures;
    out.push({ keyId, name: keyNames.get(keyId) ?? keyId, limit, period, spent, held, remaining });
  }
  return out;
}

const columns: ColumnDef<KeyBudgetRow, unknown>[] = [
  { accessorKey: "name", header: "Key", cell: ({ row }) => <span title={row.original.keyId}>{row.original.name}</span> },
  { accessorKey: "limit", header: "Limit", cell: ({ row }) => `${formatCents(row.original.limit)} ${row.original.period}` },
  { accessorKey: "spent", header: "Spent this period", cell: ({ getValue }) => formatCents(getValue() as string | null) },
  { accessorKey: "held", header: "Held", cell: ({ getValue }) => formatCents(getValue() as string | null) },
  {
    accessorKey: "remaining",
    header: "Left",
    cell: ({ getValue }) => (getValue() === null ? "not yet enforced (cost-intel is being told)" : formatCents(getValue() as string)),
  },
];

export function KeyBudgets({ budgets, keyNames }: { budgets: Budget[] | undefined; keyNames: Map<string, string> }) {
  const keys = useKeys();
  const data = rows(keys.data ?? [], budgets ?? [], keyNames);
  return (
    <Panel title="Key budgets" className="wide">
      {data.length === 0 ? (
        <Empty title="No key has a budget of its own">A key's spend limit and period are set when the key is created.</Empty>
      ) : (
        <DataTable data={data} columns={columns} caption="Keys with their own budget" />
      )}
    </Panel>
  );
}
