import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { guessBuild } from './builds'
import { inspectVcf } from './header'
import rules from './buildRules.json'

const at = (chrom: string, pos: number) => ({ chrom, pos })

describe('guessBuild (anntools rules, before upload)', () => {
  it('refuses NCBI36/hg18 with a liftover hint, whichever header clue names it', () => {
    for (const header of [
      ['##contig=<ID=20,length=62435964,assembly=B36>'],
      ['##reference=file:///seq/references/1000GenomesPilot-NCBI36.fasta'],
      ['##reference=hg18.fa'],
    ]) {
      const guess = guessBuild(header, [at('20', 14370)])
      expect(guess.detected).toBe('NCBI36')
      expect(guess.build).toBeNull()
      expect(guess.refusal).toMatch(/^This file is NCBI36\/hg18 \(.+\)\. GAS annotates GRCh37 and GRCh38 only: lift the file over/)
      expect(guess.refusal).toContain('liftOver')
    }
  })

  it('refuses positions that only NCBI36 has, and positions no build has', () => {
    // chromosome 19 is 63.8 Mbp in NCBI36, 59.1 in GRCh37, 58.6 in GRCh38
    expect(guessBuild([], [at('chr19', 60_000_000)]).refusal).toContain('NCBI36/hg18')
    const nowhere = guessBuild([], [at('1', 300_000_000)])
    expect(nowhere.detected).toBeNull()
    expect(nowhere.refusal).toContain('fits no genome build GAS annotates')
  })

  it('reads contig lengths first, then reference and assembly names', () => {
    const grch38 = guessBuild(['##contig=<ID=chr1,length=248956422>', '##reference=hg19.fa'], [])
    expect([grch38.build, grch38.reason]).toEqual(['GRCh38', '##contig chr1 length 248956422'])
    expect(grch38.evidence).toEqual(['##contig chr1 length 248956422', '##reference=hg19.fa'])
    expect(guessBuild(['##reference=/ref/human_build37.fa'], []).build).toBe('GRCh37')
    expect(guessBuild(['##source_GENOME_REFERENCE=GCA_000001405.15'], []).build).toBe('GRCh38')
    expect(guessBuild(['##contig=<ID=1,assembly=b37>'], []).build).toBe('GRCh37')
    // names in other lines say nothing: this is a tool's description, not the reference
    expect(guessBuild(['##source=lifted from hg18'], []).build).toBeNull()
  })

  it('tells GRCh38 from a position past GRCh37’s chromosome end, and says so when nothing tells', () => {
    const x = guessBuild([], [at('chrX', 156_000_000)])
    expect(x.build).toBe('GRCh38')
    expect(x.reason).toBe("chrX:156,000,000 lies past the end of GRCh37's chromosome X (155,270,560 bp)")
    const silent = guessBuild(['##fileformat=VCFv4.2'], [at('1', 69511)])
    expect([silent.build, silent.refusal]).toEqual([null, null])
    expect(silent.reason).toContain('fit both builds')
  })

  it('uses anntools’ tables, patterns included, as JavaScript reads them', () => {
    expect(rules.builds).toEqual(['GRCh37', 'GRCh38'])
    for (const source of Object.values(rules.referencePatterns)) expect(() => new RegExp(source, 'i')).not.toThrow()
    expect(rules.chromosomeLengths.GRCh37['1']).toBe(249250621)
  })
})

describe('the same verdicts as the jobs service on real files (services/jobs/tests/test_api.py)', () => {
  const real = (name: string) =>
    readFileSync(join(process.cwd(), '..', '..', 'libs', 'anntools', 'tests', 'data', 'real', name), 'utf8')

  it('refuses the 1000 Genomes NCBI36 samples, takes GATK’s exome as GRCh37, and leaves header-less ClinVar to the annotator', () => {
    for (const name of ['ncbi36_ex2.vcf', 'ncbi36_structural.vcf']) {
      expect(inspectVcf(real(name)).problem?.message).toMatch(/^This file is NCBI36\/hg18 .*lift the file over/)
    }
    const exome = inspectVcf(real('gatk_hapmap_exome_chr22.vcf'))
    expect([exome.build.build, exome.build.reason]).toEqual(['GRCh37', '##contig 22 length 51304566'])
    const clinvar = inspectVcf(real('clinvar_grch38_chr1_headerless.vcf'))
    expect([clinvar.problem, clinvar.build.build]).toEqual([null, null])
  })
})
