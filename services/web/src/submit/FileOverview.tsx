import { formatBytes } from '../common/format'
import type { VcfOverview } from '../vcf/header'

const SHOWN = 12

function List({ items, none }: { items: string[]; none: string }) {
  if (items.length === 0) return <>{none}</>
  const shown = items.slice(0, SHOWN).join(', ')
  return <>{items.length > SHOWN ? `${shown} and ${items.length - SHOWN} more` : shown}</>
}

/** What the browser found in the file, before anything is uploaded. */
export function FileOverview({ file, overview }: { file: File; overview: VcfOverview }) {
  return (
    <section className="card mb-3" aria-labelledby="overview-heading">
      <div className="card-body">
        <h2 className="h5" id="overview-heading">
          {file.name}
        </h2>
        {overview.problem && (
          <div className="alert alert-danger" role="alert">
            <p className="mb-1 fw-semibold">This file cannot be annotated as it is</p>
            <p className="mb-1">{overview.problem.message}</p>
            <p className="mb-0">
              {overview.problem.line !== null
                ? `Fix line ${overview.problem.line} (or export the VCF again) and choose the file again.`
                : 'Check that this is the file you meant, or export it again.'}
            </p>
          </div>
        )}
        <dl className="row mb-0">
          <dt className="col-sm-3">Size</dt>
          <dd className="col-sm-9">
            {formatBytes(file.size)} {overview.compressed ? '(gzip/bgzip compressed)' : '(plain text)'}
          </dd>
          <dt className="col-sm-3">Format</dt>
          <dd className="col-sm-9">{overview.fileformat ?? 'not a VCF'}</dd>
          <dt className="col-sm-3">Samples</dt>
          <dd className="col-sm-9">
            {overview.samples.length > 0 && <>{overview.samples.length}: </>}
            <List items={overview.samples} none="none (sites only)" />
          </dd>
          <dt className="col-sm-3">{overview.contigsFrom === 'header' ? 'Contigs (header)' : 'Chromosomes'}</dt>
          <dd className="col-sm-9">
            <List items={overview.contigs} none="none found" />
          </dd>
          <dt className="col-sm-3">Variants read</dt>
          <dd className="col-sm-9">
            {overview.variantsRead.toLocaleString('en')}
            {overview.readWholeFile ? '' : ' (the start of the file)'}
          </dd>
          <dt className="col-sm-3">Looks like</dt>
          <dd className="col-sm-9">
            {overview.build.detected ? (
              <>
                <strong>{overview.build.detected}</strong> — {overview.build.reason}
              </>
            ) : (
              <>Build not recognised here ({overview.build.reason}); the annotator will look at the whole file.</>
            )}
            {overview.build.evidence.length > 1 && (
              <details className="small">
                <summary>Evidence ({overview.build.evidence.length} clues)</summary>
                <ul className="mb-0">
                  {overview.build.evidence.slice(0, SHOWN).map((clue) => (
                    <li key={clue}>{clue}</li>
                  ))}
                </ul>
              </details>
            )}
          </dd>
        </dl>
      </div>
    </section>
  )
}
