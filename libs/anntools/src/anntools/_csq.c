/* Writes VEP-layout CSQ entries: the text of every (allele, transcript) pair of a chunk, whose
 * terms and positions anntools.consequences has decided with numpy.
 *
 * Loaded with ctypes by anntools/native.py (no Python C API: plain arrays in, bytes out, the
 * GIL released for the call). Compiled by the package's build hook (hatch_build.py).
 * Writing the entries with numpy/Arrow took ~85% of an annotation's CPU: ~60 string pieces per
 * entry gathered by index; here each entry is one pass over its fields.
 */
#include <stdint.h>
#include <string.h>

/* A string array as Arrow keeps it: int32 offsets (already shifted by the array's offset). */
typedef struct {
    const uint8_t *data;
    const int32_t *offsets;
} pool_t;

enum { P_ALLELE, P_TERMS, P_STATIC, P_TAIL, P_PREFIX, P_REF, P_ALT, P_HGVSP, P_COUNT };

/* Per-pair int32 columns (every value fits: indices, bits, positions in a transcript, 5 kb
 * distances); the order is native.PAIR_COLUMNS. */
enum {
    C_ALLELE,      /* index into the allele pools */
    C_TERMS,       /* index into P_TERMS ("terms|IMPACT") */
    C_TX,          /* transcript: P_STATIC, P_TAIL, P_PREFIX */
    C_FLAGS,       /* F_* below */
    C_EXON,        /* EXON number (transcript order) */
    C_EXONS,       /* exon count */
    C_INTRON,      /* INTRON number */
    C_A_CDNA,      /* cDNA of the allele's left (genomic) end, or of its nearest exon base */
    C_B_CDNA,      /* the same for the right end */
    C_A_OFFSET,    /* HGVS intron offsets of the two ends (0 when exonic) */
    C_B_OFFSET,
    C_CODING_START, /* the transcript's coding span in cDNA (0: non-coding) */
    C_CODING_END,
    C_DISTANCE,    /* DISTANCE for up/downstream pairs */
    C_COUNT
};

enum {
    F_OUTSIDE = 1 << 0,    /* up- or downstream */
    F_HAS_EXON = 1 << 1,
    F_HAS_INTRON = 1 << 2,
    F_LOCATED = 1 << 3,    /* both ends in the transcript's exons or introns: HGVSc */
    F_INS = 1 << 4,
    F_SNV = 1 << 5,
    F_DELETION = 1 << 6,
    F_DELINS = 1 << 7,
    F_PLUS = 1 << 8,
    F_A_IN_EXON = 1 << 9,
    F_B_IN_EXON = 1 << 10,
};

static const char INTERGENIC[] = "|intergenic_variant|MODIFIER||||||||||||||||||||||";

/* Complements of the bases; N (and anything else) stays as it is. */
static const uint8_t COMPLEMENT[256] = {['A'] = 'T', ['C'] = 'G', ['G'] = 'C', ['T'] = 'A'};

static inline uint8_t complement(uint8_t base) { return COMPLEMENT[base] ? COMPLEMENT[base] : base; }

/* Copies ``length`` bytes: most pieces are a few bytes long, so short ones are moved as two
 * overlapping words (reading and writing only inside both ranges) instead of calling memcpy. */
static inline uint8_t *put(uint8_t *out, const void *text, int64_t length) {
    const uint8_t *source = text;
    if (length >= 8 && length <= 16) {
        uint64_t head, tail;
        memcpy(&head, source, 8);
        memcpy(&tail, source + length - 8, 8);
        memcpy(out, &head, 8);
        memcpy(out + length - 8, &tail, 8);
    } else if (length >= 4 && length < 8) {
        uint32_t head, tail;
        memcpy(&head, source, 4);
        memcpy(&tail, source + length - 4, 4);
        memcpy(out, &head, 4);
        memcpy(out + length - 4, &tail, 4);
    } else if (length < 4) {
        for (int64_t i = 0; i < length; i++) out[i] = source[i];
    } else {
        memcpy(out, source, (size_t)length);
    }
    return out + length;
}

static inline uint8_t *put_item(uint8_t *out, const pool_t *pool, int64_t index) {
    int32_t start = pool->offsets[index];
    return put(out, pool->data + start, pool->offsets[index + 1] - start);
}

static inline uint8_t *put_reverse_complement(uint8_t *out, const pool_t *pool, int64_t index) {
    int32_t start = pool->offsets[index], end = pool->offsets[index + 1];
    for (int32_t i = end - 1; i >= start; i--) *out++ = complement(pool->data[i]);
    return out;
}

