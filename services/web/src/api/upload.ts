// The file goes straight to storage with the presigned POST form the jobs API returns;
// XMLHttpRequest because fetch cannot report upload progress.
import type { UploadForm } from './types'

export interface UploadHandle {
  done: Promise<void>
  cancel: () => void
}

export class UploadCancelled extends Error {
  constructor() {
    super('Upload cancelled.')
    this.name = 'UploadCancelled'
  }
}

export function uploadFile(
  form: UploadForm,
  file: File,
  onProgress: (sentBytes: number, totalBytes: number) => void,
): UploadHandle {
  const request = new XMLHttpRequest()
  const done = new Promise<void>((resolve, reject) => {
    const body = new FormData()
    for (const [name, value] of Object.entries(form.fields)) body.append(name, value)
    body.append('file', file) // last: storage ignores fields after the file
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total)
    }
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) resolve()
      else reject(new Error(`Storage refused the upload (HTTP ${request.status}). Try again.`))
    }
    request.onerror = () => reject(new Error('The upload failed: the connection to storage broke. Try again.'))
    request.onabort = () => reject(new UploadCancelled())
    request.open('POST', form.url)
    request.send(body)
  })
  return { done, cancel: () => request.abort() }
}
