import { describe, expect, it, vi } from "vitest";
import { ApiError, onSignedOut, toError, unwrap } from "../src/api/client";

describe("API errors as the console shows them", () => {
  it("keeps the problem's sentence and the Retry-After seconds of a 429", () => {
    const error = toError(new Response(null, { status: 429, headers: { "Retry-After": "7" } }), {
      detail: "API key rate limit exceeded (60 requests per minute)",
    });
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe("API key rate limit exceeded (60 requests per minute)");
    expect(error.retryAfterSeconds).toBe(7);
  });

  it("reads an HTTP-date Retry-After of a 503 as seconds from now", () => {
    const later = new Date(Date.now() + 30_000).toUTCString();
    const error = toError(new Response(null, { status: 503, headers: { "Retry-After": later } }), null);
    expect(error.retryAfterSeconds).toBeGreaterThanOrEqual(28);
    expect(error.retryAfterSeconds).toBeLessThanOrEqual(31);
    expect(error.message).toMatch(/try again/);
  });

  it("sends the console back to sign-in on a 401", () => {
    const listener = vi.fn();
    const stop = onSignedOut(listener);
    toError(new Response(null, { status: 401 }), { detail: "Authentication required" });
    stop();
    toError(new Response(null, { status: 401 }), null);
    expect(listener).toHaveBeenCalledTimes(1);
  });

  it("unwraps enveloped payloads and leaves bare ones alone", () => {
    expect(unwrap({ success: true, data: [1], meta: {} })).toEqual([1]);
    expect(unwrap({ data: [2], provenance: {} })).toEqual({ data: [2], provenance: {} });
  });
});
