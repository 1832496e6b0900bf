"""Named defaults and limits shared by the client, the retry policy and input validation."""

from __future__ import annotations

from typing import Final

# The public Composo service; overridable for self-hosted or staging deployments.
DEFAULT_BASE_URL: Final = "https://platform.composo.ai"

# Lets deployments point the SDK elsewhere without code changes.
BASE_URL_ENV: Final = "COMPOSO_BASE_URL"

# Same variable as the official SDK, so existing environments keep working.
API_KEY_ENV: Final = "COMPOSO_API_KEY"

# Total seconds for one evaluation, retries and backoff waits included: Align takes 5-15 s.
DEFAULT_TIMEOUT: Final = 60.0

# Retries after the first attempt (not attempts): one retry rides out a transient blip.
DEFAULT_NUM_RETRIES: Final = 1

# Lowest accepted num_retries: 429s and edge timeouts (524) are common enough that every
# evaluation should get at least one more try.
MIN_NUM_RETRIES: Final = 1

# The service recommends at most 5 parallel requests per caller.
DEFAULT_MAX_CONCURRENT_REQUESTS: Final = 5

# First backoff in seconds: long enough for a restarted backend, short next to an evaluation.
INITIAL_BACKOFF: Final = 0.5

# Ceiling for one exponential backoff step, so late retries do not eat the whole deadline.
MAX_BACKOFF: Final = 8.0

# Each retry waits twice as long as the previous one (0.5, 1, 2, 4, 8 s).
BACKOFF_MULTIPLIER: Final = 2.0

# Fraction of a backoff removed at random (the delay lies in [(1 - JITTER) * d, d]) so clients
# that failed together do not retry in lockstep; added on top of a server Retry-After instead,
# because waiting less than the server asked would only earn another 429.
JITTER: Final = 0.25

# Cap on a server-provided Retry-After, so a bogus header cannot stall a caller for hours.
MAX_RETRY_AFTER: Final = 60.0

# Timeout, conflict and rate limit are transient; every 5xx is retryable too (see _retry.py).
RETRYABLE_STATUS_CODES: Final = frozenset({408, 409, 429})

# The server refuses criteria that start with anything else (after upper-casing char one).
CRITERIA_PREFIXES: Final = ("Reward", "Penalize", "Passes if", "Fails if")

# Criteria with these prefixes are scored 0 or 1 instead of on a continuous scale.
BINARY_PREFIXES: Final = ("Passes if", "Fails if")

# Server limit on evaluation_criteria; checked locally to fail before a round trip.
MAX_CRITERIA_LENGTH: Final = 4096

# Server limit on evaluator_name.
MAX_EVALUATOR_NAME_LENGTH: Final = 255

# Server limit on each tag key and each tag value.
MAX_TAG_LENGTH: Final = 64

# Server limit on page_size when listing traces or filtering evaluations.
MAX_PAGE_SIZE: Final = 500

# The server needs a conversation to judge: at least a prompt and a reply.
MIN_MESSAGES: Final = 2

# Cores named like this are the fast models that cannot score traces or every turn.
LIGHTNING_CORE_PREFIX: Final = "align-lightning"

# Lightning cores that take only binary criteria ("Passes if" / "Fails if").
BINARY_ONLY_CORES: Final = frozenset({"align-lightning-20251127"})

# The one logger this library writes to; configuring it is left to the application.
LOGGER_NAME: Final = "composo"

# The client-wide retry budget, after the AWS SDKs' standard retry quota: a retry spends
# RETRY_COST tokens (RETRY_COST_TIMEOUT after a timeout, which ties up more of the server), a
# success on the first attempt earns one back, and a success on a retry returns what it spent.
# 500 tokens allow 100 retries in a row before calls fail fast, so an outage is not multiplied.
RETRY_BUDGET_CAPACITY: Final = 500
RETRY_COST: Final = 5
RETRY_COST_TIMEOUT: Final = 10
RETRY_BUDGET_SUCCESS_REFUND: Final = 1

# A 429 whose Retry-After is longer than this pauses every request of the client; at or below
# it (the whole-second rounding of any sub-second wait) only the refused request waits and the
# rate limiter slows down. See `_retry.pauses_client`.
PAUSE_MIN_RETRY_AFTER: Final = 1.0

# The API description this client speaks: openapi.yaml's info.version, checked against the file
# by tests/test_cache.py (bump both together). It is part of every result-cache key, so results
# cached under one version of the API are never served under another.
SPEC_VERSION: Final = "2.2.0"

# The result cache's directory when no path is given; else the platform's user cache directory.
CACHE_DIR_ENV: Final = "COMPOSO_CACHE_DIR"

# Result-cache limits, whichever is reached first. A result is a few hundred bytes, so a
# million of them fit the gigabyte; a month is how long a judgement is trusted before it is
# made again (the service's models move on; a CI gate re-runs for free within it).
CACHE_MAX_ENTRIES: Final = 1_000_000
CACHE_MAX_BYTES: Final = 1 << 30
CACHE_MAX_AGE: Final = 30 * 24 * 3600.0

# Seconds a cache read or write waits for another process's lock before giving up (the call
# then goes to the network): far above a write's milliseconds, far below an evaluation.
CACHE_BUSY_TIMEOUT: Final = 5.0

# Writes between two prunes: a prune counts the whole table, so it is not done on every write.
CACHE_PRUNE_EVERY: Final = 1000
