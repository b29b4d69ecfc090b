// The typed client: openapi-fetch over the generated `paths`, with the session cookie (sent by
// the browser, never readable here) and the header the gateway requires on console writes.
import createClient from "openapi-fetch";
import type { paths } from "./schema";

export const api = createClient<paths>({
  baseUrl: "",
  credentials: "same-origin",
  headers: { "X-Requested-With": "aos-console" },
});

/** A refused or failed request, as the console shows it: a sentence and when to retry. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

const listeners = new Set<() => void>();
/** Called on any 401: the session is gone, so the console returns to sign-in. */
export function onSignedOut(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

function retryAfter(response: Response): number | null {
  const value = response.headers.get("Retry-After");
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

function detailOf(error: unknown, status: number): string {
  if (error && typeof error === "object") {
    const body = error as { detail?: unknown; title?: unknown };
    if (typeof body.detail === "string") return body.detail;
    if (typeof body.title === "string") return body.title;
  }
  if (status >= 500) return "The platform could not answer; try again shortly.";
  return `The request was refused (HTTP ${status}).`;
}

export function toError(response: Response, body: unknown): ApiError {
  if (response.status === 401) listeners.forEach((listener) => listener());
  return new ApiError(response.status, detailOf(body, response.status), retryAfter(response));
}

/** Some routes wrap their payload as `{success, data, meta}`, others return it bare. */
export function unwrap<T>(body: unknown): T {
  if (body && typeof body === "object" && "success" in body && "data" in body && "meta" in body) {
    return (body as { data: T }).data;
  }
  return body as T;
}

/** The payload type of a response documented as an envelope, or the type itself. */
export type Unwrapped<T> = T extends { success: boolean; data: infer D; meta: unknown } ? D : T;

/** Await an openapi-fetch call: the payload (unwrapped), or an ApiError. */
export async function ok<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Unwrapped<T>> {
  let result;
  try {
    result = await call;
  } catch {
    throw new ApiError(0, "The gateway cannot be reached; check that the platform is running.");
  }
  if (!result.response.ok) throw toError(result.response, result.error);
  return unwrap<Unwrapped<T>>(result.data);
}

/** The gateway's own console routes (sign-in), outside the services' OpenAPI documents. */
export async function consoleFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(path, {
      credentials: "same-origin",
      ...init,
      headers: { "X-Requested-With": "aos-console", ...(init.headers ?? {}) },
    });
  } catch {
    throw new ApiError(0, "The gateway cannot be reached; check that the platform is running.");
  }
  return response;
}
