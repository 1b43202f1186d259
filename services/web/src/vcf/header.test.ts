import { describe, expect, it } from 'vitest'
import { inspectVcf } from './header'

const HEADER = '##fileformat=VCFv4.2\n'
const COLUMNS = '#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO'

describe('inspectVcf', () => {
  it('finds the samples, contigs and the build from contig lengths', () => {
    const text =
      HEADER +
      '##contig=<ID=chr1,length=248956422>\n##contig=<ID=chr2,length=242193529>\n' +
      `${COLUMNS}\tFORMAT\tNA12878\tNA12891\n` +
      'chr1\t10177\t.\tA\tAC\t50\tPASS\t.\tGT\t0/1\t1/1\n'
    const overview = inspectVcf(text)
    expect(overview.problem).toBeNull()
    expect(overview.samples).toEqual(['NA12878', 'NA12891'])
    expect(overview.contigs).toEqual(['chr1', 'chr2'])
    expect(overview.build.build).toBe('GRCh38')
    expect(overview.build.reason).toContain('chr1')
    expect(overview.variantsRead).toBe(1)
  })

  it('takes the build from ##reference, and from a position only one build has', () => {
    expect(inspectVcf(`${HEADER}##reference=hs37d5.fa\n${COLUMNS}\n1\t5\t.\tA\tG\t.\t.\t.\n`).build.build).toBe('GRCh37')
    // chromosome 1 is 249,250,621 bp in GRCh37 and 248,956,422 bp in GRCh38
    const late = inspectVcf(`${HEADER}${COLUMNS}\n1\t249000000\t.\tA\tG\t.\t.\t.\n`)
    expect(late.build.build).toBe('GRCh37')
    expect(late.contigs).toEqual(['1'])
    expect(late.contigsFrom).toBe('variants')
    expect(inspectVcf(`${HEADER}${COLUMNS}\n1\t100\t.\tA\tG\t.\t.\t.\n`).build.build).toBeNull()
  })

  it('names the line of a row with too few columns', () => {
    const overview = inspectVcf(`${HEADER}${COLUMNS}\n1\t100\t.\tA\tG\t.\t.\t.\n1\t200\t.\tA\n`)
    expect(overview.problem).toEqual({ line: 4, message: 'Line 4: expected 8 or more tab-separated columns, found 4.' })
  })

  it('refuses a file that is not a VCF, with what line 1 should be', () => {
    const overview = inspectVcf('chrom,pos,ref,alt\n1,100,A,G\n')
    expect(overview.problem?.line).toBe(1)
    expect(overview.problem?.message).toContain('##fileformat=VCFv4.x')
  })

  it('reports a bad POS, a variant before the column header, and a missing header', () => {
    expect(inspectVcf(`${HEADER}${COLUMNS}\n1\tten\t.\tA\tG\t.\t.\t.\n`).problem?.message).toBe(
      'Line 3: POS must be a whole number from 1, found "ten".',
    )
    expect(inspectVcf(`${HEADER}1\t100\t.\tA\tG\t.\t.\t.\n`).problem?.line).toBe(2)
    expect(inspectVcf(`${HEADER}##source=x\n`).problem?.message).toContain('ends before')
    expect(inspectVcf('').problem?.message).toBe('The file is empty.')
  })

  it('reads CRLF files, and a cut-off last line of a partial read is not a problem', () => {
    const crlf = `${HEADER}${COLUMNS}\n1\t100\t.\tA\tG\t.\t.\t.\n`.replaceAll('\n', '\r\n')
    expect(inspectVcf(crlf).problem).toBeNull()
    const partial = inspectVcf(`${HEADER}${COLUMNS}\n1\t100\t.\tA\tG\t.\t.\t.\n1\t20`, { complete: false })
    expect(partial.problem).toBeNull()
    expect(partial.variantsRead).toBe(1)
    expect(partial.readWholeFile).toBe(false)
  })

  it('checks that sample rows match the header', () => {
    const overview = inspectVcf(`${HEADER}${COLUMNS}\tFORMAT\tS1\n1\t100\t.\tA\tG\t.\t.\t.\tGT\n`)
    expect(overview.problem?.message).toBe('Line 3: the header has 10 columns but this line has 9.')
  })

  it('refuses an NCBI36 file before upload, with the liftover hint', () => {
    const overview = inspectVcf(`${HEADER}##reference=1000GenomesPilot-NCBI36.fasta\n${COLUMNS}\n20\t14370\t.\tG\tA\t.\t.\t.\n`)
    expect(overview.build.detected).toBe('NCBI36')
    expect(overview.problem?.line).toBeNull()
    expect(overview.problem?.message).toContain('lift the file over')
  })
})
