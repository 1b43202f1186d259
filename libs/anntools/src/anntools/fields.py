"""INFO fields shared by bundle building and annotation (kept free of heavy imports)."""

# Highest precedence first; a variant gets the first class any transcript puts it in.
REGION_CLASSES = ("CDS", "UTR5", "UTR3", "ncRNA_exon", "intron", "promoter", "intergenic")
GENE_MODEL_FIELDS = (
    ("GENE", ".", "String", "Genes whose span overlaps the variant"),
    (
        "REGION",
        "1",
        "String",
        "Region class, first of CDS, UTR5, UTR3, ncRNA_exon, intron, promoter (1 kb upstream of"
        " a transcript start), intergenic that any transcript gives",
    ),
    (
        "EXON",
        ".",
        "String",
        "Exon number/exon count in the canonical (MANE where matched) transcript of each gene in"
        " GENE, aligned with GENE ('.' for a gene without an exon here)",
    ),
    ("STRAND", ".", "String", "Strand of each gene in GENE"),
    ("HGNC_NAME", ".", "String", "HGNC approved name of each gene in GENE (spaces as _)"),
)


def info_escape(text: str) -> str:
    """Make free text safe inside an INFO value (VCF 4.3 percent-encoding; spaces as _)."""
    return (
        text.replace("%", "%25")
        .replace(";", "%3B")
        .replace("=", "%3D")
        .replace(",", "%2C")
        .replace(":", "%3A")
        .replace("\t", "%09")
        .replace("\n", "%0A")
        .replace("\r", "%0D")
        .replace(" ", "_")
    )
