import { signInHref, usePageTitle } from '../common/Feedback'

export function SignedOut({ next, askedForPage }: { next: string; askedForPage: boolean }) {
  usePageTitle('Annotate your VCF files')
  return (
    <>
      {askedForPage && (
        <div className="alert alert-info" role="status">
          Sign in to open this page.
        </div>
      )}
      <section className="py-4 mb-4 border-bottom">
        <h1 className="display-6 fw-semibold">Annotate your variants, in the browser</h1>
        <p className="lead col-lg-9">
          Upload a VCF file (plain or bgzipped) and GAS annotates every variant with its dbSNP ID, the genes it
          falls in and their region class (coding, exon, UTR, intron, promoter, intergenic), the cytoband, HGNC
          names, regulatory features and, on GRCh38, ClinVar status. You can follow each job live, and an email
          tells you when the result is ready to download.
        </p>
        <a className="btn btn-primary btn-lg" href={signInHref(next)}>
          Sign in
        </a>
      </section>
      <h2 className="h4 mb-3">Two tiers</h2>
      <div className="row g-4">
        <div className="col-md-6">
          <section className="card h-100" aria-labelledby="tier-free">
            <div className="card-body">
              <h3 className="h5 card-title" id="tier-free">
                Free
              </h3>
              <ul className="mb-0">
                <li>Files up to the free size limit — bgzip makes most files fit.</li>
                <li>Results download for a short window after the job finishes, then move to cold storage.</li>
                <li>Both genome builds, GRCh37 and GRCh38, detected from the file.</li>
              </ul>
            </div>
          </section>
        </div>
        <div className="col-md-6">
          <section className="card h-100 border-success" aria-labelledby="tier-premium">
            <div className="card-body">
              <h3 className="h5 card-title" id="tier-premium">
                Premium
              </h3>
              <ul className="mb-0">
                <li>Files of any size.</li>
                <li>Results stay available; archived results are restored when you upgrade.</li>
                <li>Personal API tokens for scripts and the <code>gas</code> command line, on both tiers.</li>
              </ul>
            </div>
          </section>
        </div>
      </div>
    </>
  )
}
