"""Token buckets in Redis, one Lua script per decision, so every gateway replica shares the buckets.

Traefik semantics: `average` requests per `period` refill the bucket, `burst` is its size, the key
comes from the `sourceCriterion`. The script reads Redis' own clock (`TIME`), so replicas with
skewed clocks still agree. Redis being down fails open (counted in the metrics): losing the rate
limiter must not take the platform down with it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from aos_gateway.proxy.types import PendingCount
from aos_gateway.redis_link import PipelinedRedis, Script

logger = logging.getLogger("aos.gateway.ratelimit")

_BUCKET = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local stamp = tonumber(state[2])
if tokens == nil or stamp == nil then
  tokens = burst
  stamp = now
end
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
"""
TOKEN_BUCKET = Script(_BUCKET + "return {allowed, tostring(wait)}\n")
# The bucket, then a usage count (KEYS[2] hash, ARGV[3] field): counted last, so a script that
# fails in the bucket part has counted nothing and the caller may count the request another way.
COUNTED_TOKEN_BUCKET = Script(
    _BUCKET + "redis.call('HINCRBY', KEYS[2], ARGV[3], 1)\nreturn {allowed, tostring(wait)}\n"
)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float


class RateLimiter:
    """Shared token buckets; `take` spends one token or says how long until one is available.

    Calls go over the gateway's one pipelined connection (aos_gateway.redis_link), not redis-py:
    one call per proxied request made redis-py's per-call CPU the gateway's largest single cost.
    """

    def __init__(
        self,
        redis: PipelinedRedis,
        prefix: str = "aos:gw:rl",
        on_fail_open: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self._on_fail_open = on_fail_open
        self._prefix = prefix
        self.failures = 0

    async def take(self, bucket: str, *, rate_per_second: float, burst: int) -> Decision:
        if rate_per_second <= 0:
            return Decision(True, 0.0)
        key = f"{self._prefix}:{bucket}"
        try:
            reply = await self._redis.run_script(
                TOKEN_BUCKET, [key], [repr(rate_per_second), max(1, burst)]
            )
            return _decision(reply)
        except (RedisError, OSError) as error:
            self.failures += 1
            if self._on_fail_open is not None:
                self._on_fail_open()
            logger.warning("rate limiter unavailable, failing open: %s", error)
            return Decision(True, 0.0)

    async def take_with(
        self, usage: PendingCount | None, bucket: str, *, rate_per_second: float, burst: int
    ) -> Decision:
        """`take`, carrying the request's pending usage count in the same round trip."""
        if usage is None or usage.state != "pending":
            return await self.take(bucket, rate_per_second=rate_per_second, burst=burst)
        decision = await self.count_and_take(
            usage.counter, usage.field, bucket, rate_per_second=rate_per_second, burst=burst
        )
        if decision is None:
            usage.state = "failed"
            self.failures += 1
            if self._on_fail_open is not None:
                self._on_fail_open()
            return Decision(True, 0.0)
        usage.state = "counted"
        return decision

    async def count_and_take(
        self, counter: str, field: str, bucket: str | None, *, rate_per_second: float, burst: int
    ) -> Decision | None:
        """Add 1 to `field` of the hash `counter` and, with a `bucket`, spend a token from it: one
        script call, one Redis round trip (half the client-side CPU of a two-command pipeline).

        The gateway talks to one Redis (not a cluster client), so the two keys of the script need
        not share a hash slot. None when Redis could not answer: the caller must then count the
        request another way (nothing here fails open, since a lost count is lost usage).
        """
        try:
            if bucket is None or rate_per_second <= 0:
                await self._redis.execute("HINCRBY", counter, field, 1)
                return Decision(True, 0.0)
            reply = await self._redis.run_script(
                COUNTED_TOKEN_BUCKET,
                [f"{self._prefix}:{bucket}", counter],
                [repr(rate_per_second), max(1, burst), field],
            )
            return _decision(reply)
        except (RedisError, OSError) as error:
            logger.warning("usage counter unavailable: %s", error)
            return None


def _decision(reply: object) -> Decision:
    """The script's `{allowed, tostring(wait)}`."""
    if not isinstance(reply, list) or len(reply) != 2:
        raise RedisError(f"unexpected token bucket reply {reply!r}")
    allowed, wait = reply
    return Decision(bool(int(allowed)), float(wait))


def bucket_key(scope: str, source: str) -> str:
    """`{source}` is a Redis Cluster hash tag: one tenant's buckets live on one shard."""
    cleaned = source.replace("{", "").replace("}", "")[:200]
    return f"{scope}:{{{cleaned}}}"
