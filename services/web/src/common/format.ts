export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`
}

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const TIME = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' })

export function formatDateTime(value: string | null | undefined): string {
  return value ? DATE_TIME.format(new Date(value)) : '—'
}

/** Only the time when it is today, else date and time. */
export function formatMoment(value: Date): string {
  return value.toDateString() === new Date().toDateString() ? TIME.format(value) : DATE_TIME.format(value)
}

/** "9 minutes left" until `when`, seen at `now`. */
export function timeLeft(when: Date, now: Date = new Date()): string {
  const seconds = (when.getTime() - now.getTime()) / 1000
  if (seconds <= 0) return 'any moment now'
  if (seconds < 60) return 'less than a minute left'
  return `${formatDuration(seconds)} left`
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} seconds`
  if (seconds < 5400) return `${Math.round(seconds / 60)} minutes`
  return `${Math.round(seconds / 3600)} hours`
}
