// Primary-assembly chromosome lengths (NCBI GRCh37.p13 / GRCh38.p14), as anntools uses them to
// tell the builds apart (libs/anntools/src/anntools/genome.py).
export const BUILDS = ['GRCh37', 'GRCh38'] as const
export type KnownBuild = (typeof BUILDS)[number]

// prettier-ignore
export const CHROMOSOME_LENGTHS: Record<KnownBuild, Record<string, number>> = {
  GRCh37: {
    '1': 249250621, '2': 243199373, '3': 198022430, '4': 191154276, '5': 180915260,
    '6': 171115067, '7': 159138663, '8': 146364022, '9': 141213431, '10': 135534747,
    '11': 135006516, '12': 133851895, '13': 115169878, '14': 107349540, '15': 102531392,
    '16': 90354753, '17': 81195210, '18': 78077248, '19': 59128983, '20': 63025520,
    '21': 48129895, '22': 51304566, X: 155270560, Y: 59373566,
  },
  GRCh38: {
    '1': 248956422, '2': 242193529, '3': 198295559, '4': 190214555, '5': 181538259,
    '6': 170805979, '7': 159345973, '8': 145138636, '9': 138394717, '10': 133797422,
    '11': 135086622, '12': 133275309, '13': 114364328, '14': 107043718, '15': 101991189,
    '16': 90338345, '17': 83257441, '18': 80373285, '19': 58617616, '20': 64444167,
    '21': 46709983, '22': 50818468, X: 156040895, Y: 57227415,
  },
}

const REFERENCE_PATTERNS: Record<KnownBuild, RegExp> = {
  GRCh37: /grch37|hg19|\bb37\b|hs37|g1k_v37|human_g1k|37d5/i,
  GRCh38: /grch38|hg38|\bb38\b|hs38|GCA_000001405\.15/i,
}

export function canonicalChromosome(name: string): string {
  const bare = name.slice(0, 3).toLowerCase() === 'chr' ? name.slice(3) : name
  if (/^(m|mt)$/i.test(bare)) return 'MT'
  return bare === 'x' || bare === 'y' ? bare.toUpperCase() : bare
}

export interface BuildGuess {
  build: KnownBuild | null
  reason: string
}

/** What the header (contig lengths first, then ##reference/assembly text) and the positions say. */
export function guessBuild(
  contigs: readonly { id: string; length: number | null; assembly?: string }[],
  reference: string | null,
  positions: readonly { chrom: string; pos: number }[],
): BuildGuess {
  const byLength: Record<KnownBuild, string[]> = { GRCh37: [], GRCh38: [] }
  const byText: Record<KnownBuild, string[]> = { GRCh37: [], GRCh38: [] }
  for (const contig of contigs) {
    const chromosome = canonicalChromosome(contig.id)
    for (const build of BUILDS) {
      if (contig.length !== null && CHROMOSOME_LENGTHS[build][chromosome] === contig.length) {
        byLength[build].push(`contig ${contig.id} is ${contig.length.toLocaleString('en')} bp long`)
      }
      if (contig.assembly && REFERENCE_PATTERNS[build].test(contig.assembly)) {
        byText[build].push(`contig assembly is ${contig.assembly}`)
      }
    }
  }
  if (reference) {
    for (const build of BUILDS) {
      if (REFERENCE_PATTERNS[build].test(reference)) byText[build].push(`##reference is ${reference}`)
    }
  }
  for (const votes of [byLength, byText]) {
    const [first, second] = [...BUILDS].sort((a, b) => votes[b].length - votes[a].length) as [KnownBuild, KnownBuild]
    if (votes[first].length > votes[second].length) return { build: first, reason: votes[first][0] ?? '' }
  }
  for (const { chrom, pos } of positions) {
    const chromosome = canonicalChromosome(chrom)
    const fitting = BUILDS.filter((build) => pos <= (CHROMOSOME_LENGTHS[build][chromosome] ?? Infinity))
    if (fitting.length === 1 && fitting[0]) {
      return { build: fitting[0], reason: `position ${chrom}:${pos.toLocaleString('en')} exists only in ${fitting[0]}` }
    }
  }
  return { build: null, reason: 'the header names no contig lengths or reference that identify the build' }
}
