// What the results viewer shows, as one value that lives in the page's address: a view can be
// bookmarked or sent to a colleague, and the API query and the export use exactly the same filters.
import type { components } from '../api/generated/jobs'
import consequenceTerms from './consequenceTerms.json'

export type RegionClass = components['schemas']['RegionClass']
export type SortKey = components['schemas']['SortKey']
export type ExportFormat = components['schemas']['ExportFormat']

export const REGION_CLASSES: readonly RegionClass[] = ['CDS', 'UTR5', 'UTR3', 'ncRNA_exon', 'intron', 'promoter', 'intergenic']
export const REGION_LABELS: Record<RegionClass, string> = {
  CDS: 'Coding (CDS)',
  UTR5: "5' UTR",
  UTR3: "3' UTR",
  ncRNA_exon: 'Non-coding exon',
  intron: 'Intron',
  promoter: 'Promoter',
  intergenic: 'Intergenic',
}
/** VEP's IMPACT of a consequence, most severe first. */
export type Impact = 'HIGH' | 'MODERATE' | 'LOW' | 'MODIFIER'
export const IMPACTS: readonly Impact[] = ['HIGH', 'MODERATE', 'LOW', 'MODIFIER']
export const IMPACT_LABELS: Record<Impact, string> = {
  HIGH: 'High impact',
  MODERATE: 'Moderate impact',
  LOW: 'Low impact',
  MODIFIER: 'Modifier',
}
/** The Sequence Ontology terms of MOST_SEVERE_CSQ in VEP's order of severity, most severe first
 * (consequenceTerms.json is generated from anntools by `npm run consequence-terms`). */
export const CONSEQUENCES = consequenceTerms.terms as readonly { term: string; impact: Impact }[]
export const CONSEQUENCE_TERMS = CONSEQUENCES.map(({ term }) => term)
const SORT_KEYS: readonly SortKey[] = ['position', '-position', 'gene', '-gene', 'region', '-region', 'id', '-id']
export const PAGE_SIZES = [25, 50, 100, 250] as const
export const DEFAULT_PAGE_SIZE = 50

export interface VariantFilters {
  chrom: string
  start: number | null
  end: number | null
  gene: string
  regions: RegionClass[]
  /** most severe consequences to keep, in order of severity */
  consequences: string[]
  /** null: either way */
  inDbsnp: boolean | null
  clinvar: string
  /** free text on the ID column */
  text: string
}

export interface ViewState {
  filters: VariantFilters
  sort: SortKey
  /** 1-based */
  page: number
  size: number
}

export const NO_FILTERS: VariantFilters = {
  chrom: '',
  start: null,
  end: null,
  gene: '',
  regions: [],
  consequences: [],
  inDbsnp: null,
  clinvar: '',
  text: '',
}

function positiveInt(value: string | null): number | null {
  if (value === null || !/^\d+$/.test(value.trim())) return null
  const number = Number(value)
  return Number.isSafeInteger(number) && number >= 1 ? number : null
}

/** The view an address asks for; anything unreadable in it falls back to the default. */
export function viewFromSearch(search: URLSearchParams): ViewState {
  const regions = search.getAll('region').filter((r): r is RegionClass => (REGION_CLASSES as string[]).includes(r))
  const consequences = search.getAll('consequence')
  const dbsnp = search.get('in_dbsnp')
  const sort = search.get('sort') as SortKey | null
  const size = positiveInt(search.get('size'))
  return {
    filters: {
      chrom: (search.get('chrom') ?? '').trim(),
      start: positiveInt(search.get('start')),
      end: positiveInt(search.get('end')),
      gene: (search.get('gene') ?? '').trim(),
      regions: REGION_CLASSES.filter((r) => regions.includes(r)),
      consequences: CONSEQUENCE_TERMS.filter((term) => consequences.includes(term)),
      inDbsnp: dbsnp === 'true' ? true : dbsnp === 'false' ? false : null,
      clinvar: (search.get('clinvar') ?? '').trim(),
      text: (search.get('q') ?? '').trim(),
    },
    sort: sort && SORT_KEYS.includes(sort) ? sort : 'position',
    page: positiveInt(search.get('page')) ?? 1,
    size: size && (PAGE_SIZES as readonly number[]).includes(size) ? size : DEFAULT_PAGE_SIZE,
  }
}

