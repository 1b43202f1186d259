import { render, screen } from '@testing-library/react'
import { describe, expect, it } from 'vitest'
import { Provenance } from './Summary'

const check = {
  detected: 'GRCh38',
  source: 'data',
  reason: "1810 of 2000 records lie in GRCh38's exons, 160 in GRCh37's",
  evidence: [
    'GRCh37: of 2000 records tested, 0 match its common SNPs and 160 lie in its exons',
    'GRCh38: of 2000 records tested, 0 match its common SNPs and 1810 lie in its exons',
  ],
  records_read: 2000,
  data_tested: true,
  forced: false,
}

describe('Provenance', () => {
  it('shows the build found at submit and its evidence, before there is a bundle to name', () => {
    render(<Provenance provenance={null} buildCheck={check} chosenBuild={null} />)
    const section = screen.getByRole('region', { name: 'Provenance' })
    expect(section).toHaveTextContent(
      "Genome build: the file looks like GRCh38 (1810 of 2000 records lie in GRCh38's exons, 160 in GRCh37's). Checked at submit from the header and the first 2,000 records, tested against each build’s known SNPs and exons.",
    )
    expect(screen.getByText('Build evidence (2)')).toBeInTheDocument()
    expect(section).not.toHaveTextContent('Reference bundle')
  })

  it('says when the user overrode the check', () => {
    render(<Provenance provenance={null} buildCheck={{ ...check, forced: true }} chosenBuild="GRCh37" />)
    expect(screen.getByRole('region', { name: 'Provenance' })).toHaveTextContent('you chose GRCh37 and overrode the check')
  })
})