static inline uint8_t *put_number(uint8_t *out, int64_t value) {
    char digits[24];
    int count = 0;
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    if (value < 0) *out++ = '-';
    do {
        digits[count++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    while (count) *out++ = (uint8_t)digits[--count];
    return out;
}

static inline int64_t floor_third(int64_t value) {
    int64_t quotient = value / 3;
    return (value % 3 != 0 && value < 0) ? quotient - 1 : quotient;
}

/* One end of an HGVSc position: 123, -12, *40, with an intron offset: 123+5, -12-3. */
static uint8_t *put_hgvs_end(uint8_t *out, int64_t cdna, int64_t offset, int64_t coding_start,
                             int64_t coding_end) {
    int64_t number = cdna;
    if (coding_start > 0) {
        if (cdna < coding_start) {
            *out++ = '-';
            number = coding_start - cdna;
        } else if (cdna > coding_end) {
            *out++ = '*';
            number = cdna - coding_end;
        } else {
            number = cdna - coding_start + 1;
        }
    }
    out = put_number(out, number);
    if (offset > 0) *out++ = '+';
    if (offset < 0) *out++ = '-';
    if (offset != 0) out = put_number(out, offset < 0 ? -offset : offset);
    return out;
}

/* VEP's position ranges: '12', '12-14', '?-14', '12-?' (low first), then '|'. */
static uint8_t *put_range(uint8_t *out, int64_t a, int a_valid, int64_t b, int b_valid,
                          int shown) {
    if (shown && (a_valid || b_valid)) {
        int swapped = a > b;
        int64_t low = swapped ? b : a, high = swapped ? a : b;
        int low_valid = swapped ? b_valid : a_valid, high_valid = swapped ? a_valid : b_valid;
        int same = low == high && low_valid && high_valid;
        if (low_valid)
            out = put_number(out, low);
        else
            *out++ = '?';
        if (!same) {
            *out++ = '-';
            if (high_valid)
                out = put_number(out, high);
            else
                *out++ = '?';
        }
    }
    *out++ = '|';
    return out;
}

static uint8_t *put_pair(uint8_t *out, const int32_t *const *columns, int64_t j,
                         const pool_t *pools) {
    int64_t allele = columns[C_ALLELE][j], tx = columns[C_TX][j];
    int64_t flags = columns[C_FLAGS][j];
    int plus = (flags & F_PLUS) != 0, outside = (flags & F_OUTSIDE) != 0;
    int64_t a_cdna = columns[C_A_CDNA][j], b_cdna = columns[C_B_CDNA][j];
    int64_t a_offset = columns[C_A_OFFSET][j], b_offset = columns[C_B_OFFSET][j];
    int64_t coding_start = columns[C_CODING_START][j], coding_end = columns[C_CODING_END][j];
    int coding = coding_start > 0;

    out = put_item(out, &pools[P_ALLELE], allele);
    *out++ = '|';
    out = put_item(out, &pools[P_TERMS], columns[C_TERMS][j]);
    *out++ = '|';
    out = put_item(out, &pools[P_STATIC], tx);
    *out++ = '|';
    if (flags & F_HAS_EXON) {
        out = put_number(out, columns[C_EXON][j]);
        *out++ = '/';
        out = put_number(out, columns[C_EXONS][j]);
    }
    *out++ = '|';
    if (flags & F_HAS_INTRON) {
        out = put_number(out, columns[C_INTRON][j]);
        *out++ = '/';
        out = put_number(out, columns[C_EXONS][j] - 1);
    }
    *out++ = '|';
    if (flags & F_LOCATED) {
        /* HGVSc: the 5' end (in the transcript's direction) first. */
        int single = a_cdna == b_cdna && a_offset == b_offset && !(flags & F_INS);
        out = put_item(out, &pools[P_PREFIX], tx);
        *out++ = coding ? 'c' : 'n';
        *out++ = '.';
        out = put_hgvs_end(out, plus ? a_cdna : b_cdna, plus ? a_offset : b_offset,
                           coding_start, coding_end);
        if (!single) {
            *out++ = '_';
            out = put_hgvs_end(out, plus ? b_cdna : a_cdna, plus ? b_offset : a_offset,
                               coding_start, coding_end);
        }
        if (flags & F_SNV) {
            out = plus ? put_item(out, &pools[P_REF], allele)
                       : put_reverse_complement(out, &pools[P_REF], allele);
            *out++ = '>';
        }
        if (flags & F_INS) out = put(out, "ins", 3);
        if (flags & (F_DELETION | F_DELINS)) out = put(out, "del", 3);
        if (flags & F_DELINS) out = put(out, "ins", 3);
        if (!(flags & F_DELETION))
            out = plus ? put_item(out, &pools[P_ALT], allele)
                       : put_reverse_complement(out, &pools[P_ALT], allele);
    }
    *out++ = '|';
    if (pools[P_HGVSP].data) out = put_item(out, &pools[P_HGVSP], j);
    *out++ = '|';

    /* cDNA_position, CDS_position, Protein_position */
    int a_in_exon = (flags & F_A_IN_EXON) != 0, b_in_exon = (flags & F_B_IN_EXON) != 0;
    int64_t cds_a = a_cdna - coding_start + 1, cds_b = b_cdna - coding_start + 1;
    int64_t cds_length = coding_end - coding_start + 1;
    int cds_a_valid = coding && a_in_exon && cds_a >= 1 && cds_a <= cds_length;
    int cds_b_valid = coding && b_in_exon && cds_b >= 1 && cds_b <= cds_length;
    out = put_range(out, a_cdna, a_in_exon, b_cdna, b_in_exon, !outside);
    out = put_range(out, cds_a, cds_a_valid, cds_b, cds_b_valid, !outside);
    out = put_range(out, floor_third(cds_a + 2), cds_a_valid, floor_third(cds_b + 2),
                    cds_b_valid, !outside);
    out = put(out, "|||", 3); /* Amino_acids, Codons, Existing_variation */
    if (outside) out = put_number(out, columns[C_DISTANCE][j]);
    *out++ = '|';
    return put_item(out, &pools[P_TAIL], tx);
}

/* ---- Pairs: the transcripts within 5 kb of each allele. ---- */

/* The genome axis cut into segments, each with the set of transcripts whose span +-5 kb covers
 * it (TranscriptModels' segment_starts, segment_sets, set_offsets, set_members). */
typedef struct {
    int64_t segments;
    const uint32_t *segment_starts;
    const int32_t *segment_sets;
    const int64_t *set_offsets;
    const int32_t *set_members;
} windows_t;

/* The segment holding ``position`` (the last one starting at or before it); ``hint`` is a
 * segment near it (a chunk's alleles come in genome order). */
static int64_t segment_at(const windows_t *w, int64_t position, int64_t hint) {
    uint32_t key = (uint32_t)position;
    const uint32_t *starts = w->segment_starts;
    if (hint >= 0 && hint < w->segments && starts[hint] <= key &&
        (hint + 1 == w->segments || key < starts[hint + 1]))
        return hint;
    int64_t low = 0, high = w->segments; /* the first segment starting after position */
    while (low < high) {
        int64_t middle = low + (high - low) / 2;
        if (starts[middle] <= key)
            low = middle + 1;
        else
            high = middle;
    }
    return low > 0 ? low - 1 : 0;
}

static int64_t set_size(const windows_t *w, int64_t set) {
    return w->set_offsets[set + 1] - w->set_offsets[set];
}

/* Per allele, the sets at its first and last base (``sets``: two per allele, what
 * ``csq_pairs`` reads) and at most how many pairs it gets (their sizes, once when they are
 * the same set). Returns the sum of the bounds. */
int64_t csq_pair_bounds(int64_t alleles, const int64_t *first, const int64_t *last,
                        const windows_t *w, int64_t *sets, int64_t *bound) {
    int64_t total = 0, segment = -1;
    for (int64_t i = 0; i < alleles; i++) {
        segment = segment_at(w, first[i], segment);
        int64_t low = w->segment_sets[segment];
        int64_t high = w->segment_sets[segment_at(w, last[i], segment)];
        sets[2 * i] = low;
        sets[2 * i + 1] = high;
        bound[i] = set_size(w, low) + (high != low ? set_size(w, high) : 0);
        total += bound[i];
    }
    return total;
}

/* Sorts ``values`` ascending and drops repeats; returns how many are left. */
static int64_t sort_unique(int64_t *values, int64_t count) {
    for (int64_t i = 1; i < count; i++) {
        int64_t value = values[i], at = i;
        while (at > 0 && values[at - 1] > value) {
            values[at] = values[at - 1];
            at--;
        }
        values[at] = value;
    }
    int64_t kept = count > 0;
    for (int64_t i = 1; i < count; i++)
        if (values[i] != values[kept - 1]) values[kept++] = values[i];
    return kept;
}

/* The (allele, transcript) pairs: each allele with the transcripts of its two sets (from
 * csq_pair_bounds), in transcript order without repeats. ``allele_of``/``tx_of`` hold room
 * for csq_pair_bounds' total. Returns the pairs written. */
int64_t csq_pairs(int64_t alleles, const int64_t *sets, const windows_t *w, int64_t *allele_of,
                  int64_t *tx_of) {
    int64_t written = 0;
    for (int64_t i = 0; i < alleles; i++) {
        int64_t low = sets[2 * i], high = sets[2 * i + 1];
        int64_t *members = tx_of + written, count = 0;
        for (int64_t m = w->set_offsets[low]; m < w->set_offsets[low + 1]; m++)
            members[count++] = w->set_members[m];
        if (high != low)
            for (int64_t m = w->set_offsets[high]; m < w->set_offsets[high + 1]; m++)
                members[count++] = w->set_members[m];
        count = sort_unique(members, count);
        for (int64_t k = 0; k < count; k++) allele_of[written + k] = i;
        written += count;
    }
    return written;
}

/* ---- Terms: where each allele falls on each transcript within 5 kb, as SO terms. ---- */

/* Bits of anntools.consequences.TERMS (VEP's order of severity). */
enum {
    T_SPLICE_ACCEPTOR = 1 << 0,
    T_SPLICE_DONOR = 1 << 1,
    T_STOP_GAINED = 1 << 2,
    T_FRAMESHIFT = 1 << 3,
    T_STOP_LOST = 1 << 4,
    T_START_LOST = 1 << 5,
    T_INFRAME_INSERTION = 1 << 6,
    T_INFRAME_DELETION = 1 << 7,
    T_MISSENSE = 1 << 8,
    T_SPLICE_REGION = 1 << 9,
    T_STOP_RETAINED = 1 << 10,
    T_SYNONYMOUS = 1 << 11,
    T_CODING_SEQUENCE = 1 << 12,
    T_UTR5 = 1 << 13,
    T_UTR3 = 1 << 14,
    T_NC_EXON = 1 << 15,
    T_INTRON = 1 << 16,
    T_NC_TRANSCRIPT = 1 << 17,
    T_UPSTREAM = 1 << 18,
    T_DOWNSTREAM = 1 << 19,
};

enum { TX_START_CODON = 4, TX_STOP_CODON = 8 }; /* consequences.START_CODON, STOP_CODON */
enum { UPSTREAM_BP = 5000, SPLICE_REGION_EXON_BP = 3, SPLICE_REGION_INTRON_BP = 8 };

/* TranscriptModels' arrays (anntools.consequences), in their bundle dtypes. */
typedef struct {
    const int64_t *tx_start, *tx_end;
    const int8_t *tx_strand;
    const uint8_t *tx_flags;
    const int64_t *exon_first, *exon_start, *exon_end, *exon_cum;
    const int32_t *coding_start, *coding_end;
    const int64_t *tx_length;
} models_t;

/* A chunk's alleles (anntools.consequences.Alleles). */
typedef struct {
    const int64_t *first, *last; /* the bases the allele touches (an insertion: its flanks) */
    const int64_t *ref_length, *alt_length;
    pool_t alt;
} alleles_t;

/* Where a genome position falls on a transcript (consequences.Located). */
typedef struct {
    int64_t exon; /* global exon index, clipped to the transcript's exons */
    int in_exon, intronic, exon_edge;
    int64_t cdna;   /* of the base (exonic) or of the nearest exon base (intronic) */
    int64_t offset; /* HGVS intron offset (0 when exonic) */
    int64_t from_donor, from_acceptor; /* intronic: 1-based from the intron's 5'/3' end */
} located_t;

static located_t locate(const models_t *m, int64_t t, int64_t p, int plus) {
    located_t at;
    int64_t first = m->exon_first[t], last = m->exon_first[t + 1] - 1;
    /* The last exon starting at or before p (first - 1 when none does). */
    int64_t low = first, high = last + 1;
    while (low < high) {
        int64_t middle = low + (high - low) / 2;
        if (m->exon_start[middle] <= p)
            low = middle + 1;
        else
            high = middle;
    }
    int64_t k = low - 1;
    int64_t k_in = k < first ? first : (k > last ? last : k);
    int64_t start = m->exon_start[k_in], end = m->exon_end[k_in];
    at.in_exon = k >= first && p < end;
    at.intronic = k >= first && k < last && !at.in_exon;
    int64_t cum = m->exon_cum[k_in];
    int64_t next_exon = k_in + 1 < last ? k_in + 1 : last;
    int64_t distance_left = p - (end - 1), distance_right = m->exon_start[next_exon] - p;
    int64_t left_cdna_offset = cum + (end - start) - 1;
    int use_left = plus ? distance_left <= distance_right : distance_left < distance_right;
    int64_t genomic_offset =
        at.in_exon ? cum + (p - start) : (use_left ? left_cdna_offset : left_cdna_offset + 1);
    at.cdna = plus ? genomic_offset + 1 : m->tx_length[t] - genomic_offset;
    /* Intronic bases after an exon (in the transcript's direction) are +, before one -. */
    int64_t offset = use_left ? distance_left : -distance_right;
    at.offset = at.intronic ? (plus ? offset : -offset) : 0;
    at.from_donor = at.intronic ? (plus ? distance_left : distance_right) : 0;
    at.from_acceptor = at.intronic ? (plus ? distance_right : distance_left) : 0;
    int near_start = p - start < SPLICE_REGION_EXON_BP && k_in > first;
    int near_end = end - 1 - p < SPLICE_REGION_EXON_BP && k_in < last;
    at.exon_edge = at.in_exon && (near_start || near_end);
    at.exon = k_in;
    return at;
}

/* cDNA of the exon base nearest inside the allele from an intronic/outside end: for the left
 * (genomic) end the next exon's first base, for the right end the previous exon's last. */
static int64_t inward_cdna(const models_t *m, int64_t t, const located_t *at, int plus,
                           int left_end) {
    int64_t first = m->exon_first[t], last = m->exon_first[t + 1] - 1, offset;
    if (left_end) {
        /* `exon` is clipped: before the first exon it is the first exon itself. */
        int before_first = !at->in_exon && !at->intronic && at->exon == first;
        int64_t k = before_first ? first : (at->exon + 1 < last ? at->exon + 1 : last);
        offset = m->exon_cum[k];
    } else {
        int64_t k = at->exon;
        offset = m->exon_cum[k] + (m->exon_end[k] - m->exon_start[k]) - 1;
    }
    return plus ? offset + 1 : m->tx_length[t] - offset;
}

static int interior(const located_t *at) {
    return at->intronic && at->from_donor > 2 && at->from_acceptor > 2;
}

static int splice_site(const located_t *at, int donor) {
    int64_t distance = donor ? at->from_donor : at->from_acceptor;
    return at->intronic && distance >= 1 && distance <= 2;
}

static int splice_region(const located_t *at) {
    int64_t donor = at->from_donor, acceptor = at->from_acceptor;
    int intronic = at->intronic && ((donor >= 3 && donor <= SPLICE_REGION_INTRON_BP) ||
                                    (acceptor >= 3 && acceptor <= SPLICE_REGION_INTRON_BP));
    return intronic || at->exon_edge;
}

/* For each candidate pair (``allele[i]``, ``tx[i]``): its terms, and the columns the writer
 * needs (C_*, C_TERMS holding the term mask), for the pairs with a term (an allele within
 * 5 kb that does not only pass a transcript's end). Returns how many pairs were kept. */
int64_t csq_terms(int64_t candidates, const int64_t *allele_of, const int64_t *tx_of,
                  const alleles_t *alleles, const models_t *m, int32_t *const *columns) {
    int64_t kept = 0;
    for (int64_t i = 0; i < candidates; i++) {
        int64_t allele = allele_of[i], t = tx_of[i];
        int64_t a = alleles->first[allele], b = alleles->last[allele];
        int64_t ref_length = alleles->ref_length[allele];
        int64_t alt_length = alleles->alt_length[allele];
        int ins = ref_length == 0;
        int64_t tx_start = m->tx_start[t], tx_end = m->tx_end[t];
        int before = b < tx_start, after = a >= tx_end;
        int64_t distance = before ? tx_start - b : (after ? a - tx_end + 1 : 0);
        /* A transcript without exons (none is built so) has nothing to place an allele on. */
        if (distance > UPSTREAM_BP || m->exon_first[t + 1] <= m->exon_first[t]) continue;
        int plus = m->tx_strand[t] > 0, outside = before || after;
        located_t at_a = locate(m, t, a, plus);
        located_t at_b = b == a ? at_a : locate(m, t, b, plus); /* an SNV's ends are one base */
        int64_t coding_start = m->coding_start[t], coding_end = m->coding_end[t];
        int coding = coding_start > 0;
        int64_t first_exon = m->exon_first[t], last_exon = m->exon_first[t + 1] - 1;
        uint32_t mask = 0;

        if (outside) {
            int upstream = (before && plus) || (after && !plus);
            mask |= upstream ? T_UPSTREAM : T_DOWNSTREAM;
        }
        /* Exonic part: the cDNA range of the exonic bases the allele touches. */
        int64_t first_base = at_a.in_exon ? at_a.cdna : inward_cdna(m, t, &at_a, plus, 1);
        int64_t last_base = at_b.in_exon ? at_b.cdna : inward_cdna(m, t, &at_b, plus, 0);
        int exonic = !outside && (at_a.in_exon || at_b.in_exon || at_b.exon > at_a.exon);
        exonic = exonic && !(!at_a.in_exon && !at_b.in_exon && at_b.exon == at_a.exon);
        int64_t low = first_base < last_base ? first_base : last_base;
        int64_t high = first_base < last_base ? last_base : first_base;
        int touches_coding = exonic && coding && high >= coding_start && low <= coding_end;
        /* An insertion beside a coding base is coding (NCBI: a frameshift), not UTR. */
        int touches_5utr = exonic && coding && low < coding_start && !(ins && touches_coding);
        int touches_3utr = exonic && coding && high > coding_end && !(ins && touches_coding);
        if (touches_5utr) mask |= T_UTR5;
        if (touches_3utr) mask |= T_UTR3;
        if (exonic && !coding) mask |= T_NC_EXON;

        /* Introns: interior bases (not the 2-base splice sites); an insertion needs both
         * flanks. */
        int spans_intron = !ins && at_b.exon > at_a.exon &&
                           !(at_a.in_exon && at_b.in_exon && at_a.exon == at_b.exon);
        int intron_any = ins ? interior(&at_a) && interior(&at_b)
                             : interior(&at_a) || interior(&at_b) || spans_intron;
        if (intron_any && !outside) mask |= coding ? T_INTRON : T_INTRON | T_NC_TRANSCRIPT;

        /* Splice sites and regions. */
        int crosses_right =
            !ins && at_a.in_exon && b >= m->exon_end[at_a.exon] && at_a.exon < last_exon;
        int crosses_left =
            !ins && at_b.in_exon && a < m->exon_start[at_b.exon] && at_b.exon > first_exon;
        int whole_exon = !ins && at_a.intronic && at_b.intronic && at_b.exon > at_a.exon;
        /* The genomic right end of an exon is a donor on the plus strand, an acceptor on
         * minus. */
        int donor_cross = (plus ? crosses_right : crosses_left) || whole_exon;
        int acceptor_cross = (plus ? crosses_left : crosses_right) || whole_exon;
        int donor = ins ? splice_site(&at_a, 1) && splice_site(&at_b, 1)
                        : splice_site(&at_a, 1) || splice_site(&at_b, 1);
        int acceptor = ins ? splice_site(&at_a, 0) && splice_site(&at_b, 0)
                           : splice_site(&at_a, 0) || splice_site(&at_b, 0);
        if (!outside && (donor || donor_cross)) mask |= T_SPLICE_DONOR;
        if (!outside && (acceptor || acceptor_cross)) mask |= T_SPLICE_ACCEPTOR;
        if (!outside &&
            (splice_region(&at_a) || splice_region(&at_b) || crosses_left || crosses_right))
            mask |= T_SPLICE_REGION;

        /* Coding: frameshift/in-frame when the change lies within coding exon bases. */
        int inside_coding =
            touches_coding &&
            (ins ? at_a.in_exon || at_b.in_exon : at_a.in_exon && at_b.in_exon) &&
            (at_a.exon == at_b.exon || ins) &&
            (ins || (low >= coding_start && high <= coding_end));
        int64_t net = alt_length - ref_length;
        int frameshift = inside_coding && net % 3 != 0;
        int inframe_ins = inside_coding && net != 0 && net % 3 == 0 && net > 0;
        int inframe_del = inside_coding && net != 0 && net % 3 == 0 && net < 0;
        if (frameshift) mask |= T_FRAMESHIFT;
        if (inframe_ins) mask |= T_INFRAME_INSERTION;
        if (inframe_del) mask |= T_INFRAME_DELETION;
        uint8_t tx_flags = m->tx_flags[t];
        int start_codon = touches_coding && (tx_flags & TX_START_CODON) &&
                          low <= coding_start + 2 &&
                          (!ins || (low >= coding_start && high <= coding_start + 2));
        if (start_codon) mask |= T_START_LOST;
        int snv = ref_length == 1 && alt_length == 1;
        /* SNVs in a stop codon (TAA/TAG/TGA) that surely lose it: any change of its first
         * base, and a change to C or T elsewhere (a change to A or G may keep a stop). */
        int stop_lost = 0;
        if (snv && touches_coding && (tx_flags & TX_STOP_CODON) && low >= coding_end - 2) {
            uint8_t base = alleles->alt.data[alleles->alt.offsets[allele]];
            uint8_t transcribed = plus ? base : complement(base);
            stop_lost = low - (coding_end - 2) == 0 || transcribed == 'C' || transcribed == 'T';
        }
        if (stop_lost) mask |= T_STOP_LOST;
        int decided = frameshift || inframe_ins || inframe_del || start_codon || stop_lost;
        if (touches_coding && !decided) mask |= T_CODING_SEQUENCE;
        if (!mask) continue;

        int deletion = !ins && alt_length == 0;
        int has_exon = !outside && (at_a.in_exon || at_b.in_exon);
        int has_intron = !outside && !has_exon && (at_a.intronic || at_b.intronic);
        int located = !outside && (at_a.in_exon || at_a.intronic) &&
                      (at_b.in_exon || at_b.intronic);
        int64_t exons = last_exon - first_exon + 1;
        int64_t exon_index = (at_a.in_exon ? at_a.exon : at_b.exon) - first_exon;
        int64_t intron_index = (at_a.intronic ? at_a.exon : at_b.exon) - first_exon;
        int64_t flags = (outside ? F_OUTSIDE : 0) | (has_exon ? F_HAS_EXON : 0) |
                        (has_intron ? F_HAS_INTRON : 0) | (located ? F_LOCATED : 0) |
                        (ins ? F_INS : 0) | (snv ? F_SNV : 0) | (deletion ? F_DELETION : 0) |
                        (!ins && !deletion && !snv ? F_DELINS : 0) | (plus ? F_PLUS : 0) |
                        (at_a.in_exon ? F_A_IN_EXON : 0) | (at_b.in_exon ? F_B_IN_EXON : 0);
        columns[C_ALLELE][kept] = (int32_t)(allele);
        columns[C_TERMS][kept] = (int32_t)(mask);
        columns[C_TX][kept] = (int32_t)(t);
        columns[C_FLAGS][kept] = (int32_t)(flags);
        columns[C_EXON][kept] = (int32_t)(plus ? exon_index + 1 : exons - exon_index);
        columns[C_EXONS][kept] = (int32_t)(exons);
        columns[C_INTRON][kept] = (int32_t)(plus ? intron_index + 1 : exons - 1 - intron_index);
        columns[C_A_CDNA][kept] = (int32_t)(at_a.cdna);
        columns[C_B_CDNA][kept] = (int32_t)(at_b.cdna);
        columns[C_A_OFFSET][kept] = (int32_t)(at_a.offset);
        columns[C_B_OFFSET][kept] = (int32_t)(at_b.offset);
        columns[C_CODING_START][kept] = (int32_t)(coding_start);
        columns[C_CODING_END][kept] = (int32_t)(coding_end);
        columns[C_DISTANCE][kept] = (int32_t)(distance);
        kept++;
    }
    return kept;
}

int64_t csq_column_count(void) { return C_COUNT; }

/* The rules' constants and the term bits, for a test to hold against anntools.consequences. */
void csq_rules(int64_t *out) {
    const int64_t rules[] = {UPSTREAM_BP,     SPLICE_REGION_EXON_BP, SPLICE_REGION_INTRON_BP,
                             TX_START_CODON,  TX_STOP_CODON,         T_SPLICE_ACCEPTOR,
                             T_SPLICE_DONOR,  T_FRAMESHIFT,          T_STOP_LOST,
                             T_START_LOST,    T_INFRAME_INSERTION,   T_INFRAME_DELETION,
                             T_SPLICE_REGION, T_CODING_SEQUENCE,     T_UTR5,
                             T_UTR3,          T_NC_EXON,             T_INTRON,
                             T_NC_TRANSCRIPT, T_UPSTREAM,            T_DOWNSTREAM};
    memcpy(out, rules, sizeof(rules));
}

/* An upper bound of one pair entry's bytes beyond its pool strings (numbers, separators). */
int64_t csq_pair_overhead(void) { return 24 * 16 + 64; }

/* A chunk's CSQ entries: entry k is pair ``order[k]`` (or, from ``pairs`` on, an intergenic
 * entry for allele ``lonely[order[k] - pairs]``); ``order`` may be NULL (entry k is pair k). */
typedef struct {
    const int64_t *order;
    int64_t pairs;
    const int32_t *const *columns;
    const int64_t *lonely;
    const pool_t *pools;
} entries_t;

/* Entries ``first``..``stop`` - 1 (one record's), as its CSQ field: "CSQ=" then the entries,
 * ','-separated. */
static uint8_t *put_entries(uint8_t *cursor, const entries_t *e, int64_t first, int64_t stop) {
    for (int64_t k = first; k < stop; k++) {
        int64_t j = e->order ? e->order[k] : k;
        cursor = k == first ? put(cursor, "CSQ=", 4) : put(cursor, ",", 1);
        if (j < e->pairs) {
            cursor = put_pair(cursor, e->columns, j, e->pools);
        } else {
            cursor = put_item(cursor, &e->pools[P_ALLELE], e->lonely[j - e->pairs]);
            cursor = put(cursor, INTERGENIC, sizeof(INTERGENIC) - 1);
        }
    }
    return cursor;
}

/* ---- Output lines: the input's pieces with the new ID and INFO values put in. ---- */

/* A chunk's output lines (engine._assemble): the five pieces each input line is cut into
 * (``CHROM\tPOS\t`` | ID | ``\tREF..FILTER\t`` | INFO | the rest with '\n'), and columns of new
 * values, at most one per line each: line i gets item ``index[c][i]`` of ``pools[c]`` (-1:
 * none). The ID columns come first, then the INFO ones. */
typedef struct {
    int64_t lines;
    pool_t pieces;
    pool_t info; /* every line's INFO, replacing piece 3; data NULL: the input's */
    const uint8_t *id_present;
    const uint8_t *info_present;
    int64_t id_columns;
    int64_t info_columns;
    const pool_t *pools;
    const int32_t *const *index;
    /* The CSQ column (-1: none), written from the entries themselves: its index is each
     * line's first entry, ``csq_stop`` one past its last. */
    int64_t csq_column;
    const entries_t *csq;
    const int32_t *csq_stop;
} lines_t;

/* Item ``index`` of ``pool`` at ``out + at`` (only measured when ``out`` is NULL). */
static inline int64_t emit(uint8_t *out, int64_t at, const pool_t *pool, int64_t index) {
    int32_t start = pool->offsets[index], length = pool->offsets[index + 1] - start;
    if (out) put(out + at, pool->data + start, length);
    return at + length;
}

static inline int64_t emit_byte(uint8_t *out, int64_t at, uint8_t byte) {
    if (out) out[at] = byte;
    return at + 1;
}

/* Columns ``first``.. of line i, ';'-separated and after the input's value when ``*filled``
 * (which is then set when any is written). */
static inline int64_t emit_values(const lines_t *l, int64_t first, int64_t columns, int64_t i,
                                  int *filled, uint8_t *out, int64_t at) {
    for (int64_t c = first; c < first + columns; c++) {
        int32_t item = l->index[c][i];
        if (item < 0) continue;
        if (*filled) at = emit_byte(out, at, ';');
        if (c == l->csq_column) /* measured apart (assemble_lines) */
            at = out ? put_entries(out + at, l->csq, item, l->csq_stop[i]) - out : at;
        else
            at = emit(out, at, &l->pools[c], item);
        *filled = 1;
    }
    return at;
}

static int64_t emit_line(const lines_t *l, int64_t i, uint8_t *out, int64_t at) {
    const pool_t *pieces = &l->pieces;
    at = emit(out, at, pieces, 5 * i);
    /* ID: the input's, then ours; the input's '.' only when nothing is added. */
    int has_id = l->id_present[i], added = 0;
    for (int64_t c = 0; c < l->id_columns; c++) added |= l->index[c][i] >= 0;
    if (has_id || !added) at = emit(out, at, pieces, 5 * i + 1);
    at = emit_values(l, 0, l->id_columns, i, &has_id, out, at);
    at = emit(out, at, pieces, 5 * i + 2);
    /* INFO: the input's (or its replacement), then ours; '.' when empty. */
    int has_info = l->info_present[i];
    if (has_info) at = l->info.data ? emit(out, at, &l->info, i) : emit(out, at, pieces, 5 * i + 3);
    at = emit_values(l, l->id_columns, l->info_columns, i, &has_info, out, at);
    if (!has_info) at = emit_byte(out, at, '.');
    return emit(out, at, pieces, 5 * i + 4);
}

/* Writes every line into ``out`` and returns the bytes written; with ``out`` NULL, only
 * counts them, leaving out the CSQ entries (the caller adds their bound: their numbers are
 * measured only by writing them). */
int64_t assemble_lines(const lines_t *l, uint8_t *out) {
    int64_t at = 0;
    for (int64_t i = 0; i < l->lines; i++) at = emit_line(l, i, out, at);
    return at;
}

/* ---- Alleles: the ALT alleles of a chunk's records, as VEP's minimal alleles. ---- */

static inline int plain_base(uint8_t c) {
    c = (uint8_t)(c & ~0x20); /* upper case */
    return c == 'A' || c == 'C' || c == 'G' || c == 'T' || c == 'N';
}

static inline int plain_allele(const uint8_t *text, int64_t start, int64_t end) {
    if (end <= start) return 0;
    for (int64_t i = start; i < end; i++)
        if (!plain_base(text[i])) return 0;
    return 1;
}

static inline uint8_t *put_upper(uint8_t *out, const uint8_t *text, int64_t start, int64_t end) {
    for (int64_t i = start; i < end; i++) *out++ = (uint8_t)(text[i] & ~0x20);
    return out;
}

/* Upper bounds for csq_alleles' outputs: out[0] alleles, out[1] REF bytes, out[2] ALT bytes. */
void csq_allele_bounds(const uint8_t *text, int64_t rows, const int64_t *ref_start,
                       const int64_t *ref_end, const int64_t *alt_start, const int64_t *alt_end,
                       int64_t *out) {
    int64_t alleles = 0, ref_bytes = 0, alt_bytes = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t count = 1;
        for (int64_t i = alt_start[r]; i < alt_end[r]; i++) count += text[i] == ',';
        alleles += count;
        ref_bytes += count * (ref_end[r] - ref_start[r]);
        alt_bytes += alt_end[r] - alt_start[r];
    }
    out[0] = alleles;
    out[1] = ref_bytes;
    out[2] = alt_bytes + alleles; /* '-' for a deletion in the Allele text */
}

/* Every ALT allele of the rows whose REF and ALT are plain bases (ACGTN, any case; '*',
 * symbolic and IUPAC alleles get no consequences), upper-cased and with a shared first base
 * trimmed (VEP's minimal allele) when either is longer than one base. Per allele: its row,
 * ``trim`` (0/1), the trimmed REF/ALT as strings (offsets and bytes), and VEP's Allele text
 * (the ALT, or '-' for a deletion). Returns the number of alleles. */
int64_t csq_alleles(const uint8_t *text, int64_t rows, const int64_t *ref_start,
                    const int64_t *ref_end, const int64_t *alt_start, const int64_t *alt_end,
                    int64_t *row_of, int64_t *trim_of, int32_t *ref_offsets, uint8_t *ref_data,
                    int32_t *alt_offsets, uint8_t *alt_data, int32_t *allele_offsets,
                    uint8_t *allele_data) {
    int64_t alleles = 0;
    uint8_t *ref_out = ref_data, *alt_out = alt_data, *allele_out = allele_data;
    ref_offsets[0] = alt_offsets[0] = allele_offsets[0] = 0;
    for (int64_t r = 0; r < rows; r++) {
        int64_t rs = ref_start[r], re = ref_end[r];
        int ref_plain = plain_allele(text, rs, re);
        int64_t begin = alt_start[r];
        for (int64_t i = alt_start[r]; i <= alt_end[r]; i++) {
            if (i < alt_end[r] && text[i] != ',') continue;
            int64_t end = i;
            if (ref_plain && plain_allele(text, begin, end)) {
                int64_t ref_length = re - rs, alt_length = end - begin;
                int same_first = (text[rs] & ~0x20) == (text[begin] & ~0x20);
                int trim = same_first && (ref_length > 1 || alt_length > 1);
                row_of[alleles] = r;
                trim_of[alleles] = trim;
                ref_out = put_upper(ref_out, text, rs + trim, re);
                alt_out = put_upper(alt_out, text, begin + trim, end);
                if (alt_length - trim > 0)
                    allele_out = put_upper(allele_out, text, begin + trim, end);
                else
                    *allele_out++ = '-';
                alleles++;
                ref_offsets[alleles] = (int32_t)(ref_out - ref_data);
                alt_offsets[alleles] = (int32_t)(alt_out - alt_data);
                allele_offsets[alleles] = (int32_t)(allele_out - allele_data);
            }
            begin = i + 1;
        }
    }
    return alleles;
}

/* ---- Lines: the column boundaries of a chunk of VCF records. ---- */

/* For each line (``line_ends``: each line's '\n'), the first ``wanted`` tabs (``tabs``: 8 per
 * line; with only 8 columns the 8th is the line's end) and POS. Returns 0, or 1 when the chunk
 * has anything unusual: a NUL byte, a line without exactly ``columns - 1`` tabs, an empty
 * CHROM/REF/ALT, or a POS that is not 1 to 18 plain digits with a value of at least 1. The
 * caller then splits it the slow way, which explains the error or handles the case. */
int64_t vcf_columns(const uint8_t *text, int64_t size, int64_t lines, const int64_t *line_ends,
                    int64_t columns, int64_t *tabs, int64_t *positions) {
    if (memchr(text, 0, (size_t)size)) return 1;
    int64_t wanted = columns - 1 < 8 ? columns - 1 : 8;
    int64_t start = 0;
    for (int64_t i = 0; i < lines; i++) {
        int64_t end = line_ends[i], found = 0, *row = tabs + 8 * i;
        const uint8_t *cursor = text + start, *stop = text + end;
        while (cursor < stop) {
            const uint8_t *tab = memchr(cursor, '\t', (size_t)(stop - cursor));
            if (!tab) break;
            if (found < wanted) row[found] = tab - text;
            found++;
            if (found > columns - 1) return 1;
            cursor = tab + 1;
            if (found == wanted && wanted == columns - 1) {
                /* every column's tab found: the rest of the line must have none */
                if (memchr(cursor, '\t', (size_t)(stop - cursor))) return 1;
                break;
            }
        }
        if (found != columns - 1) return 1;
        if (wanted < 8) row[7] = end;
        if (row[0] - start < 1 || row[3] - row[2] - 1 < 1 || row[4] - row[3] - 1 < 1) return 1;
        int64_t digits = row[1] - row[0] - 1, value = 0;
        if (digits < 1 || digits > 18) return 1;
        for (int64_t k = row[0] + 1; k < row[1]; k++) {
            uint8_t c = text[k];
            if (c < '0' || c > '9') return 1;
            value = value * 10 + (c - '0');
        }
        if (value < 1) return 1;
        positions[i] = value;
        start = end + 1;
    }
    return 0;
}

/* ---- Sorted search: numpy's searchsorted for the ascending queries of a sorted VCF. ---- */

/* For each query, how many of the ``n`` ascending ``values`` are below it (``right``: at or
 * below it), numpy's ``searchsorted`` with side left/right. Each search starts from the previous
 * answer and widens by doubling steps, so ascending queries (a chunk of a sorted VCF) cost
 * about log2 of the distance between neighbours instead of log2(n); a query below the previous
 * one is searched in full. */
void search_sorted_u32(const uint32_t *values, int64_t n, const uint32_t *queries, int64_t m,
                       int right, int64_t *out) {
    int64_t at = 0;
    uint32_t previous = 0;
    for (int64_t i = 0; i < m; i++) {
        uint32_t q = queries[i];
        int64_t low, high;
        if (i > 0 && q >= previous) {
            /* values[at - 1] is below the previous query, so below q: gallop from at. */
            low = at;
            int64_t step = 1;
            high = at;
            while (high < n && (right ? values[high] <= q : values[high] < q)) {
                low = high + 1;
                high = at + step;
                step <<= 1;
            }
            if (high > n) high = n;
        } else {
            low = 0;
            high = n;
        }
        while (low < high) { /* the first index in [low, high) not below q */
            int64_t middle = low + (high - low) / 2;
            if (right ? values[middle] <= q : values[middle] < q)
                low = middle + 1;
            else
                high = middle;
        }
        out[i] = at = low;
        previous = q;
    }
}
