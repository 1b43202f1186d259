// The annotator's summary and provenance as small charts and tables. The API types them as open
// objects, so each value is read defensively: a missing field hides its part, never the page.

const REGION_LABELS: Record<string, string> = {
  CDS: 'Coding (CDS)',
  ncRNA_exon: 'Non-coding exon',
  UTR5: "5' UTR",
  UTR3: "3' UTR",
  intron: 'Intron',
  promoter: 'Promoter',
  intergenic: 'Intergenic',
  unknown_contig: 'Contig not annotated',
}

function asNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function asRecord(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

export function SummaryCharts({ summary }: { summary: Record<string, unknown> }) {
  const variants = asNumber(summary.variants)
  const inDbsnp = asNumber(summary.in_dbsnp)
  const pct = asNumber(summary.pct_in_dbsnp)
  const regions = Object.entries(asRecord(summary.region_counts))
    .map(([name, count]) => [name, asNumber(count) ?? 0] as const)
    .filter(([name, count]) => count > 0 || name !== 'unknown_contig')
  const largest = Math.max(1, ...regions.map(([, count]) => count))
  const seconds = asNumber(summary.seconds)
  return (
    <section className="mb-4" aria-labelledby="summary-heading">
      <h2 className="h5" id="summary-heading">
        Summary
      </h2>
      <div className="row g-4">
        <div className="col-lg-7">
          <h3 className="h6">Variants per region class</h3>
          <table className="table table-sm table-borderless mb-0">
            <caption className="visually-hidden">Number of variants in each region class</caption>
            <thead className="visually-hidden">
              <tr>
                <th scope="col">Region class</th>
                <th scope="col">Share</th>
                <th scope="col">Variants</th>
              </tr>
            </thead>
            <tbody>
              {regions.map(([name, count]) => (
                <tr key={name}>
                  <th scope="row" className="fw-normal text-nowrap chart-label">
                    {REGION_LABELS[name] ?? name}
                  </th>
                  <td className="w-100 align-middle">
                    <div className="bar-track" aria-hidden="true">
                      <div className="bar-fill" style={{ width: `${(100 * count) / largest}%` }} />
                    </div>
                  </td>
                  <td className="chart-value">{count.toLocaleString('en')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="col-lg-5">
          <h3 className="h6">Known variants</h3>
          {pct !== null && (
            <>
              <p className="display-6 mb-1">{pct.toFixed(1)}%</p>
              <div className="bar-track mb-2" aria-hidden="true">
                <div className="bar-fill bg-success" style={{ width: `${Math.min(100, pct)}%` }} />
              </div>
              <p className="text-body-secondary">
                {inDbsnp?.toLocaleString('en') ?? '?'} of {variants?.toLocaleString('en') ?? '?'} variants are in dbSNP.
              </p>
            </>
          )}
          {seconds !== null && variants !== null && (
            <p className="text-body-secondary mb-0">
              Annotated {variants.toLocaleString('en')} variants in {seconds.toFixed(2)} s.
            </p>
          )}
        </div>
      </div>
    </section>
  )
}

interface SourceGroup {
  origin: string
  package: string
  version: string
  files: string[]
}

/** One row per package and version, with the files of it the bundle was built from. */
export function sourceGroups(sources: Record<string, unknown>[]): SourceGroup[] {
  const groups = new Map<string, SourceGroup>()
  for (const source of sources) {
    const [origin, pkg, version] = [source.origin, source.package, source.version].map((value) => String(value ?? '—'))
    const key = `${origin}|${pkg}|${version}`
    const group = groups.get(key) ?? { origin: origin ?? '—', package: pkg ?? '—', version: version ?? '—', files: [] }
    const file = String(source.path ?? '').split('/').pop()?.replace(/\.[^.]+$/, '')
    if (file && !group.files.includes(file)) group.files.push(file)
    groups.set(key, group)
  }
  return [...groups.values()]
}

export function Provenance({ provenance }: { provenance: Record<string, unknown> }) {
  const sources = Array.isArray(provenance.sources) ? sourceGroups(provenance.sources.map(asRecord)) : []
  const text = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value) : '—')
  return (
    <section className="mb-4" aria-labelledby="provenance-heading">
      <h2 className="h5" id="provenance-heading">
        Provenance
      </h2>
      {provenance.build !== undefined && (
        <p className="text-body-secondary">
          Reference bundle {text(provenance.build)}, built {text(provenance.created_at)} by anntools{' '}
          {text(provenance.anntools_version)} (bundle format {text(provenance.format_version)}).
        </p>
      )}
      {typeof provenance.input_checksum === 'string' && (
        <p className="text-body-secondary">
          Input file checksum, as storage computed it on upload:{' '}
          <code className="text-break">{provenance.input_checksum}</code>
        </p>
      )}
      {sources.length > 0 && (
        <div className="table-responsive">
          <table className="table table-sm">
            <caption className="visually-hidden">Data sources of the reference bundle</caption>
            <thead>
              <tr>
                <th scope="col">Package</th>
                <th scope="col">Version</th>
                <th scope="col">From</th>
                <th scope="col">Data used</th>
              </tr>
            </thead>
            <tbody>
              {sources.map((source) => (
                <tr key={`${source.origin}|${source.package}|${source.version}`}>
                  <td>{source.package}</td>
                  <td>{source.version}</td>
                  <td>{source.origin}</td>
                  <td>{source.files.join(', ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
