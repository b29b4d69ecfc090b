import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { ColumnDef } from "@tanstack/react-table";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { components } from "../api/schema";
import { DataTable } from "../components/DataTable";
import { Empty, ErrorState, Loading, Panel } from "../components/States";
import { formatNumber, formatTime } from "../lib/format";
import { dollarsToCents, DOLLARS, formatCents } from "../lib/money";
import { ACTIONS, can, granted } from "../lib/permissions";
import { useSession } from "../lib/session";

type Key = components["schemas"]["ApiKeyRead"];
type Period = components["schemas"]["KeyBudget"]["period"];
const PRESETS: Record<string, string[]> = {
  "Read only": ["read:*", "traces:read"],
  "Run agents": ["run:*", "read:*", "traces:write", "cost:write"],
  Admin: ["*"],
};

export default function KeysPage() {
  const session = useSession();
  const queryClient = useQueryClient();
  const [showRevoked, setShowRevoked] = useState(false);
  const keys = useQuery({
    queryKey: ["keys", showRevoked],
    queryFn: () => ok(api.GET("/api/v1/tenant/api-keys", { params: { query: { include_revoked: showRevoked } } })),
  });
  const usage = useQuery({ queryKey: ["usage"], queryFn: () => ok(api.GET("/api/v1/tenant/usage")) });
  const runsQuota = useQuery({ queryKey: ["quota-runs"], queryFn: () => ok(api.GET("/api/v1/tenant/quota/runs")) });
  const revoke = useMutation({
    mutationFn: (id: string) => ok(api.DELETE("/api/v1/tenant/api-keys/{key_id}", { params: { path: { key_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["keys"] }),
  });
  const columns: ColumnDef<Key, unknown>[] = [
    { accessorKey: "name", header: "Name" },
    { accessorKey: "key_prefix", header: "Prefix", cell: ({ getValue }) => <span className="mono">{String(getValue())}…</span> },
    { accessorKey: "status", header: "Status", cell: ({ getValue }) => <span className={`badge st-${String(getValue())}`}>{String(getValue())}</span> },
    { accessorKey: "permissions", header: "Permissions", cell: ({ getValue }) => (getValue() as string[]).join(", ") },
    { accessorKey: "total_requests", header: "Requests", cell: ({ getValue }) => formatNumber(getValue() as number) },
    { accessorKey: "last_used_at", header: "Last used", cell: ({ getValue }) => formatTime(getValue() as string) },
    { accessorKey: "rate_limit_rpm", header: "Rate limit", cell: ({ getValue }) => (getValue() ? `${getValue()}/min` : "tenant default") },
    {
      id: "budget",
      header: "Budget",
      cell: ({ row }) => (row.original.budget ? `${formatCents(row.original.budget.limit_cents)} ${row.original.budget.period}` : "—"),
    },
    {
      id: "actions",
      header: "Actions",
      enableSorting: false,
      cell: ({ row }) =>
        can(session, ACTIONS.revokeKeys) && row.original.status === "active" && row.original.id !== session?.key_id ? (
          <button
            type="button"
            className="danger"
            disabled={revoke.isPending}
            onClick={() => {
              if (window.confirm(`Revoke key "${row.original.name}"? Calls with it fail from now on.`)) {
                revoke.mutate(row.original.id);
              }
            }}
          >
            Revoke<span className="sr-only"> {row.original.name}</span>
          </button>
        ) : null,
    },
  ];
  return (
    <>
      <div className="page-head">
        <h1>Keys &amp; access</h1>
      </div>
      {can(session, ACTIONS.createKeys) && <CreateKey />}
      <Panel
        title="API keys"
        className="wide"
        actions={
          <label className="inline">
            <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} /> Show revoked
          </label>
        }
      >
        {revoke.isError && <ErrorState error={revoke.error} />}
        {keys.isPending ? (
          <Loading label="keys" />
        ) : keys.isError ? (
          <ErrorState error={keys.error} retry={() => keys.refetch()} />
        ) : keys.data.length === 0 ? (
          <Empty title="No keys" />
        ) : (
          <DataTable data={keys.data} columns={columns} caption="API keys" />
        )}
      </Panel>
      <div className="grid">
        <Panel title="Your access">
          <p>Roles: {session?.roles.join(", ") || "none"}</p>
          <p>Grants: <span className="mono">{session ? granted(session).join(", ") : ""}</span></p>
          <p className="muted">Buttons you may not use are hidden; the API refuses them anyway.</p>
        </Panel>
        <Panel title="Usage (30 days)">
          {usage.isPending ? (
            <Loading label="usage" />
          ) : usage.isError ? (
            <ErrorState error={usage.error} />
          ) : (
            <dl className="facts">
              {Object.entries(usage.data.meters).map(([name, meter]) => (
                <div key={name} className="fact-row">
                  <dt>{name.replace("_", " ")}</dt>
                  <dd>
                    {formatNumber(meter.total)} {meter.unit}
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </Panel>
        <Panel title="Quotas">
          {runsQuota.isPending ? (
            <Loading label="quotas" />
          ) : runsQuota.isError ? (
            <ErrorState error={runsQuota.error} />
          ) : (
            <p>
              Runs: {formatNumber(runsQuota.data.current)} of {runsQuota.data.limit === null ? "unlimited" : formatNumber(runsQuota.data.limit)}
              {runsQuota.data.allowed ? "" : ` — ${runsQuota.data.reason}`}
            </p>
          )}
        </Panel>
      </div>
    </>
  );
}

function CreateKey() {
  const queryClient = useQueryClient();
  const [name, setName] = useState("");
  const [preset, setPreset] = useState("Read only");
  const [rpm, setRpm] = useState("");
  const [limit, setLimit] = useState("");
  const [period, setPeriod] = useState<Period>("monthly");
  const [invalid, setInvalid] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);
  const create = useMutation({
    mutationFn: () => {
      const cents = dollarsToCents(limit);
      return ok(
        api.POST("/api/v1/tenant/api-keys", {
          body: {
            name: name.trim(),
            permissions: PRESETS[preset],
            rate_limit_rpm: rpm ? Number(rpm) : null,
            budget: cents === null ? null : { limit_cents: cents, period },
          },
        }),
      );
    },
    onSuccess: () => {
      setName("");
      setLimit("");
      setCopied(false);
      void queryClient.invalidateQueries({ queryKey: ["keys"] });
      void queryClient.invalidateQueries({ queryKey: ["budgets"] });
    },
  });
  const secret = create.data?.key;
  return (
    <Panel title="Create a key" className="wide">
      <form
        className="filters"
        onSubmit={(event) => {
          event.preventDefault();
          if (limit.trim() && !DOLLARS.test(limit.trim())) {
            setInvalid("Spend limit must be an amount in dollars, like 25 or 25.50.");
            return;
          }
          setInvalid(null);
          create.mutate();
        }}
      >
        <label>
          Name
          <input required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <label>
          Access
          <select value={preset} onChange={(e) => setPreset(e.target.value)}>
            {Object.keys(PRESETS).map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <label>
          Requests per minute
          <input type="number" min={1} value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="tenant default" />
        </label>
        <label>
          Spend limit ($)
          <input inputMode="decimal" value={limit} onChange={(e) => setLimit(e.target.value)} placeholder="none" />
        </label>
        <label>
          Per
          <select value={period} onChange={(e) => setPeriod(e.target.value as Period)}>
            <option value="daily">day</option>
            <option value="weekly">week</option>
            <option value="monthly">month</option>
          </select>
        </label>
        <button type="submit" disabled={create.isPending || !name.trim()}>
          Create key
        </button>
      </form>
      {invalid && (
        <p className="form-error" role="alert">
          {invalid}
        </p>
      )}
      {create.isError && <ErrorState error={create.error} />}
      {secret && (
        <div className="secret" role="status" data-testid="new-key">
          <p>
            <strong>Copy this key now — it is shown only once.</strong>
          </p>
          <code className="mono" data-testid="new-key-secret">{secret}</code>
          <button
            type="button"
            className="secondary"
            onClick={async () => {
              await navigator.clipboard.writeText(secret);
              setCopied(true);
            }}
          >
            {copied ? "Copied" : "Copy"}
          </button>
        </div>
      )}
    </Panel>
  );
}
