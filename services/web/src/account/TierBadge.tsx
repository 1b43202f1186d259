import type { Tier } from '../api/types'

export function TierBadge({ tier }: { tier: Tier }) {
  return tier === 'premium' ? (
    <span className="badge text-bg-success">Premium</span>
  ) : (
    <span className="badge text-bg-secondary">Free</span>
  )
}
