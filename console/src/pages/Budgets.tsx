import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok } from "../api/client";
import type { components } from "../api/schema";
import { BudgetBars } from "../components/BudgetBars";
import { ErrorState, Loading, Panel } from "../components/States";
import type { Budget } from "../lib/budgets";
import { dollarsToCents, DOLLARS } from "../lib/money";
import { ACTIONS, can } from "../lib/permissions";
import { useSession } from "../lib/session";
import { KeyBudgets, useKeyNames } from "./budgets/KeyBudgets";
import { Reservations } from "./budgets/Reservations";

type BudgetType = components["schemas"]["BudgetCreate"]["budget_type"];
function centsToDollars(cents: string | null): string {
  if (!cents) return "";
  const [whole, fraction = ""] = cents.split(".");
  const padded = whole.padStart(3, "0");
  const dollars = `${BigInt(padded.slice(0, -2))}.${padded.slice(-2)}`;
  return fraction.replace(/0+$/, "") ? `${dollars}${fraction}`.replace(/(\.\d{2})\d+$/, "$1") : dollars;
}

/** An edit keeps an on_unavailable the budget was given explicitly (not its hard/soft default). */
function chosenOnUnavailable(budget: Budget | null): Budget["on_unavailable"] | null {
  if (!budget) return null;
  const byDefault = budget.hard_limit_enabled ? "deny" : "allow";
  return budget.on_unavailable === byDefault ? null : budget.on_unavailable;
}

export default function BudgetsPage() {
  const session = useSession();
  // Spend and holds move while work runs: read afresh when the page opens, and every 15 s.
  const budgets = useQuery({
    queryKey: ["budgets"],
    staleTime: 0,
    refetchInterval: 15_000,
    queryFn: () => ok(api.GET("/api/v1/cost/budgets")),
  });
  const keyNames = useKeyNames();
  const [editing, setEditing] = useState<Budget | null>(null);
  const writable = can(session, ACTIONS.writeBudgets);
  // An API key's budget is set on the key (Keys & access); it is listed with the keys below.
  const own = budgets.data?.filter((b) => b.budget_type !== "api_key") ?? [];
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
            <BudgetBars budgets={own} holds />
            {writable && own.length > 0 && (
              <ul className="plain edit-list">
                {own.map((b) => (
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
      <KeyBudgets budgets={budgets.data} keyNames={keyNames} />
      <Reservations keyNames={keyNames} />
    </>
  );
}

function BudgetForm({ budget, onDone }: { budget: Budget | null; onDone: () => void }) {
  const queryClient = useQueryClient();
  const [type, setType] = useState<BudgetType>(budget?.budget_type ?? "tenant");
  const [entity, setEntity] = useState(budget?.entity_id ?? "");
  const [daily, setDaily] = useState(centsToDollars(budget?.daily_limit_cents ?? null));
  const [weekly, setWeekly] = useState(centsToDollars(budget?.weekly_limit_cents ?? null));
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
            weekly_limit_cents: dollarsToCents(weekly),
            monthly_limit_cents: dollarsToCents(monthly),
            warn_threshold_pct: Number(warn),
            hard_limit_enabled: hard,
            alert_thresholds: budget?.alert_thresholds ?? [50, 80, 100],
            on_unavailable: chosenOnUnavailable(budget),
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
    const limits = [["Daily limit", daily], ["Weekly limit", weekly], ["Monthly limit", monthly]] as const;
    for (const [label, value] of limits) {
      if (value.trim() && !DOLLARS.test(value.trim())) {
        setInvalid(`${label} must be an amount in dollars, like 25 or 25.50.`);
        return;
      }
    }
    if (limits.every(([, value]) => !value.trim())) {
      setInvalid("Set a daily, weekly or monthly limit.");
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
          {/* Editing opens this form at the top of the page: the first limit takes the focus. */}
          <input inputMode="decimal" value={daily} onChange={(e) => setDaily(e.target.value)} autoFocus={!!budget} />
        </label>
        <label>
          Weekly limit ($)
          <input inputMode="decimal" value={weekly} onChange={(e) => setWeekly(e.target.value)} />
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
