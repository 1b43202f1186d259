// The results viewer: a result's annotated variants, filtered, sorted and paged by the jobs
// service, with the view in the address and "download what you see" exports.
import { useId, useState, type FormEvent } from 'react'
import { Link, useParams, useSearchParams } from 'react-router'
import { useJob, useVariants } from '../api/hooks'
import type { Job, Variant } from '../api/types'
import { ErrorMessage, Loading, usePageTitle } from '../common/Feedback'
import {
  CONSEQUENCE_TERMS,
  CONSEQUENCES,
  exportHref,
  filterProblem,
  hasFilters,
  IMPACT_LABELS,
  IMPACTS,
  nextSort,
  NO_FILTERS,
  PAGE_SIZES,
  pageQuery,
  pageSpan,
  parsePosition,
  REGION_CLASSES,
  REGION_LABELS,
  searchFromView,
  sortOf,
  viewFromSearch,
  type ExportFormat,
  type RegionClass,
  type VariantFilters,
  type ViewState,
} from './filters'

const NUMBER = new Intl.NumberFormat('en')
const EXPORTS: { format: ExportFormat; label: string }[] = [
  { format: 'vcf', label: 'VCF' },
  { format: 'tsv', label: 'TSV' },
  { format: 'json', label: 'JSON' },
]

export function ViewerPage() {
  const { jobId = '' } = useParams()
  const job = useJob(jobId)
  usePageTitle(job.data ? `Variants of ${job.data.input_filename}` : 'Variants')
  if (job.isPending) return <Loading what="the job" />
  if (!job.data) {
    return (
      <>
        <h1>These variants cannot be shown</h1>
        <ErrorMessage
          error={job.error}
          action={
            <p className="mb-0">
              See <Link to="/jobs">your jobs</Link>, or reload to try again.
            </p>
          }
        />
      </>
    )
  }
  return <Viewer job={job.data} />
}

function Viewer({ job }: { job: Job }) {
  const [search, setSearch] = useSearchParams()
  const view = viewFromSearch(search)
  const available = job.status === 'COMPLETED' && job.storage === 'AVAILABLE'
  const variants = useVariants(job.id, pageQuery(view).toString(), available)
  const show = (next: ViewState) => setSearch(searchFromView(next))
  const page = variants.data
  const span = page ? pageSpan(view, page.count) : null

  return (
    <>
      <nav aria-label="Breadcrumb">
        <ol className="breadcrumb">
          <li className="breadcrumb-item">
            <Link to="/jobs">Jobs</Link>
          </li>
          <li className="breadcrumb-item">
            <Link to={`/jobs/${job.id}`}>{job.input_filename}</Link>
          </li>
          <li className="breadcrumb-item active" aria-current="page">
            Variants
          </li>
        </ol>
      </nav>
      <h1 className="text-break">Variants of {job.input_filename}</h1>
      {!available ? (
        <NotViewable job={job} />
      ) : (
        <>
          <FilterForm
            key={search.toString()}
            applied={view.filters}
            onApply={(filters) => show({ ...view, filters, page: 1 })}
          />
          {variants.isError && (
            <ErrorMessage
              error={variants.error}
              action={<p className="mb-0">Change the filters, or reload the page to try again.</p>}
            />
          )}
          {variants.isPending && !variants.isError ? (
            <Loading what="the variants" />
          ) : page && span ? (
            <>
              <div className="d-flex flex-wrap justify-content-between align-items-center gap-2 mb-2">
                <p className="mb-0" role="status" aria-live="polite" data-testid="match-count">
                  {page.count === 0
                    ? 'No variants match these filters.'
                    : `${NUMBER.format(page.count)} ${page.count === 1 ? 'variant matches' : 'variants match'}${
                        hasFilters(view.filters) ? ' these filters' : ''
                      }; rows ${NUMBER.format(span.first)}–${NUMBER.format(span.last)} shown.`}
                </p>
                <ExportLinks job={job} view={view} disabled={page.count === 0} />
              </div>
              {page.count > 0 && page.data.length === 0 && (
                <div className="alert alert-info" role="status">
                  This page is past the last one.{' '}
                  <button type="button" className="btn btn-link p-0 align-baseline" onClick={() => show({ ...view, page: 1 })}>
                    Go to the first page
                  </button>
                </div>
              )}
              {page.data.length > 0 && (
                <VariantTable
                  rows={page.data}
                  view={view}
                  busy={variants.isFetching}
                  onSort={(column) => show({ ...view, sort: nextSort(view.sort, column), page: 1 })}
                />
              )}
              <Pager view={view} pages={span.pages} onShow={show} />
            </>
          ) : null}
        </>
      )}
    </>
  )
}

