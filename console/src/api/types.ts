// Payloads of routes whose OpenAPI documents declare no response model (the traces and
// guard-logs services answer with plain dicts there), written from API.md's contract.
import type { components } from "./schema";

export interface TraceSummary {
  trace_id: string;
  run_id: string;
  agent_id: string | null;
  total_steps: number;
  success_count: number;
  failure_count: number;
  total_cost_cents: number;
  total_duration_ms: number;
  started_at: string;
  completed_at: string | null;
  status: string;
  root_hash: string;
  incident_id: string | null;
}

export interface TraceList {
  items: TraceSummary[];
  total: number;
  limit: number;
  offset: number;
}

export interface Step {
  step_index: number;
  skill_id: string;
  skill_name: string;
  status: string;
  outcome_category: string;
  outcome_code: string | null;
  cost_cents: number;
  duration_ms: number;
  retry_count: number;
  timestamp: string;
  level: string;
  input_hash: string;
  output_hash: string;
  replay_behavior: string;
  params?: unknown;
  outcome_data?: unknown;
}

export interface TraceDocument {
  trace_id: string;
  run_id: string;
  agent_id: string | null;
  steps: Step[];
  started_at: string;
  completed_at: string | null;
  status: string;
  seed: number;
  frozen_timestamp: string | null;
  root_hash: string;
  plan_hash: string | null;
  schema_version: string;
  hash_verified: boolean;
  incident_id: string | null;
  replay_mode: string;
  metadata?: Record<string, unknown>;
}

export interface Integrity {
  state: string;
  grade: string;
  score: number;
  observed: string[];
  missing: string[];
  explanation: string;
}

export interface Comparison {
  match: boolean;
  trace1_root_hash: string;
  trace2_root_hash: string;
  differences: { field: string; trace1: unknown; trace2: unknown }[];
  summary: string;
}

export interface Mismatch {
  mismatch_id: string;
  trace_id?: string;
  step_index: number | null;
  reason: string;
  expected_hash: string | null;
  actual_hash: string | null;
  details?: unknown;
  resolved: boolean;
  resolved_at?: string | null;
  resolved_by?: string | null;
  created_at: string;
}

/** The answer of POST /traces/{trace_id}/replay/steps/{step_index}, by the step's behaviour. */
export type ReplayResult = components["schemas"]["ReplayResult"];

/** One replay recorded on a trace (GET /traces/{trace_id}/replay/checks). */
export type ReplayCheck = components["schemas"]["ReplayCheckRead"];
