import { keepPreviousData, QueryClient, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import {
  Area,
  AreaChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from "recharts";
import { api, ok } from "../api/client";
import type { components } from "../api/schema";
import { BudgetBars } from "../components/BudgetBars";
import { Provenance } from "../components/Provenance";
import { Empty, ErrorState, Loading, Panel } from "../components/States";
import { formatTime } from "../lib/format";
import { centsToChartDollars, formatCents, percentUsed } from "../lib/money";
import { ACTIONS, can } from "../lib/permissions";
import { bucketLabel, buckets, periodWindow, PERIODS, stackRows, type Period } from "../lib/period";
import { useSession } from "../lib/session";

type Dashboard = components["schemas"]["DashboardRead"];
type Series = components["schemas"]["SpendSeries"];
type Budget = components["schemas"]["BudgetRead"];
const PALETTE = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9f1239"];

type GroupBy = "model" | "feature";
const FIRST_PERIOD: Period = "7d";

// Query definitions shared with the sign-in, which starts them before this page renders.
export const costQueries = {
  dashboard: (period: Period) => ({
    queryKey: ["dashboard", period],
    queryFn: () => ok(api.GET("/api/v1/cost/dashboard", { params: { query: { period } } })),
  }),
  series: (period: Period, groupBy: GroupBy) => ({
    queryKey: ["series", period, groupBy],
    queryFn: () =>
      ok(api.GET("/api/v1/cost/series", { params: { query: { period, group_by: groupBy } } })),
  }),
  budgets: () => ({ queryKey: ["budgets"], queryFn: () => ok(api.GET("/api/v1/cost/budgets")) }),
};

/** Start the first view's requests at once (called right after sign-in). */
export function prefetchCost(queryClient: QueryClient): void {
  void queryClient.prefetchQuery(costQueries.series(FIRST_PERIOD, "model"));
  void queryClient.prefetchQuery(costQueries.dashboard(FIRST_PERIOD));
  void queryClient.prefetchQuery(costQueries.budgets());
}

export function CostPage() {
  const [period, setPeriod] = useState<Period>(FIRST_PERIOD);
  const [groupBy, setGroupBy] = useState<GroupBy>("model");
  const dashboard = useQuery({ ...costQueries.dashboard(period), placeholderData: keepPreviousData });
  const series = useQuery({ ...costQueries.series(period, groupBy), placeholderData: keepPreviousData });
  const budgets = useQuery(costQueries.budgets());
  const updating = dashboard.isPlaceholderData || series.isPlaceholderData;

  return (
    <>
      <div className="page-head">
        <h1>Overview &amp; cost</h1>
        {updating && (
          <span className="muted" role="status">
            Updating…
          </span>
        )}
        <div className="segmented" role="group" aria-label="Period">
          {PERIODS.map((value) => (
            <button
              key={value}
              type="button"
              aria-pressed={period === value}
              onClick={() => setPeriod(value)}
            >
              {value}
            </button>
          ))}
        </div>
      </div>
      {dashboard.isPending ? (
        <Loading label="spend" />
      ) : dashboard.isError ? (
        <ErrorState error={dashboard.error} retry={() => dashboard.refetch()} />
      ) : (
        <Figures dashboard={dashboard.data} budgets={budgets.data ?? []} />
      )}
      <Panel
        title="Spend over time"
        className="wide"
        actions={
          <label className="inline">
            Stack by{" "}
            <select value={groupBy} onChange={(e) => setGroupBy(e.target.value as GroupBy)}>
              <option value="model">model</option>
              <option value="feature">feature</option>
            </select>
          </label>
        }
      >
        {series.isPending ? (
          <Loading label="the chart" />
        ) : series.isError ? (
          <ErrorState error={series.error} retry={() => series.refetch()} />
        ) : (
          <SpendChart series={series.data} period={period} />
        )}
      </Panel>
      <div className="grid">
        {dashboard.data && <TopLists dashboard={dashboard.data} />}
        <Panel title="Budgets">
          {budgets.isPending ? (
            <Loading label="budgets" />
          ) : budgets.isError ? (
            <ErrorState error={budgets.error} retry={() => budgets.refetch()} />
          ) : (
            <BudgetBars budgets={budgets.data} />
          )}
        </Panel>
        {dashboard.data && <Anomalies anomalies={dashboard.data.anomalies} />}
        {dashboard.data && series.data && (
          <Projection dashboard={dashboard.data} series={series.data} />
        )}
      </div>
    </>
  );
}

/** The period's budget use, else this month's use of a monthly tenant budget. */
function budgetFigure(summary: Dashboard["summary"], budgets: Budget[]): string {
  if (summary.budget_used_pct !== null) return `${summary.budget_used_pct}% of period`;
  const tenant = budgets.find((b) => b.budget_type === "tenant" && b.monthly_limit_cents);
  const used = tenant ? percentUsed(tenant.current_monthly_spend_cents, tenant.monthly_limit_cents) : null;
  return used === null ? "no tenant budget" : `${used}% of month`;
}

function Figures({ dashboard, budgets }: { dashboard: Dashboard; budgets: Budget[] }) {
  const summary = dashboard.summary;
  const info = {
    window: `${summary.provenance.period_description} (${formatTime(summary.period_start)} → ${formatTime(summary.period_end)})`,
    sources: [summary.provenance.data_source, ...(summary.provenance.read_from ?? [])],
    aggregation: summary.provenance.aggregation,
    computedAt: summary.provenance.computed_at,
  };
  const violations = dashboard.consistency.violations;
  return (
    <section className="figures" aria-label="Key figures">
      <Figure label="Spend" info={info} value={formatCents(summary.total_cost_cents)} />
      <Figure label="Requests" info={info} value={summary.request_count.toLocaleString("en-US")} />
      <Figure
        label="Tokens in / out"
        info={info}
        value={`${summary.total_input_tokens.toLocaleString("en-US")} / ${summary.total_output_tokens.toLocaleString("en-US")}`}
      />
      <Figure
        label="Budget used"
        info={info}
        value={budgetFigure(summary, budgets)}
      />
      {violations.length > 0 && (
        <p className="warn" role="status">
          Consistency check: {violations.map((v) => v.message).join("; ")}
        </p>
      )}
    </section>
  );
}

function Figure({ label, value, info }: { label: string; value: string; info: Parameters<typeof Provenance>[0]["info"] }) {
  return (
    <div className="figure">
      <span className="figure-label">{label}</span>
      <Provenance info={info}>
        <span className="figure-value">{value}</span>
      </Provenance>
    </div>
  );
}

function SpendChart({ series, period }: { series: Series; period: Period }) {
  if (series.data.length === 0) {
    return <Empty title="No spend in this period">Costs appear here once agents record them.</Empty>;
  }
  const window = periodWindow(period, new Date(series.period_end));
  const grain = series.grain === "hour" ? "hour" : "day";
  const { rows, keys } = stackRows(series.data, buckets({ ...window, grain }), centsToChartDollars);
  const total = series.data.reduce((sum, p) => sum + centsToChartDollars(p.cost_cents), 0);
  return (
    <figure
      className="chart"
      data-testid="spend-chart"
      aria-label={`Spend over time by ${series.group_by}, ${keys.length} series, about $${total.toFixed(2)} in total`}
    >
      <ResponsiveContainer width="100%" height={280} initialDimension={{ width: 900, height: 280 }}>
        <AreaChart data={rows} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#d8dee9" />
          <XAxis dataKey="bucket" tickFormatter={(v: string) => bucketLabel(v, grain)} minTickGap={16} />
          <YAxis tickFormatter={(v: number) => `$${v}`} width={64} />
          <Tooltip
            labelFormatter={(v) => bucketLabel(String(v), grain)}
            formatter={(v) => `$${Number(v).toFixed(2)}`}
          />
          <Legend />
          {keys.map((key, index) => (
            <Area
              key={key}
              type="monotone"
              dataKey={key}
              stackId="spend"
              stroke={PALETTE[index % PALETTE.length]}
              fill={PALETTE[index % PALETTE.length]}
              fillOpacity={0.35}
              isAnimationActive={false}
            />
          ))}
        </AreaChart>
      </ResponsiveContainer>
      <figcaption>
        <Provenance
          info={{
            window: series.provenance.window,
            sources: series.provenance.sources,
            aggregation: series.provenance.aggregation,
            computedAt: series.provenance.generated_at,
          }}
        >
          Per {grain} (UTC), stacked by {series.group_by}
        </Provenance>
      </figcaption>
    </figure>
  );
}

function TopLists({ dashboard }: { dashboard: Dashboard }) {
  const top = <T,>(items: T[]) => items.slice(0, 5);
  return (
    <>
      <Panel title="Top features">
        <TopTable
          rows={top(dashboard.by_feature).map((f) => [f.display_name ?? f.feature_tag, f.total_cost_cents, f.pct_of_total])}
        />
      </Panel>
      <Panel title="Top users">
        <TopTable rows={top(dashboard.by_user).map((u) => [u.user_id, u.total_cost_cents, u.pct_of_total])} />
      </Panel>
      <Panel title="Top models">
        <TopTable rows={top(dashboard.by_model).map((m) => [m.model, m.total_cost_cents, m.pct_of_total])} />
      </Panel>
    </>
  );
}

function TopTable({ rows }: { rows: [string, string, number][] }) {
  if (rows.length === 0) return <Empty title="Nothing spent yet" />;
  return (
    <ol className="toplist">
      {rows.map(([name, cents, pct]) => (
        <li key={name}>
          <span className="name">{name}</span>
          <span className="amount">{formatCents(cents)}</span>
          <span className="pct">{pct}%</span>
        </li>
      ))}
    </ol>
  );
}

function Anomalies({ anomalies }: { anomalies: Dashboard["anomalies"] }) {
  const session = useSession();
  const queryClient = useQueryClient();
  const resolve = useMutation({
    mutationFn: (id: string) =>
      ok(api.POST("/api/v1/cost/anomalies/{anomaly_id}/resolve", { params: { path: { anomaly_id: id } } })),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["dashboard"] }),
  });
  const open = anomalies.filter((a) => !a.resolved);
  return (
    <Panel title="Anomalies">
      {open.length === 0 ? (
        <Empty title="No open anomalies" />
      ) : (
        <ul className="anomalies">
          {open.map((anomaly) => (
            <li key={anomaly.id}>
              <span className={`badge sev-${anomaly.severity.toLowerCase()}`}>{anomaly.severity}</span>
              <span className="anomaly-text">
                {anomaly.message}
                {anomaly.derived_cause && <span className="muted"> Cause: {anomaly.derived_cause}</span>}
              </span>
              {can(session, ACTIONS.resolveAnomaly) && (
                <button
                  type="button"
                  className="secondary"
                  disabled={resolve.isPending}
                  onClick={() => resolve.mutate(anomaly.id)}
                >
                  Resolve
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {resolve.isError && <ErrorState error={resolve.error} />}
    </Panel>
  );
}

function Projection({ dashboard, series }: { dashboard: Dashboard; series: Series }) {
  const projection = dashboard.projection;
  const daily = new Map<string, number>();
  if (series.grain === "day") {
    for (const point of series.data) {
      const day = new Date(point.bucket).toISOString().slice(0, 10);
      daily.set(day, (daily.get(day) ?? 0) + centsToChartDollars(point.cost_cents));
    }
  }
  const history = [...daily.entries()].sort().map(([day, dollars]) => ({ day, actual: dollars }));
  const avg = centsToChartDollars(projection.current_daily_avg_cents);
  const future = Array.from({ length: projection.forecast_days }, (_, i) => {
    const day = new Date(Date.now() + (i + 1) * 86_400_000).toISOString().slice(0, 10);
    return { day, projected: avg };
  });
  if (history.length) future.unshift({ day: history[history.length - 1].day, projected: history[history.length - 1].actual });
  return (
    <Panel title="Projection">
      <p>
        Daily average {formatCents(projection.current_daily_avg_cents)} over {projection.lookback_days} days,
        trend <strong>{projection.trend}</strong>; next {projection.forecast_days} days{" "}
        {formatCents(projection.projected_total_cents)}, month {formatCents(projection.monthly_projection_cents)}.
        {projection.days_until_budget_exhausted !== null &&
          ` Budget exhausted in ${projection.days_until_budget_exhausted} days at this rate.`}
      </p>
      {history.length > 0 && (
        <figure className="chart small" data-testid="projection-chart" aria-label="Daily spend and projection">
          <ResponsiveContainer width="100%" height={160}>
            <LineChart data={[...history, ...future]} margin={{ top: 4, right: 8, bottom: 0, left: 0 }}>
              <XAxis dataKey="day" tickFormatter={(v: string) => v.slice(5)} minTickGap={16} />
              <YAxis tickFormatter={(v: number) => `$${v}`} width={56} />
              <Tooltip formatter={(v) => `$${Number(v).toFixed(2)}`} />
              <Line dataKey="actual" stroke="#2563eb" dot={false} isAnimationActive={false} />
              <Line dataKey="projected" stroke="#d97706" strokeDasharray="5 4" dot={false} isAnimationActive={false} />
            </LineChart>
          </ResponsiveContainer>
        </figure>
      )}
    </Panel>
  );
}
