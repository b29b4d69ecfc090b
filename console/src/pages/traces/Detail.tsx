// One run: facts, hashes, integrity, the steps as a waterfall, replay and mismatches.
import { useQuery } from "@tanstack/react-query";
import { api, ok } from "../../api/client";
import type { Integrity, TraceDocument } from "../../api/types";
import { Empty, ErrorState, Loading, Panel } from "../../components/States";
import { formatDuration, formatTime, shortHash } from "../../lib/format";
import { href } from "../../lib/router";
import { TraceMismatches } from "./Mismatches";
import { Replay } from "./Replay";

export function TraceDetail({ id }: { id: string }) {
  const trace = useQuery({
    queryKey: ["trace", id],
    queryFn: () =>
      ok(api.GET("/api/v1/traces/{run_id}", { params: { path: { run_id: id } } })) as Promise<TraceDocument>,
  });
  const integrity = useQuery({
    queryKey: ["integrity", trace.data?.trace_id],
    enabled: !!trace.data,
    queryFn: () =>
      ok(
        api.GET("/api/v1/traces/{trace_id}/integrity", { params: { path: { trace_id: trace.data!.trace_id } } }),
      ) as Promise<Integrity>,
  });
  if (trace.isPending) return <Loading label="the trace" />;
  if (trace.isError) return <ErrorState error={trace.error} retry={() => trace.refetch()} />;
  const doc = trace.data;
  return (
    <>
      <div className="page-head">
        <h1>Run {doc.run_id}</h1>
        <a href={href("traces")}>Back to traces</a>
      </div>
      <div className="grid">
        <Panel title="Run">
          <dl className="facts">
            <dt>Agent</dt><dd>{doc.agent_id ?? "—"}</dd>
            <dt>Status</dt><dd><span className={`badge st-${doc.status}`}>{doc.status}</span></dd>
            <dt>Started</dt><dd>{formatTime(doc.started_at)}</dd>
            <dt>Completed</dt><dd>{formatTime(doc.completed_at)}</dd>
            <dt>Incident</dt><dd>{doc.incident_id ?? "—"}</dd>
          </dl>
        </Panel>
        <Panel title="Hashes">
          <dl className="facts mono">
            <dt>Root hash</dt><dd title={doc.root_hash}>{shortHash(doc.root_hash)}</dd>
            <dt>Plan hash</dt><dd>{shortHash(doc.plan_hash)}</dd>
            <dt>Seed</dt><dd>{doc.seed}</dd>
            <dt>Schema</dt><dd>{doc.schema_version}</dd>
            <dt>Hash verified</dt><dd>{doc.hash_verified ? "yes" : "no (client hash differed)"}</dd>
          </dl>
        </Panel>
        <Panel title="Integrity">
          {integrity.isPending ? (
            <Loading label="integrity" />
          ) : integrity.isError ? (
            <ErrorState error={integrity.error} />
          ) : (
            <div>
              <p>
                <span className={`badge grade-${integrity.data.grade.toLowerCase()}`}>{integrity.data.grade}</span>{" "}
                score {integrity.data.score} · {integrity.data.state}
              </p>
              <p className="muted">{integrity.data.explanation}</p>
              {integrity.data.missing.length > 0 && <p>Missing: {integrity.data.missing.join(", ")}</p>}
            </div>
          )}
        </Panel>
      </div>
      <Panel title={`Steps (${doc.steps.length})`} className="wide">
        <Waterfall doc={doc} />
      </Panel>
      <Replay key={doc.trace_id} doc={doc} />
      <TraceMismatches traceId={doc.trace_id} />
    </>
  );
}

function Waterfall({ doc }: { doc: TraceDocument }) {
  if (doc.steps.length === 0) return <Empty title="This run has no steps" />;
  const starts = doc.steps.map((s) => new Date(s.timestamp).getTime());
  const origin = Math.min(...starts);
  const end = Math.max(...doc.steps.map((s, i) => starts[i] + s.duration_ms), origin + 1);
  const span = end - origin;
  return (
    <ol className="waterfall" data-testid="waterfall">
      {doc.steps.map((step, i) => {
        const left = ((starts[i] - origin) / span) * 100;
        const width = Math.max((step.duration_ms / span) * 100, 0.5);
        return (
          <li key={step.step_index} className={`wf-row st-${step.status}`}>
            <span className="wf-name">
              {step.step_index}. {step.skill_name}
              <span className="muted"> {step.status} · {formatDuration(step.duration_ms)} · {step.cost_cents}¢</span>
            </span>
            <span className="wf-track" aria-hidden="true">
              <span className="wf-bar" style={{ marginLeft: `${left}%`, width: `${width}%` }} />
            </span>
            <span className="wf-hash mono" title={`input ${step.input_hash} output ${step.output_hash}`}>
              {step.output_hash.slice(0, 8)}
            </span>
          </li>
        );
      })}
    </ol>
  );
}