function NotViewable({ job }: { job: Job }) {
  const back = <Link to={`/jobs/${job.id}`}>the job's page</Link>
  let text: string
  if (job.status === 'FAILED') text = 'This job failed, so it has no variants to show.'
  else if (job.status !== 'COMPLETED') text = 'The variants can be viewed once the job has completed.'
  else if (job.storage === 'ARCHIVED') text = 'This result is archived. Upgrade to premium to restore it and view it again.'
  else if (job.storage === 'RESTORING') text = 'This result is being restored from cold storage; it can be viewed when it is back.'
  else text = 'This result is moving to cold storage and cannot be viewed now.'
  return (
    <div className="alert alert-info" role="status">
      <p className="mb-1">{text}</p>
      <p className="mb-0">Follow it on {back}.</p>
    </div>
  )
}

interface Draft {
  chrom: string
  start: string
  end: string
  gene: string
  regions: RegionClass[]
  consequences: string[]
  inDbsnp: '' | 'true' | 'false'
  clinvar: string
  text: string
}

function draftOf(filters: VariantFilters): Draft {
  return {
    chrom: filters.chrom,
    start: filters.start === null ? '' : String(filters.start),
    end: filters.end === null ? '' : String(filters.end),
    gene: filters.gene,
    regions: filters.regions,
    consequences: filters.consequences,
    inDbsnp: filters.inDbsnp === null ? '' : filters.inDbsnp ? 'true' : 'false',
    clinvar: filters.clinvar,
    text: filters.text,
  }
}

function FilterForm({ applied, onApply }: { applied: VariantFilters; onApply: (filters: VariantFilters) => void }) {
  const [draft, setDraft] = useState<Draft>(() => draftOf(applied))
  const [problem, setProblem] = useState<string | null>(null)
  const id = useId()
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((current) => ({ ...current, [key]: value }))

  const submit = (event: FormEvent) => {
    event.preventDefault()
    const start = parsePosition(draft.start)
    const end = parsePosition(draft.end)
    if (start === 'invalid' || end === 'invalid') {
      setProblem('Positions are whole numbers from 1, like 43044295.')
      return
    }
    const filters: VariantFilters = {
      chrom: draft.chrom.trim(),
      start,
      end,
      gene: draft.gene.trim(),
      regions: draft.regions,
      consequences: draft.consequences,
      inDbsnp: draft.inDbsnp === '' ? null : draft.inDbsnp === 'true',
      clinvar: draft.clinvar.trim(),
      text: draft.text.trim(),
    }
    const wrong = filterProblem(filters)
    setProblem(wrong)
    if (!wrong) onApply(filters)
  }

  const field = (name: keyof Draft) => `${id}-${name}`
  return (
    <form className="card card-body bg-body-tertiary mb-3" onSubmit={submit} aria-labelledby={`${id}-heading`} noValidate>
      <h2 className="h6" id={`${id}-heading`}>
        Filters
      </h2>
      <div className="row g-2">
        <TextFilter id={field('chrom')} label="Chromosome" value={draft.chrom} onChange={(v) => set('chrom', v)} placeholder="e.g. 17" maxLength={64} />
        <TextFilter id={field('start')} label="From position" value={draft.start} onChange={(v) => set('start', v)} numeric />
        <TextFilter id={field('end')} label="To position" value={draft.end} onChange={(v) => set('end', v)} numeric />
        <TextFilter id={field('gene')} label="Gene" value={draft.gene} onChange={(v) => set('gene', v)} placeholder="e.g. BRCA1" maxLength={100} />
        <TextFilter id={field('text')} label="ID contains" value={draft.text} onChange={(v) => set('text', v)} placeholder="e.g. rs80357" maxLength={100} />
        <div className="col-6 col-md-2">
          <label className="form-label small" htmlFor={field('inDbsnp')}>
            In dbSNP
          </label>
          <select
            id={field('inDbsnp')}
            className="form-select form-select-sm"
            value={draft.inDbsnp}
            onChange={(e) => set('inDbsnp', e.target.value as Draft['inDbsnp'])}
          >
            <option value="">Either</option>
            <option value="true">Yes (has an rsID)</option>
            <option value="false">No</option>
          </select>
        </div>
        <div className="col-12 col-md-4">
          <label className="form-label small" htmlFor={field('clinvar')}>
            ClinVar significance contains
          </label>
          <input
            id={field('clinvar')}
            className="form-control form-control-sm"
            value={draft.clinvar}
            onChange={(e) => set('clinvar', e.target.value)}
            list={`${id}-clinvar-values`}
            placeholder="e.g. pathogenic (GRCh38 results)"
            maxLength={100}
          />
          <datalist id={`${id}-clinvar-values`}>
            <option value="Pathogenic" />
            <option value="Likely_pathogenic" />
            <option value="Uncertain_significance" />
            <option value="Likely_benign" />
            <option value="Benign" />
            <option value="Conflicting" />
          </datalist>
        </div>
        <fieldset className="col-12 col-md-8">
          <legend className="form-label small mb-1 fs-6">Region class</legend>
          <div className="d-flex flex-wrap gap-3">
            {REGION_CLASSES.map((region) => (
              <div className="form-check" key={region}>
                <input
                  className="form-check-input"
                  type="checkbox"
                  id={`${id}-region-${region}`}
                  checked={draft.regions.includes(region)}
                  onChange={(e) => set('regions', toggled(REGION_CLASSES, draft.regions, region, e.target.checked))}
                />
                <label className="form-check-label small" htmlFor={`${id}-region-${region}`}>
                  {REGION_LABELS[region]}
                </label>
              </div>
            ))}
          </div>
        </fieldset>
        <ConsequenceFilter id={field('consequences')} chosen={draft.consequences} onChange={(v) => set('consequences', v)} />
      </div>
      {problem && (
        <div className="alert alert-warning mt-2 mb-0 py-2" role="alert">
          {problem}
        </div>
      )}
      <div className="d-flex gap-2 mt-3">
        <button type="submit" className="btn btn-primary btn-sm">
          Apply filters
        </button>
        <button
          type="button"
          className="btn btn-outline-dark btn-sm"
          disabled={!hasFilters(applied) && JSON.stringify(draft) === JSON.stringify(draftOf(NO_FILTERS))}
          onClick={() => {
            setDraft(draftOf(NO_FILTERS))
            setProblem(null)
            onApply(NO_FILTERS)
          }}
        >
          Clear filters
        </button>
      </div>
    </form>
  )
}

