import { describe, expect, it } from 'vitest'
import {
  CONSEQUENCES,
  exportHref,
  filterProblem,
  hasFilters,
  IMPACTS,
  nextSort,
  NO_FILTERS,
  pageQuery,
  pageSpan,
  parsePosition,
  searchFromView,
  sortOf,
  viewFromSearch,
  type ViewState,
} from './filters'

const plain: ViewState = { filters: NO_FILTERS, sort: 'position', page: 1, size: 50 }

describe('the view in the address', () => {
  it('reads every filter, sort and page from a shared link', () => {
    const view = viewFromSearch(
      new URLSearchParams(
        'chrom=17&start=43044295&end=43125483&gene=BRCA1&region=UTR3&region=CDS&consequence=missense_variant&consequence=stop_gained&in_dbsnp=true&clinvar=pathogenic&q=rs80&sort=-gene&page=3&size=100',
      ),
    )
    expect(view).toEqual({
      filters: {
        chrom: '17',
        start: 43044295,
        end: 43125483,
        gene: 'BRCA1',
        regions: ['CDS', 'UTR3'], // in the classes' own order, whatever order the link had
        consequences: ['stop_gained', 'missense_variant'], // most severe first
        inDbsnp: true,
        clinvar: 'pathogenic',
        text: 'rs80',
      },
      sort: '-gene',
      page: 3,
      size: 100,
    })
  })

  it('falls back to the default for whatever in an address it cannot read', () => {
    const view = viewFromSearch(
      new URLSearchParams('start=-5&end=abc&region=exon&consequence=exon_variant&consequence=Missense_Variant&in_dbsnp=maybe&sort=qual&page=0&size=7'),
    )
    expect(view).toEqual(plain)
  })

  it('round-trips a view through its address, leaving the defaults out', () => {
    const view: ViewState = {
      filters: { ...NO_FILTERS, gene: 'TP53', regions: ['intron'], consequences: ['splice_region_variant'], inDbsnp: false },
      sort: 'region',
      page: 2,
      size: 25,
    }
    const search = searchFromView(view)
    expect(search.toString()).toBe('gene=TP53&region=intron&consequence=splice_region_variant&in_dbsnp=false&sort=region&page=2&size=25')
    expect(viewFromSearch(search)).toEqual(view)
    expect(searchFromView(plain).toString()).toBe('')
  })
})

describe('the API query and the export', () => {
  const view: ViewState = {
    filters: {
      ...NO_FILTERS,
      chrom: 'chrX',
      start: 100,
      end: 200,
      regions: ['CDS', 'UTR5'],
      consequences: ['frameshift_variant', '5_prime_UTR_variant'],
      text: 'rs1',
    },
    sort: '-position',
    page: 3,
    size: 25,
  }

  it('asks the server for exactly the rows of the page shown', () => {
    expect(pageQuery(view).toString()).toBe(
      'chrom=chrX&start=100&end=200&region=CDS&region=UTR5&consequence=frameshift_variant&consequence=5_prime_UTR_variant&q=rs1&sort=-position&limit=25&offset=50',
    )
  })

  it('exports with exactly the same filters and order, and no paging', () => {
    const href = exportHref('job 1', view, 'tsv')
    const [path, query] = href.split('?')
    expect(path).toBe('/api/jobs/job%201/variants/export')
    const params = new URLSearchParams(query)
    expect(params.get('limit')).toBeNull()
    expect(params.get('offset')).toBeNull()
    expect(params.get('format')).toBe('tsv')
    expect(params.get('sort')).toBe('-position')
    params.delete('format')
    params.delete('sort')
    const pageParams = pageQuery(view)
    for (const key of ['sort', 'limit', 'offset']) pageParams.delete(key)
    expect(params.toString()).toBe(pageParams.toString())
  })

  it('knows a view with no filters from a filtered one', () => {
    expect(hasFilters(NO_FILTERS)).toBe(false)
    expect(hasFilters({ ...NO_FILTERS, inDbsnp: false })).toBe(true)
    expect(hasFilters({ ...NO_FILTERS, consequences: ['intron_variant'] })).toBe(true)
  })
})

describe('the consequences offered', () => {
  it("are anntools' terms, most severe first, so grouped by VEP's impact", () => {
    expect(CONSEQUENCES[0]).toEqual({ term: 'splice_acceptor_variant', impact: 'HIGH' })
    expect(CONSEQUENCES.at(-1)).toEqual({ term: 'intergenic_variant', impact: 'MODIFIER' })
    const ranks = CONSEQUENCES.map(({ impact }) => IMPACTS.indexOf(impact))
    expect(ranks.every((rank) => rank >= 0)).toBe(true)
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b))
  })
})

describe('the filter form', () => {
  it('says what is wrong with a range before asking the server', () => {
    expect(filterProblem({ ...NO_FILTERS, chrom: '1', start: 500, end: 100 })).toBe(
      'The range starts (500) after it ends (100): give a start at or before the end.',
    )
    expect(filterProblem({ ...NO_FILTERS, start: 5 })).toMatch(/needs a chromosome/)
    expect(filterProblem({ ...NO_FILTERS, chrom: '1', start: 5, end: 5 })).toBeNull()
  })

  it('takes positions as people paste them', () => {
    expect(parsePosition(' 43,044,295 ')).toBe(43044295)
    expect(parsePosition('')).toBeNull()
    expect(parsePosition('0')).toBe('invalid')
    expect(parsePosition('12.5')).toBe('invalid')
  })
})

describe('sorting and paging', () => {
  it('sorts a column ascending first, then descending, then ascending again', () => {
    expect(nextSort('position', 'gene')).toBe('gene')
    expect(nextSort('gene', 'gene')).toBe('-gene')
    expect(nextSort('-gene', 'gene')).toBe('gene')
    expect(sortOf('-gene', 'gene')).toBe('descending')
    expect(sortOf('-gene', 'id')).toBe('none')
  })

  it('counts the rows and pages shown', () => {
    expect(pageSpan({ ...plain, page: 2 }, 120)).toEqual({ first: 51, last: 100, pages: 3 })
    expect(pageSpan({ ...plain, page: 3 }, 120)).toEqual({ first: 101, last: 120, pages: 3 })
    expect(pageSpan(plain, 0)).toEqual({ first: 0, last: 0, pages: 1 })
  })
})
