// Read the start of a VCF in the browser, before anything is uploaded: what is in it, which build
// it looks like, and the first format problem with its line number.
import { guessBuild, type BuildGuess } from './builds'

export interface VcfProblem {
  /** The line to fix, or null when the file could not be read at all. */
  line: number | null
  message: string
}

export interface VcfOverview {
  fileformat: string | null
  compressed: boolean
  samples: string[]
  contigs: string[]
  contigsFrom: 'header' | 'variants'
  variantsRead: number
  build: BuildGuess
  problem: VcfProblem | null
  readWholeFile: boolean
}

const FIXED_COLUMNS = ['#CHROM', 'POS', 'ID', 'REF', 'ALT', 'QUAL', 'FILTER', 'INFO']
const MAX_DATA_LINES = 2000
const MAX_TEXT_BYTES = 8 * 1024 * 1024
const MAX_HEADER_AND_DATA_LINES = MAX_DATA_LINES + 10000
const ALLELE = /^[ACGTNacgtn*]+$/

function structured(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const match of text.matchAll(/([A-Za-z_]+)=("[^"]*"|[^,]*)/g)) {
    fields[match[1] ?? ''] = (match[2] ?? '').replace(/^"|"$/g, '')
  }
  return fields
}

/** Look at the text of a VCF (all of it, or its start when `complete` is false). */
export function inspectVcf(text: string, { compressed = false, complete = true } = {}): VcfOverview {
  const lines = text.replace(/^\ufeff/, '').split('\n')
  if (!complete) lines.pop() // the last line may be cut where reading stopped
  const contigs: string[] = []
  const positions: { chrom: string; pos: number }[] = []
  const seenChromosomes: string[] = []
  const headerLines: string[] = []
  let fileformat: string | null = null
  let columns: string[] | null = null
  let variantsRead = 0
  let problem: VcfProblem | null = null

  const fail = (line: number, message: string) => {
    problem ??= { line, message }
  }

  for (let index = 0; index < lines.length && !problem; index++) {
    const line = (lines[index] ?? '').replace(/\r$/, '')
    const number = index + 1
    if (index === 0) {
      if (!line.startsWith('##fileformat=VCF')) {
        fail(1, `This is not a VCF file: line 1 should be "##fileformat=VCFv4.x" but starts with "${line.slice(0, 40)}".`)
        break
      }
      fileformat = line.slice('##fileformat='.length)
      continue
    }
    if (line === '') {
      if (index < lines.length - 1) fail(number, `Line ${number} is empty; a VCF has no blank lines.`)
      continue
    }
    if (line.startsWith('##')) {
      if (columns) fail(number, `Line ${number}: a "##" header line after the #CHROM line; move it above.`)
      else {
        headerLines.push(line)
        if (line.startsWith('##contig=<')) contigs.push(structured(line.slice('##contig=<'.length, -1)).ID ?? '?')
      }
      continue
    }
    if (line.startsWith('#')) {
      const names = line.split('\t')
      const missing = FIXED_COLUMNS.findIndex((name, i) => names[i] !== name)
      if (missing !== -1) {
        fail(
          number,
          `Line ${number}: the column header should start with the 8 tab-separated columns ${FIXED_COLUMNS.join(' ')}; column ${missing + 1} is "${names[missing] ?? ''}".`,
        )
      } else if (names.length > 8 && names[8] !== 'FORMAT') {
        fail(number, `Line ${number}: column 9 of the header must be FORMAT when samples follow, not "${names[8]}".`)
      }
      columns = names
      continue
    }
    if (!columns) {
      fail(number, `Line ${number}: a variant before the "#CHROM POS ID REF ALT QUAL FILTER INFO" header line.`)
      break
    }
    const fields = line.split('\t')
    if (fields.length < 8) {
      fail(number, `Line ${number}: expected 8 or more tab-separated columns, found ${fields.length}.`)
      break
    }
    if (columns.length > 8 && fields.length !== columns.length) {
      fail(number, `Line ${number}: the header has ${columns.length} columns but this line has ${fields.length}.`)
      break
    }
    const [chrom = '', posText = '', , ref = ''] = fields
    const pos = Number(posText)
    if (!/^\d+$/.test(posText) || pos < 1) {
      fail(number, `Line ${number}: POS must be a whole number from 1, found "${posText}".`)
      break
    }
    if (!ALLELE.test(ref)) {
      fail(number, `Line ${number}: REF must be bases (A, C, G, T, N), found "${ref.slice(0, 20)}".`)
      break
    }
    variantsRead++
    positions.push({ chrom, pos })
    if (!seenChromosomes.includes(chrom)) seenChromosomes.push(chrom)
    if (variantsRead >= MAX_DATA_LINES) break
  }
  if (!problem && !columns && fileformat !== null && complete) {
    fail(lines.length, 'The file ends before the "#CHROM POS ID REF ALT QUAL FILTER INFO" header line.')
  }
  if (text.trim() === '') problem = { line: 1, message: 'The file is empty.' }
  const build = guessBuild(headerLines, positions)
  if (!problem && build.refusal) problem = { line: null, message: build.refusal }
  return {
    fileformat,
    compressed,
    samples: columns ? columns.slice(9) : [],
    contigs: contigs.length ? contigs : seenChromosomes,
    contigsFrom: contigs.length ? 'header' : 'variants',
    variantsRead,
    build,
    problem,
    readWholeFile: complete,
  }
}