/** `chosen` with `item` checked or not, kept in `order` so the address does not depend on the
 * order of the clicks. */
function toggled<T>(order: readonly T[], chosen: readonly T[], item: T, checked: boolean): T[] {
  return checked ? order.filter((x) => x === item || chosen.includes(x)) : chosen.filter((x) => x !== item)
}

/** The most severe consequences to keep: a checkbox per Sequence Ontology term, grouped by VEP's
 * IMPACT, most severe first. */
function ConsequenceFilter({ id, chosen, onChange }: { id: string; chosen: string[]; onChange: (chosen: string[]) => void }) {
  return (
    <fieldset className="col-12">
      <legend className="form-label small mb-1 fs-6">Most severe consequence</legend>
      {IMPACTS.map((impact) => (
        <div className="row g-0 align-items-baseline" role="group" aria-labelledby={`${id}-${impact}`} key={impact}>
          <span className="col-12 col-md-2 small fw-semibold" id={`${id}-${impact}`}>
            {IMPACT_LABELS[impact]}
          </span>
          <div className="col-12 col-md-10 d-flex flex-wrap column-gap-3">
            {CONSEQUENCES.filter((c) => c.impact === impact).map(({ term }) => (
              <div className="form-check" key={term}>
                <input
                  className="form-check-input"
                  type="checkbox"
                  id={`${id}-${term}`}
                  checked={chosen.includes(term)}
                  onChange={(e) => onChange(toggled(CONSEQUENCE_TERMS, chosen, term, e.target.checked))}
                />
                <label className="form-check-label small" htmlFor={`${id}-${term}`}>
                  {term}
                </label>
              </div>
            ))}
          </div>
        </div>
      ))}
    </fieldset>
  )
}

/** One labelled text box of the filter form. */
function TextFilter(props: {
  id: string
  label: string
  value: string
  onChange: (value: string) => void
  placeholder?: string
  maxLength?: number
  numeric?: boolean
}) {
  return (
    <div className="col-6 col-md-2">
      <label className="form-label small" htmlFor={props.id}>
        {props.label}
      </label>
      <input
        id={props.id}
        className="form-control form-control-sm"
        inputMode={props.numeric ? 'numeric' : undefined}
        value={props.value}
        onChange={(e) => props.onChange(e.target.value)}
        placeholder={props.placeholder}
        maxLength={props.maxLength}
      />
    </div>
  )
}

