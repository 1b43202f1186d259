// @vitest-environment node
import { crc32, deflateRawSync, gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { bgzfBlockSize, readVcf } from './header'

/** One BGZF block, as bgzip writes it: a gzip member with its size in the "BC" extra field. */
function bgzfBlock(data: Buffer): Buffer {
  const body = deflateRawSync(data)
  const header = Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff, 6, 0, 66, 67, 2, 0, 0, 0])
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(crc32(data), 0)
  trailer.writeUInt32LE(data.length, 4)
  header.writeUInt16LE(header.length + body.length + trailer.length - 1, 16)
  return Buffer.concat([header, body, trailer])
}

const VCF =
  '##fileformat=VCFv4.2\n##contig=<ID=22,length=51304566>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tHG00096\n' +
  Array.from({ length: 3000 }, (_, i) => `22\t${16050000 + i}\t.\tA\tG\t.\tPASS\t.\tGT\t0|1\n`).join('')

describe('readVcf', () => {
  it('reads a bgzipped file across its blocks (browsers inflate one gzip member at a time)', async () => {
    const text = Buffer.from(VCF)
    const middle = Math.floor(text.length / 2)
    const bytes = Buffer.concat([bgzfBlock(text.subarray(0, middle)), bgzfBlock(text.subarray(middle)), bgzfBlock(Buffer.alloc(0))])
    expect(bgzfBlockSize(bytes)).toBe(bgzfBlock(text.subarray(0, middle)).length)
    const overview = await readVcf(new File([bytes], 'in.vcf.gz'))
    expect(overview.problem).toBeNull()
    expect(overview.compressed).toBe(true)
    expect(overview.samples).toEqual(['HG00096'])
    expect(overview.build.build).toBe('GRCh37')
    expect(overview.variantsRead).toBe(2000) // it stops reading variants there
  })

  it('reads plain gzip and plain text, and says when gzip is damaged', async () => {
    const small = VCF.split('\n').slice(0, 10).join('\n') + '\n'
    expect((await readVcf(new File([gzipSync(small)], 'in.vcf.gz'))).variantsRead).toBe(7)
    expect((await readVcf(new File([small], 'in.vcf'))).compressed).toBe(false)
    const damaged = await readVcf(new File([gzipSync(small).subarray(0, 30)], 'in.vcf.gz'))
    expect(damaged.problem).toEqual({ line: null, message: expect.stringContaining('cannot be decompressed') })
  })
})
