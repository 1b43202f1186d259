// Which genome build a VCF looks like, judged in the browser before anything is uploaded, by the
// rules anntools uses (libs/anntools/src/anntools/genome.py): ##contig lengths decide, then
// reference/assembly names in the header, then positions past a build's chromosome ends.
// buildRules.json is generated from anntools (`npm run build-rules`); a test keeps it in step.
import rules from './buildRules.json'

export const BUILDS = ['GRCh37', 'GRCh38'] as const
export type KnownBuild = (typeof BUILDS)[number]
const NCBI36 = 'NCBI36'
/** NCBI36 is recognised only to be refused. */
export type DetectedBuild = KnownBuild | typeof NCBI36
const ALL_BUILDS: readonly DetectedBuild[] = [NCBI36, ...BUILDS]

export const CHROMOSOME_LENGTHS = rules.chromosomeLengths as Record<DetectedBuild, Record<string, number>>
// Python's patterns use only syntax JavaScript reads the same way (\b, classes, alternation).
const REFERENCE_PATTERNS = Object.fromEntries(
  Object.entries(rules.referencePatterns).map(([build, source]) => [build, new RegExp(source, 'i')]),
) as Record<DetectedBuild, RegExp>
export const LIFTOVER_HINT = rules.liftoverHint.replace(/^anntools /, 'GAS ')

export function canonicalChromosome(name: string): string {
  const bare = name.slice(0, 3).toLowerCase() === 'chr' ? name.slice(3) : name
  if (/^(m|mt)$/i.test(bare)) return 'MT'
  return bare === 'x' || bare === 'y' ? bare.toUpperCase() : bare
}

export interface BuildGuess {
  /** The build to annotate with, or null when the file does not tell (or is refused). */
  build: KnownBuild | null
  /** What the file looks like: NCBI36 too. */
  detected: DetectedBuild | null
  reason: string
  evidence: string[]
  /** Why this file cannot be annotated at all, with what to do; null when it can. */
  refusal: string | null
}

function structured(body: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const match of body.matchAll(/(\w+)=("[^"]*"|[^,]*)/g)) fields[match[1] ?? ''] = (match[2] ?? '').replace(/^"|"$/g, '')
  return fields
}

function votesFor(headerLines: readonly string[]): { byLength: Record<DetectedBuild, string[]>; byText: Record<DetectedBuild, string[]> } {
  const empty = () => ({ NCBI36: [], GRCh37: [], GRCh38: [] }) as Record<DetectedBuild, string[]>
  const byLength = empty()
  const byText = empty()
  for (const line of headerLines) {
    if (line.startsWith('##contig=<')) {
      const fields = structured(line.slice('##contig=<'.length).replace(/>$/, ''))
      const chromosome = canonicalChromosome(fields.ID ?? '')
      const length = /^\d+$/.test(fields.length ?? '') ? Number(fields.length) : null
      const assembly = fields.assembly ?? ''
      for (const build of ALL_BUILDS) {
        if (length !== null && CHROMOSOME_LENGTHS[build][chromosome] === length) byLength[build].push(`##contig ${fields.ID} length ${length}`)
        if (assembly && REFERENCE_PATTERNS[build].test(assembly)) byText[build].push(`##contig assembly=${assembly}`)
      }
      continue
    }
    const [key = '', ...rest] = line.slice(2).split('=')
    const value = rest.join('=')
    if (/reference|assembly/i.test(key)) {
      for (const build of ALL_BUILDS) if (REFERENCE_PATTERNS[build].test(value)) byText[build].push(`##${key}=${value}`)
    }
  }
  return { byLength, byText }
}

function refuse(detected: DetectedBuild | null, reason: string, evidence: string[]): BuildGuess {
  const refusal =
    detected === NCBI36
      ? `This file is NCBI36/hg18 (${reason}). ${LIFTOVER_HINT}.`
      : `This file fits no genome build GAS annotates (${reason}). Check that it is a human VCF on GRCh37 or GRCh38.`
  return { build: null, detected, reason, evidence, refusal }
}

/**
 * What the header's "##" lines and the first records' positions say about the build: ##contig
 * lengths first, then reference/assembly names, then which builds' chromosomes are long enough.
 */
export function guessBuild(headerLines: readonly string[], positions: readonly { chrom: string; pos: number }[]): BuildGuess {
  const { byLength, byText } = votesFor(headerLines)
  const evidence = [...new Set([...ALL_BUILDS.flatMap((b) => byLength[b]), ...ALL_BUILDS.flatMap((b) => byText[b])])]
  for (const votes of [byLength, byText]) {
    const ranked = [...ALL_BUILDS].filter((b) => votes[b].length > 0).sort((a, b) => votes[b].length - votes[a].length)
    const [first, second] = ranked
    if (first && (!second || votes[first].length > votes[second].length)) {
      const reason = votes[first][0] ?? ''
      if (first === NCBI36) return refuse(NCBI36, reason, evidence)
      return { build: first, detected: first, reason, evidence, refusal: null }
    }
  }
  const beyond: Partial<Record<DetectedBuild, string>> = {}
  for (const { chrom, pos } of positions) {
    const chromosome = canonicalChromosome(chrom)
    for (const build of ALL_BUILDS) {
      const length = CHROMOSOME_LENGTHS[build][chromosome]
      if (beyond[build] === undefined && length !== undefined && pos > length) {
        beyond[build] =
          `${chrom}:${pos.toLocaleString('en')} lies past the end of ${build}'s chromosome ${chromosome} (${length.toLocaleString('en')} bp)`
      }
    }
  }
  const clues = [...evidence, ...Object.values(beyond)]
  const fitting = BUILDS.filter((build) => beyond[build] === undefined)
  if (fitting.length === 0) {
    const reason = BUILDS.map((build) => beyond[build]).join('; ')
    return refuse(beyond.NCBI36 === undefined ? NCBI36 : null, reason, clues)
  }
  if (fitting.length === 1 && fitting[0]) {
    const other = BUILDS.find((build) => build !== fitting[0]) ?? fitting[0]
    return { build: fitting[0], detected: fitting[0], reason: beyond[other] ?? '', evidence: clues, refusal: null }
  }
  return {
    build: null,
    detected: null,
    reason: 'the header names no build and the positions read fit both builds; the annotator tests the records against each build’s known SNPs and genes',
    evidence: clues,
    refusal: null,
  }
}