function ExportLinks({ job, view, disabled }: { job: Job; view: ViewState; disabled: boolean }) {
  if (disabled) return null
  return (
    <div className="d-flex align-items-center gap-2" role="group" aria-label="Download what you see">
      <span className="small text-body-secondary">Download what you see:</span>
      {EXPORTS.map(({ format, label }) => (
        <a
          key={format}
          className="btn btn-outline-primary btn-sm"
          href={exportHref(job.id, view, format)}
          download
          aria-label={`Download the matching variants as ${label}`}
        >
          {label}
        </a>
      ))}
    </div>
  )
}

type SortColumn = 'position' | 'gene' | 'region' | 'id'

function VariantTable({
  rows,
  view,
  busy,
  onSort,
}: {
  rows: Variant[]
  view: ViewState
  busy: boolean
  onSort: (column: SortColumn) => void
}) {
  const sortable = (column: SortColumn, label: string) => {
    const state = sortOf(view.sort, column)
    return (
      <th scope="col" aria-sort={state}>
        <button type="button" className="btn btn-link btn-sm p-0 fw-semibold text-decoration-none" onClick={() => onSort(column)}>
          {label}
          <span aria-hidden="true">{state === 'ascending' ? ' ▲' : state === 'descending' ? ' ▼' : ''}</span>
          <span className="visually-hidden">
            {state === 'ascending' ? ', sorted ascending' : state === 'descending' ? ', sorted descending' : ', sort'}
          </span>
        </button>
      </th>
    )
  }
  return (
    <div className="table-responsive">
      <table className="table table-sm table-striped align-middle small" aria-busy={busy}>
        <caption className="visually-hidden">Annotated variants matching the filters</caption>
        <thead>
          <tr>
            {sortable('position', 'Position')}
            {sortable('id', 'ID')}
            <th scope="col">Ref</th>
            <th scope="col">Alt</th>
            <th scope="col">Qual</th>
            <th scope="col">Filter</th>
            {sortable('gene', 'Gene')}
            {sortable('region', 'Region')}
            <th scope="col">Most severe consequence</th>
            <th scope="col">ClinVar</th>
            <th scope="col">Cytoband</th>
            <th scope="col">In dbSNP</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row, index) => (
            <tr key={`${row.chrom}:${row.pos}:${row.ref}:${row.alt}:${index}`}>
              <td className="text-nowrap">
                {row.chrom}:{NUMBER.format(row.pos)}
              </td>
              <td>{row.id}</td>
              <td className="text-break">{row.ref}</td>
              <td className="text-break">{row.alt}</td>
              <td>{row.qual}</td>
              <td>{row.filter}</td>
              <td className="text-break">{row.gene ?? '—'}</td>
              <td>{row.region ? (REGION_LABELS[row.region as RegionClass] ?? row.region) : '—'}</td>
              <td className="text-break">{row.consequence ?? '—'}</td>
              <td className="text-break">{row.clinvar ?? '—'}</td>
              <td>{row.cytoband ?? '—'}</td>
              <td>{row.in_dbsnp ? 'Yes' : 'No'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Pager({ view, pages, onShow }: { view: ViewState; pages: number; onShow: (view: ViewState) => void }) {
  const id = useId()
  return (
    <nav aria-label="Pages of variants" className="d-flex flex-wrap align-items-center gap-2">
      <button
        type="button"
        className="btn btn-outline-secondary btn-sm"
        disabled={view.page <= 1}
        onClick={() => onShow({ ...view, page: view.page - 1 })}
      >
        Previous page
      </button>
      <span className="small">
        Page {NUMBER.format(Math.min(view.page, pages))} of {NUMBER.format(pages)}
      </span>
      <button
        type="button"
        className="btn btn-outline-secondary btn-sm"
        disabled={view.page >= pages}
        onClick={() => onShow({ ...view, page: view.page + 1 })}
      >
        Next page
      </button>
      <label className="small ms-3" htmlFor={`${id}-size`}>
        Rows per page
      </label>
      <select
        id={`${id}-size`}
        className="form-select form-select-sm w-auto"
        value={view.size}
        onChange={(e) => onShow({ ...view, size: Number(e.target.value), page: 1 })}
      >
        {PAGE_SIZES.map((size) => (
          <option key={size} value={size}>
            {size}
          </option>
        ))}
      </select>
    </nav>
  )
}
