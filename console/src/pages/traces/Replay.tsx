// Replay of a run's steps on the server: each step replays by its recorded behaviour (check
// compares an output with the recorded hash and records a mismatch when they differ, skip returns
// the output cached for its idempotency key, execute records the output once per key). The table
// shows each step's replay outcome as the mismatches record it and its last recorded replay
// (matched or differed, when, by whom); a key with traces:write can replay a step here and sees
// the answer at once.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, ok } from "../../api/client";
import type { ReplayCheck, Step, TraceDocument } from "../../api/types";
import { ErrorState, Panel } from "../../components/States";
import { shortHash } from "../../lib/format";
import { ACTIONS, can } from "../../lib/permissions";
import { latestReplays, replaySentence, replayVerdict, replayWhen, stepOutcome } from "../../lib/replay";
import { useSession } from "../../lib/session";
import { useTraceMismatches } from "./Mismatches";

const BEHAVIOUR: Record<string, string> = {
  check: "compares the output with the recorded hash",
  skip: "returns the cached output",
  execute: "runs again; the first output per idempotency key stands",
};

/** Each step's newest recorded replay (one page holds up to 500 steps). */
function useLatestReplays(traceId: string) {
  return useQuery({
    queryKey: ["replay-checks", traceId],
    queryFn: async () =>
      latestReplays(
        (await ok(
          api.GET("/api/v1/traces/{trace_id}/replay/checks", {
            params: { path: { trace_id: traceId }, query: { latest_per_step: true, limit: 500 } },
          }),
        )) as ReplayCheck[],
      ),
  });
}

function LastReplay({ check, pending }: { check: ReplayCheck | undefined; pending: boolean }) {
  if (pending) return <>…</>;
  if (!check) return <span className="muted">never replayed</span>;
  const verdict = replayVerdict(check);
  return (
    <>
      <span className={`badge ${verdict.tone}`}>{verdict.label}</span>{" "}
      <span className="muted">{replayWhen(check)}</span>
    </>
  );
}

export function Replay({ doc }: { doc: TraceDocument }) {
  const session = useSession();
  const mismatches = useTraceMismatches(doc.trace_id);
  const replays = useLatestReplays(doc.trace_id);
  return (
    <Panel title="Replay" className="wide">
      <div className="table-wrap" tabIndex={0} role="region" aria-label="Replay outcome per step">
        <table data-testid="replay-table">
          <thead>
            <tr>
              <th scope="col">Step</th>
              <th scope="col">Behaviour</th>
              <th scope="col">Recorded output</th>
              <th scope="col">Replay outcome</th>
              <th scope="col">Last replay</th>
            </tr>
          </thead>
          <tbody>
            {doc.steps.map((step) => (
              <tr key={step.step_index}>
                <th scope="row">
                  {step.step_index}. {step.skill_name}
                </th>
                <td>{step.replay_behavior}</td>
                <td className="mono" title={step.output_hash}>
                  {shortHash(step.output_hash)}
                </td>
                <td>{stepOutcome(step, mismatches.data?.mismatches)}</td>
                <td data-testid={`last-replay-${step.step_index}`}>
                  <LastReplay check={replays.data?.get(step.step_index)} pending={replays.isPending} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="hint">
        {Object.entries(BEHAVIOUR)
          .map(([behaviour, meaning]) => `${behaviour} ${meaning}`)
          .join("; ")}
        .
      </p>
      {can(session, ACTIONS.replayTraces) && doc.steps.length > 0 && <ReplayForm doc={doc} />}
    </Panel>
  );
}

function recordedOutput(step: Step | undefined): string {
  return JSON.stringify(step?.outcome_data ?? null, null, 2);
}

function ReplayForm({ doc }: { doc: TraceDocument }) {
  const queryClient = useQueryClient();
  const first = doc.steps.find((s) => s.replay_behavior === "check") ?? doc.steps[0];
  const [index, setIndex] = useState(first.step_index);
  const [output, setOutput] = useState(recordedOutput(first));
  const [invalid, setInvalid] = useState<string | null>(null);
  const replay = useMutation({
    mutationFn: (value: unknown) =>
      ok(
        api.POST("/api/v1/traces/{trace_id}/replay/steps/{step_index}", {
          params: { path: { trace_id: doc.trace_id, step_index: index } },
          body: { output: value },
        }),
      ),
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: ["mismatches"] });
      void queryClient.invalidateQueries({ queryKey: ["replay-checks", doc.trace_id] });
    },
  });
  const submit = (event: React.FormEvent) => {
    event.preventDefault();
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      setInvalid("The output must be JSON, for example {\"ok\": true} or \"text\".");
      return;
    }
    setInvalid(null);
    replay.mutate(value);
  };
  return (
    <form className="replay-form" onSubmit={submit}>
      <h3>Replay a step</h3>
      <label>
        Step to replay
        <select
          value={index}
          onChange={(event) => {
            const chosen = Number(event.target.value);
            setIndex(chosen);
            setOutput(recordedOutput(doc.steps.find((s) => s.step_index === chosen)));
            replay.reset();
          }}
        >
          {doc.steps.map((step) => (
            <option key={step.step_index} value={step.step_index}>
              {step.step_index}. {step.skill_name} ({step.replay_behavior})
            </option>
          ))}
        </select>
      </label>
      <label>
        Output (JSON)
        <textarea className="mono" rows={4} value={output} onChange={(event) => setOutput(event.target.value)} />
      </label>
      <button type="submit" disabled={replay.isPending}>
        Replay step
      </button>
      {invalid && (
        <p className="form-error" role="alert">
          {invalid}
        </p>
      )}
      {replay.isError && <ErrorState error={replay.error} />}
      {replay.data && (
        <p
          className={`verdict ${replay.data.match === false ? "bad" : "ok"}`}
          role="status"
          data-testid="replay-result"
        >
          {replaySentence(replay.data)}
        </p>
      )}
    </form>
  );
}
