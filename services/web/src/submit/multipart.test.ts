// @vitest-environment node
import { describe, expect, it } from 'vitest'
import {
  fingerprintFile,
  missingParts,
  MultipartUpload,
  UploadPaused,
  UploadStore,
  type PartUrl,
  type Plan,
  type Transport,
} from './multipart'

class MemoryStorage implements Storage {
  private readonly items = new Map<string, string>()
  get length() {
    return this.items.size
  }
  clear() {
    this.items.clear()
  }
  getItem(key: string) {
    return this.items.get(key) ?? null
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null
  }
  removeItem(key: string) {
    this.items.delete(key)
  }
  setItem(key: string, value: string) {
    this.items.set(key, value)
  }
}

const PLAN: Plan = { part_bytes: 10, part_count: 5 }

/** A storage that keeps what is PUT, and can fail (or stall) a given part. */
class FakeStorage implements Transport {
  readonly held = new Map<number, Blob>()
  readonly puts: number[] = []
  completed = false
  failOn: number | null = null
  onPut: ((number: number) => void) | null = null

  async partUrls(_jobId: string, parts: { number: number; sha256: string }[]): Promise<PartUrl[]> {
    return parts.map(({ number, sha256 }) => ({ number, url: `s3://part/${number}`, headers: { 'x-amz-checksum-sha256': sha256 } }))
  }
  async uploadedParts() {
    return { upload: PLAN, parts: [...this.held].map(([number, blob]) => ({ number, size: blob.size })) }
  }
  async complete() {
    this.completed = true
  }
  async put(url: PartUrl, body: Blob) {
    this.puts.push(url.number)
    this.onPut?.(url.number)
    if (url.number === this.failOn) throw new Error('network down')
    this.held.set(url.number, body)
  }
}

const file = () => new File(['0123456789'.repeat(4) + 'abcd'], 'big.vcf', { lastModified: 1 })

describe('missingParts', () => {
  it('lists the parts storage lacks or holds with the wrong size', () => {
    expect(missingParts(PLAN, 44, [{ number: 1, size: 10 }, { number: 3, size: 7 }, { number: 5, size: 4 }])).toEqual([2, 3, 4])
  })
})

describe('MultipartUpload', () => {
  it('sends every part, completes, and forgets its saved state', async () => {
    const storage = new FakeStorage()
    const store = new UploadStore(new MemoryStorage())
    const progress: number[] = []
    const upload = new MultipartUpload(file(), 'job1', 'fp', storage, store, (p) => progress.push(p.sentBytes), 2, 1)
    await upload.run()
    expect([...storage.held.keys()].sort()).toEqual([1, 2, 3, 4, 5])
    expect(storage.completed).toBe(true)
    expect(progress.at(-1)).toBe(44)
    expect(store.load('fp')).toBeNull()
  })

  it('after a failure (or a reload) resumes with only the missing parts', async () => {
    const storage = new FakeStorage()
    const saved = new MemoryStorage()
    storage.failOn = 4
    const first = new MultipartUpload(file(), 'job1', 'fp', storage, new UploadStore(saved), () => {}, 1, 1)
    await expect(first.run()).rejects.toThrow('network down')
    expect(storage.completed).toBe(false)
    // A new page load: the state names the job and the parts done.
    const store = new UploadStore(saved)
    expect(store.load('fp')).toMatchObject({ jobId: 'job1', done: [1, 2, 3] })

    storage.failOn = null
    storage.puts.length = 0
    await new MultipartUpload(file(), 'job1', 'fp', storage, store, () => {}, 2, 1).run()
    expect(storage.puts.sort()).toEqual([4, 5])
    expect(storage.completed).toBe(true)
  })

  it('pauses, keeping what was sent, and resumes', async () => {
    const storage = new FakeStorage()
    const store = new UploadStore(new MemoryStorage())
    const upload = new MultipartUpload(file(), 'job1', 'fp', storage, store, () => {}, 1, 1)
    storage.onPut = (number) => {
      if (number === 3) upload.pause()
    }
    await expect(upload.run()).rejects.toBeInstanceOf(UploadPaused)
    expect(storage.completed).toBe(false)
    storage.onPut = null
    storage.puts.length = 0
    await upload.run()
    expect(storage.puts).toEqual([4, 5])
    expect(storage.completed).toBe(true)
  })
})

describe('fingerprintFile', () => {
  it('is the same for the same file and differs when it changes', async () => {
    const same = await fingerprintFile(file())
    expect(await fingerprintFile(file())).toBe(same)
    expect(await fingerprintFile(new File(['other'], 'big.vcf', { lastModified: 1 }))).not.toBe(same)
  })
})