const GZIP_MAGIC = [0x1f, 0x8b]
const BGZF_HEADER_BYTES = 18

/**
 * The size of the BGZF block at the start of `header` (bgzip writes gzip members of at most 64 KiB
 * with their size in a "BC" extra field), or null if it is not one.
 */
export function bgzfBlockSize(header: Uint8Array): number | null {
  const [id1, id2, method, flags] = header
  if (id1 !== 0x1f || id2 !== 0x8b || method !== 8 || !flags || (flags & 4) === 0 || header.length < BGZF_HEADER_BYTES) {
    return null
  }
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength)
  const extraLength = view.getUint16(10, true)
  const isBc = header[12] === 66 && header[13] === 67 && view.getUint16(14, true) === 2
  return extraLength >= 6 && isBc ? view.getUint16(16, true) + 1 : null
}

function inflate(data: Blob): ReadableStream<Uint8Array> {
  return data.stream().pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>)
}

/**
 * The file's bytes, decompressed. Browsers' gzip DecompressionStream stops at the end of the first
 * gzip member, so a bgzipped file is inflated block by block.
 */
async function* fileBytes(file: File, compressed: boolean): AsyncGenerator<Uint8Array> {
  if (!compressed) {
    yield* chunksOf(file.stream())
    return
  }
  let offset = 0
  while (offset < file.size) {
    const size = bgzfBlockSize(new Uint8Array(await file.slice(offset, offset + BGZF_HEADER_BYTES).arrayBuffer()))
    if (size === null) {
      if (offset > 0) throw new Error('The bgzip blocks of this file are damaged.')
      yield* chunksOf(inflate(file)) // plain gzip: one member
      return
    }
    yield* chunksOf(inflate(file.slice(offset, offset + size)))
    offset += size
  }
}

async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    void reader.cancel().catch(() => undefined)
  }
}

/** Read a File's start (decompressing gzip and bgzip) and inspect it. */
export async function readVcf(file: File): Promise<VcfOverview> {
  const magic = new Uint8Array(await file.slice(0, 2).arrayBuffer())
  const compressed = magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1]
  const decoder = new TextDecoder('utf-8', { fatal: true })
  let text = ''
  let complete = true
  let lineCount = 0
  try {
    for await (const bytes of fileBytes(file, compressed)) {
      const chunk = decoder.decode(bytes, { stream: true })
      text += chunk
      lineCount += chunk.split('\n').length - 1
      if (text.length > MAX_TEXT_BYTES || lineCount > MAX_HEADER_AND_DATA_LINES) {
        complete = false
        break
      }
    }
    if (complete) text += decoder.decode()
  } catch (error) {
    const message =
      error instanceof TypeError && !compressed
        ? 'The file is not text (or gzipped text); choose a VCF file.'
        : compressed
          ? 'The file starts like gzip but cannot be decompressed: it may be cut short or damaged.'
          : 'The file could not be read; choose it again.'
    return { ...inspectVcf('', { compressed }), problem: { line: null, message } }
  }
  return inspectVcf(text, { compressed, complete })
}
