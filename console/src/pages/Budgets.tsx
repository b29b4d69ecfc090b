import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { components } from "../api/schema";
import { ErrorState, Loading, Panel } from "../components/States";
import { ACTIONS, can } from "../lib/permissions";
import { useSession } from "../lib/session";
import { BudgetBars } from "./Cost";

type Budget = components["schemas"]["BudgetRead"];
type BudgetType = components["schemas"]["BudgetCreate"]["budget_type"];
const DOLLARS = /^\d+(\.\d{1,2})?$/;

/** "12.50" dollars → "1250" cents, on the digits (no float). */
function dollarsToCents(dollars: string): string | null {
  const value = dollars.trim();
  if (!value) return null;
  const [whole, fraction = ""] = value.split(".");
  return (BigInt(whole) * 100n + BigInt((fraction + "00").slice(0, 2))).toString();
}

function centsToDollars(cents: string | null): string {
  if (!cents) return "";
  const [whole, fraction = ""] = cents.split(".");
  const padded = whole.padStart(3, "0");
  const dollars = `${BigInt(padded.slice(0, -2))}.${padded.slice(-2)}`;
  return fraction.replace(/0+$/, "") ? `${dollars}${fraction}`.replace(/(\.\d{2})\d+$/, "$1") : dollars;
}

export default function BudgetsPage() {
  const session = useSession();
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => ok(api.GET("/api/v1/cost/budgets")) });
  const [editing, setEditing] = useState<Budget | null>(null);
  const writable = can(session, ACTIONS.writeBudgets);
  return (
    <>
      <div className="page-head">
        <h1>Budgets</h1>
      </div>
      {writable && <BudgetForm key={editing?.id ?? "new"} budget={editing} onDone={() => setEditing(null)} />}
      <Panel title="Budgets" className="wide">
        {budgets.isPending ? (
          <Loading label="budgets" />
        ) : budgets.isError ? (
          <ErrorState error={budgets.error} retry={() => budgets.refetch()} />
        ) : (
          <>
            <BudgetBars budgets={budgets.data} />
            {writable && budgets.data.length > 0 && (
              <ul className="plain edit-list">
                {budgets.data.map((b) => (
                  <li key={b.id}>
                    <button type="button" className="secondary" onClick={() => setEditing(b)}>
                      Edit {b.budget_type} {b.entity_id ?? ""}
                    </button>
                  </li>
                ))}
              </ul>
            )}
          </>
        )}
      </Panel>
    </>
  );
}

function BudgetForm({ budget, onDone }: { budget: Budget | null; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [type, setType] = useState<BudgetType>(budget?.budget_type ?? "tenant");
  const [entity, setEntity] = useState(budget?.entity_id ?? "");
  const [daily, setDaily] = useState(centsToDollars(budget?.daily_limit_cents ?? null));
  const [monthly, setMonthly] = useState(centsToDollars(budget?.monthly_limit_cents ?? null));
  const [warn, setWarn] = useState(String(budget?.warn_threshold_pct ?? 80));
  const [hard, setHard] = useState(budget?.hard_limit_enabled ?? false);
  const [invalid, setInvalid] = useState<string | null>(null);
  const save = useMutation({
    mutationFn: () =>
      ok(
        api.POST("/api/v1/cost/budgets", {
          body: {
            budget_type: type,
            entity_id: type === "tenant" ? null : entity.trim(),
            daily_limit_cents: dollarsToCents(daily),
            monthly_limit_cents: dollarsToCents(monthly),
            warn_threshold_pct: Number(warn),
            hard_limit_enabled: hard,
            alert_thresholds: budget?.alert_thresholds ?? [50, 80, 100],
          },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["budgets"] });
      onDone();
    },
  });
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    for (const [label, value] of [["Daily limit", daily], ["Monthly limit", monthly]] as const) {
      if (value.trim() && !DOLLARS.test(value.trim())) {
        setInvalid(`${label} must be an amount in dollars, like 25 or 25.50.`);
        return;
      }
    }
    if (!daily.trim() && !monthly.trim()) {
      setInvalid("Set a daily or a monthly limit.");
      return;
    }
    if (type !== "tenant" && !entity.trim()) {
      setInvalid(`Name the ${type} this budget is for.`);
      return;
    }
    setInvalid(null);
    save.mutate();
  };
  return (
    <Panel title={budget ? `Edit ${budget.budget_type} budget` : "Create a budget"} className="wide">
      <form className="filters" onSubmit={submit}>
        <label>
          For
          <select value={type} onChange={(e) => setType(e.target.value as BudgetType)} disabled={!!budget}>
            <option value="tenant">the whole tenant</option>
            <option value="feature">a feature</option>
            <option value="user">a user</option>
          </select>
        </label>
        {type !== "tenant" && (
          <label>
            {type === "feature" ? "Feature tag" : "User id"}
            <input value={entity} onChange={(e) => setEntity(e.target.value)} disabled={!!budget} />
          </label>
        )}
        <label>
          Daily limit ($)
          <input inputMode="decimal" value={daily} onChange={(e) => setDaily(e.target.value)} />
        </label>
        <label>
          Monthly limit ($)
          <input inputMode="decimal" value={monthly} onChange={(e) => setMonthly(e.target.value)} />
        </label>
        <label>
          Warn at (%)
          <input type="number" min={1} max={100} value={warn} onChange={(e) => setWarn(e.target.value)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={hard} onChange={(e) => setHard(e.target.checked)} /> Hard limit (refuse runs
          when exhausted)
        </label>
        <button type="submit" disabled={save.isPending}>
          {budget ? "Save budget" : "Create budget"}
        </button>
        {budget && (
          <button type="button" className="secondary" onClick={onDone}>
            Cancel
          </button>
        )}
      </form>
      {invalid && (
        <p className="form-error" role="alert">
          {invalid}
        </p>
      )}
      {save.isError && <ErrorState error={save.error} />}
    </Panel>
  );
}