/** The filters as the API's query parameters (also the export's): only those that narrow. */
export function filterParams(filters: VariantFilters): URLSearchParams {
  const params = new URLSearchParams()
  if (filters.chrom) params.set('chrom', filters.chrom)
  if (filters.start !== null) params.set('start', String(filters.start))
  if (filters.end !== null) params.set('end', String(filters.end))
  if (filters.gene) params.set('gene', filters.gene)
  for (const region of filters.regions) params.append('region', region)
  for (const consequence of filters.consequences) params.append('consequence', consequence)
  if (filters.inDbsnp !== null) params.set('in_dbsnp', String(filters.inDbsnp))
  if (filters.clinvar) params.set('clinvar', filters.clinvar)
  if (filters.text) params.set('q', filters.text)
  return params
}

/** The page's address for a view; defaults are left out so a plain view has a plain address. */
export function searchFromView(view: ViewState): URLSearchParams {
  const params = filterParams(view.filters)
  if (view.sort !== 'position') params.set('sort', view.sort)
  if (view.page !== 1) params.set('page', String(view.page))
  if (view.size !== DEFAULT_PAGE_SIZE) params.set('size', String(view.size))
  return params
}

/** The API query for one page of a view. */
export function pageQuery(view: ViewState): URLSearchParams {
  const params = filterParams(view.filters)
  params.set('sort', view.sort)
  params.set('limit', String(view.size))
  params.set('offset', String((view.page - 1) * view.size))
  return params
}

/** "Download what you see": every row the filters match, in the order shown. */
export function exportHref(jobId: string, view: ViewState, format: ExportFormat): string {
  const params = filterParams(view.filters)
  params.set('format', format)
  if (view.sort !== 'position') params.set('sort', view.sort)
  return `/api/jobs/${encodeURIComponent(jobId)}/variants/export?${params}`
}

export function hasFilters(filters: VariantFilters): boolean {
  return filterParams(filters).toString() !== ''
}

/** Clicking a column: first ascending, then descending, then ascending again. */
export function nextSort(current: SortKey, column: 'position' | 'gene' | 'region' | 'id'): SortKey {
  return current === column ? (`-${column}` as SortKey) : column
}

export function sortOf(current: SortKey, column: string): 'ascending' | 'descending' | 'none' {
  if (current === column) return 'ascending'
  if (current === `-${column}`) return 'descending'
  return 'none'
}

/** What is wrong with filters typed into the form, in words; null when they can be applied. */
export function filterProblem(filters: VariantFilters): string | null {
  if (filters.start !== null && filters.end !== null && filters.start > filters.end) {
    return `The range starts (${filters.start.toLocaleString('en')}) after it ends (${filters.end.toLocaleString('en')}): give a start at or before the end.`
  }
  if ((filters.start !== null || filters.end !== null) && !filters.chrom) {
    return 'A position range needs a chromosome: fill in the chromosome too.'
  }
  return null
}

/** The form's text for a position: digits, with the thousands separators people paste. */
export function parsePosition(text: string): number | null | 'invalid' {
  const digits = text.trim().replace(/[,_\s]/g, '')
  if (!digits) return null
  return positiveInt(digits) ?? 'invalid'
}

/** How many pages, and the rows on this one, for "Rows 51–100 of 1,234". */
export function pageSpan(view: ViewState, count: number): { first: number; last: number; pages: number } {
  const pages = Math.max(1, Math.ceil(count / view.size))
  const first = count === 0 ? 0 : (view.page - 1) * view.size + 1
  const last = Math.min(count, view.page * view.size)
  return { first, last, pages }
}
