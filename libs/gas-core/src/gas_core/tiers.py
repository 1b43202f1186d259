"""A user's tier: what the free and premium plans mean, and how a service learns a user's tier.

The gateway's PostgreSQL ``users`` table is the one source of truth for a user's current tier
(changed by an upgrade or ``gas-admin users set-tier``, each publishing ``AccountTierChanged``).
Services learn it in one of two ways, both from the gateway:

* on a request: the gateway stamps the current tier into the short-lived internal JWT it
  attaches to every forwarded call, so the jobs service enforces the free limits with the tier
  of that moment;
* in the background: a worker that must act on the current tier asks
  ``GET /internal/users/{id}`` (``gas_core.accounts``), as the archiver does before it
  commits an archive.

A copy also travels with each job (``tier`` on the job record, and on the job events as a
message attribute). It is the tier the job was created under, never read as the current one:
it routes events without a lookup (the SNS filter sends only free completions to the archiver),
and the archiver re-checks the gateway before acting on it, because the user may have upgraded
since.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    FREE = "free"
    PREMIUM = "premium"
