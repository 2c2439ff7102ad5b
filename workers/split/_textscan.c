/* One-pass scanners for the splitter (optional: workers/split/records.py falls back to
 * pure Python when this module is not built, with the same results).
 *
 * scan(data, start=0, end=None) -> (parity, newlines, rows)
 *     Quote parity at ``end`` of data[start:end] (start at a record boundary), its
 *     newlines, and the newlines that end a record (even parity before them).
 * last_boundary(data, start, end) -> (cut, newlines, rows)
 *     The end of the last whole record in data[start:end], with the newlines and
 *     rows of data[start:cut]; cut == start when no record ends in the range.
 * clean(data, start=0, end=None) -> bool
 *     Whether data[start:end] holds no NUL byte and is valid UTF-8 (as strict as
 *     bytes.decode("utf-8"): no overlongs, no surrogates, nothing above U+10FFFF).
 *
 * first_problem(data, start, end, delimiter) -> None or (kind, record_start, offset)
 *     The first record in data[start:end] (start at a record boundary) that cannot be
 *     passed on as it is: 1 blank line (offset: the record start), 2 CR outside quotes
 *     not followed by LF, 3 a quote opening mid-field (previous byte not the delimiter,
 *     LF, a closing quote or the record start), 4 a closing quote followed by anything
 *     but the delimiter, LF, CR or a quote. ``end`` counts as the end of the data (a CR
 *     or closing quote just before it is fine). ``record_start`` is where the record
 *     holding ``offset`` starts. The rules are spelled out in workers/split/records.py.
 *
 * plan(data, start, end, delimiter, grain, spans=False) -> (first_problem, pieces, clean)
 *     The same scan, also cutting data[start:stop] (stop: the problem's record start,
 *     else the last record end) into pieces: each ends at the last record end within
 *     ``grain`` bytes of the previous one (or the first end after, for a longer
 *     record); (end, newlines, rows) each. ``clean``: whether data[start:end] holds no
 *     NUL byte and is valid UTF-8, None when a problem ended the scan early. One pass
 *     instead of three. With ``spans``, a fourth item: line_spans of data[start:last cut],
 *     made in the same pass (the split's line index).
 *
 * line_spans(data, start=0, end=None) -> bytes
 *     For each record of data[start:end] (start at a record boundary) that ends in the
 *     range, the number of lines it spans (its newlines, at least 1), as an unsigned
 *     LEB128 varint: one byte per record of fewer than 128 lines. A record left open
 *     at ``end`` is not counted. The split's line index (workers/split/line_index.py)
 *     is built from these.
 *
 * implementations() -> names; use(name) -> previous name
 *     The instruction sets usable here (fastest first, chosen at import) and a way
 *     to pick another (tests run every one).
 *
 * ``data`` is any contiguous buffer (bytes, bytearray, memoryview). Work goes 64
 * bytes at a time as bit masks (AVX2 compares on x86-64 CPUs that have them, eight
 * bytes to a 64-bit word elsewhere): quote parity is a prefix XOR of the quote mask, UTF-8 structure is
 * "continuation bytes exactly where lead bytes need them". The GIL is released
 * for big ranges so reading and writing threads run meanwhile.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define GIL_FREE_BYTES 65536

/* Bit masks of one 64-byte block: bit k describes byte k. */
typedef struct {
    uint64_t quote, newline;
} text_masks;

typedef struct {
    uint64_t zero, high, ge_c0, ge_e0, ge_f0, bad_lead, look;
} utf8_masks;

typedef struct {
    uint64_t quote, newline, cr, delimiter;
} problem_masks;

/* -- mask getters, one set per instruction set; both give the same masks ---------- */

/* Portable: eight bytes at a time in a 64-bit word (SWAR). Each test leaves the high
 * bit of every byte that passes; ``pack`` gathers those eight bits into one byte. */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define LOWS 0x7F7F7F7F7F7F7F7FULL

static inline uint64_t load8(const unsigned char *s)
{
    uint64_t v;
    memcpy(&v, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v; /* byte k of the word in bits 8k..8k+7 */
}

static inline uint64_t equal_bytes(uint64_t v, unsigned char c)
{
    uint64_t t = v ^ (ONES * c); /* zero bytes where v has c */
    return ~(((t & LOWS) + LOWS) | t) & HIGHS;
}

static inline uint64_t pack(uint64_t highs) { return ((highs >> 7) * 0x0102040810204080ULL) >> 56; }

static inline void text_masks_portable(const unsigned char *s, text_masks *m)
{
    uint64_t quote = 0, newline = 0;
    for (int k = 0; k < 8; k++) {
        uint64_t v = load8(s + 8 * k);
        quote |= pack(equal_bytes(v, '"')) << (8 * k);
        newline |= pack(equal_bytes(v, '\n')) << (8 * k);
    }
    m->quote = quote;
    m->newline = newline;
}

static inline void problem_masks_portable(const unsigned char *s, unsigned char delimiter,
                                          problem_masks *m)
{
    uint64_t quote = 0, newline = 0, cr = 0, delim = 0;
    for (int k = 0; k < 8; k++) {
        uint64_t v = load8(s + 8 * k);
        quote |= pack(equal_bytes(v, '"')) << (8 * k);
        newline |= pack(equal_bytes(v, '\n')) << (8 * k);
        cr |= pack(equal_bytes(v, '\r')) << (8 * k);
        delim |= pack(equal_bytes(v, delimiter)) << (8 * k);
    }
    m->quote = quote;
    m->newline = newline;
    m->cr = cr;
    m->delimiter = delim;
}

/* Only ``zero`` and ``high`` are set when no byte is >= 0x80 (then 0 is returned). */
static inline int utf8_masks_portable(const unsigned char *s, utf8_masks *m)
{
    uint64_t any_high = 0;
    memset(m, 0, sizeof(*m));
    for (int k = 0; k < 8; k++) {
        uint64_t v = load8(s + 8 * k);
        int at = 8 * k;
        m->zero |= pack(equal_bytes(v, 0)) << at;
        uint64_t high = v & HIGHS;
        any_high |= high;
        if (!high)
            continue;
        uint64_t c0 = v & (v << 1) & HIGHS, e0 = c0 & (v << 2), f0 = e0 & (v << 3);
        uint64_t nibble_ge5 = (((v & (ONES * 0x0F)) + ONES * 0x0B) << 3) & HIGHS;
        m->high |= pack(high) << at;
        m->ge_c0 |= pack(c0) << at;
        m->ge_e0 |= pack(e0) << at;
        m->ge_f0 |= pack(f0) << at;
        m->bad_lead |= pack((f0 & nibble_ge5) | equal_bytes(v & ~ONES, 0xC0)) << at;
        m->look |= pack(equal_bytes(v, 0xE0) | equal_bytes(v, 0xED) | equal_bytes(v, 0xF0) |
                        equal_bytes(v, 0xF4))
                   << at;
    }
    return any_high != 0;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define HAVE_X86 1
#include <immintrin.h>

/* AVX2 (x86-64 since 2013), chosen at import when the CPU has it. */
#define AVX2 __attribute__((target("avx2,popcnt,pclmul")))

/* prefix_xor in one carry-less multiply by all ones. */
AVX2 static inline uint64_t prefix_xor_clmul(uint64_t x)
{
    return (uint64_t)_mm_cvtsi128_si64(
        _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0));
}

AVX2 static inline uint64_t movemask2(__m256i a, __m256i b)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(a) |
           ((uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32);
}

#define AVX2_LOAD2(s)                                                             \
    __m256i w0 = _mm256_loadu_si256((const __m256i *)(s)),                        \
            w1 = _mm256_loadu_si256((const __m256i *)((s) + 32))
#define AVX2_MASK(op) movemask2(op(w0), op(w1))

AVX2 static inline void text_masks_avx2(const unsigned char *s, text_masks *m)
{
    AVX2_LOAD2(s);
    const __m256i quote = _mm256_set1_epi8('"'), newline = _mm256_set1_epi8('\n');
#define AVX2_QUOTE(v) _mm256_cmpeq_epi8(v, quote)
#define AVX2_NEWLINE(v) _mm256_cmpeq_epi8(v, newline)
    m->quote = AVX2_MASK(AVX2_QUOTE);
    m->newline = AVX2_MASK(AVX2_NEWLINE);
}

AVX2 static inline void problem_masks_avx2(const unsigned char *s, unsigned char delimiter,
                                           problem_masks *m)
{
    AVX2_LOAD2(s);
    const __m256i quote = _mm256_set1_epi8('"'), newline = _mm256_set1_epi8('\n'),
                  cr = _mm256_set1_epi8('\r'), delim = _mm256_set1_epi8((char)delimiter);
#define AVX2_CR(v) _mm256_cmpeq_epi8(v, cr)
#define AVX2_DELIM(v) _mm256_cmpeq_epi8(v, delim)
    m->quote = AVX2_MASK(AVX2_QUOTE);
    m->newline = AVX2_MASK(AVX2_NEWLINE);
    m->cr = AVX2_MASK(AVX2_CR);
    m->delimiter = AVX2_MASK(AVX2_DELIM);
}

AVX2 static inline int utf8_masks_avx2(const unsigned char *s, utf8_masks *m)
{
    AVX2_LOAD2(s);
    const __m256i zero = _mm256_setzero_si256();
#define AVX2_ZERO(v) _mm256_cmpeq_epi8(v, zero)
#define AVX2_SAME(v) (v)
    m->zero = AVX2_MASK(AVX2_ZERO);
    m->high = AVX2_MASK(AVX2_SAME);
    if (!m->high)
        return 0;
    /* Signed compares: bytes >= 0xC0 are -64..-1. */
    const __m256i c0 = _mm256_set1_epi8(-65), e0 = _mm256_set1_epi8(-33),
                  f0 = _mm256_set1_epi8(-17), f5 = _mm256_set1_epi8(-12),
                  fe = _mm256_set1_epi8((char)0xFE), xc0 = _mm256_set1_epi8((char)0xC0),
                  xe0 = _mm256_set1_epi8((char)0xE0), xed = _mm256_set1_epi8((char)0xED),
                  xf0 = _mm256_set1_epi8((char)0xF0), xf4 = _mm256_set1_epi8((char)0xF4);
#define AVX2_GE_C0(v) _mm256_cmpgt_epi8(v, c0)
#define AVX2_GE_E0(v) _mm256_cmpgt_epi8(v, e0)
#define AVX2_GE_F0(v) _mm256_cmpgt_epi8(v, f0)
#define AVX2_BAD(v)                                                               \
    _mm256_or_si256(_mm256_cmpgt_epi8(v, f5),                                     \
                    _mm256_cmpeq_epi8(_mm256_and_si256(v, fe), xc0))
#define AVX2_LOOK(v)                                                              \
    _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, xe0), _mm256_cmpeq_epi8(v, xed)), \
                    _mm256_or_si256(_mm256_cmpeq_epi8(v, xf0), _mm256_cmpeq_epi8(v, xf4)))
    m->ge_c0 = AVX2_MASK(AVX2_GE_C0) & m->high;
    m->ge_e0 = AVX2_MASK(AVX2_GE_E0) & m->high;
    m->ge_f0 = AVX2_MASK(AVX2_GE_F0) & m->high;
    m->bad_lead = AVX2_MASK(AVX2_BAD) & m->high;
    m->look = AVX2_MASK(AVX2_LOOK);
    return 1;
}
#endif

/* Bit k: XOR of bits 0..k (quote parity after byte k). */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

typedef struct {
    int parity;
    Py_ssize_t newlines, rows;
    Py_ssize_t cut, cut_newlines; /* cut: offset past the last record end, or 0 */
} scan_state;

/* ``prefix``: prefix_xor(m->quote), computed by the caller with its instruction set. */
static inline void scan_block(scan_state *r, const text_masks *m, uint64_t prefix,
                              Py_ssize_t offset)
{
    uint64_t inside = prefix ^ (r->parity ? ~(uint64_t)0 : 0);
    uint64_t ends = m->newline & ~inside;
    if (ends) {
        int last = 63 - __builtin_clzll(ends);
        r->rows += __builtin_popcountll(ends);
        r->cut = offset + last + 1;
        r->cut_newlines = r->newlines + __builtin_popcountll(m->newline & ((2ULL << last) - 1));
    }
    r->newlines += __builtin_popcountll(m->newline);
    r->parity = (int)(inside >> 63);
}

/* One unsigned LEB128 varint at ``out``; the bytes written. */
static inline Py_ssize_t put_varint(unsigned char *out, uint64_t value)
{
    Py_ssize_t k = 0;
    while (value >= 0x80) {
        out[k++] = (unsigned char)(value | 0x80);
        value >>= 7;
    }
    out[k++] = (unsigned char)value;
    return k;
}

/* -- first_problem: the state carried from one 64-byte block to the next ------------ */

enum { PROBLEM_NONE, PROBLEM_BLANK, PROBLEM_CR, PROBLEM_QUOTE_IN_FIELD, PROBLEM_AFTER_QUOTE };

typedef struct {
    uint64_t inside;  /* all ones inside a quoted field at the end of the last block */
    uint64_t allowed; /* last block's delimiter|newline|quote mask (bit 63: before this one) */
    uint64_t ends;    /* last block's record-ending newlines (bits 62, 63 used) */
    uint64_t cr;      /* last block's CRs outside quotes (bit 63 used) */
    Py_ssize_t record_start; /* of the problem's record (while scanning: last_end) */
    int kind;
    Py_ssize_t offset;
    /* Pieces (``plan``): cut at the last record end within ``grain`` bytes of the last
     * cut (or the first end after it, for a longer record). Offsets relative; 0: off. */
    Py_ssize_t grain, limit, cut, cut_newlines, cut_rows;
    Py_ssize_t last_end, last_newlines, last_rows, newlines, rows;
    Py_ssize_t *cuts; /* triples (end, newlines, rows) of the pieces so far */
    Py_ssize_t count, capacity;
    int failed; /* out of memory */
    int check;  /* in: also check NUL and UTF-8; out: 1 clean, 0 not, -1 unknown (a problem) */
    /* Line spans (``plan`` with spans): a varint per record ending, as line_spans gives,
     * into a buffer of the data's size plus 64 (a record of L lines has L newlines and a
     * varint of at most L bytes; the last store of a block may write 7 bytes past). */
    int want_spans;
    unsigned char *spans;
    Py_ssize_t spans_len, pending_lines;
} problem_state;

/* The lines each record ending in this block spans (``ends``: its record-ending newlines). */
static inline void emit_spans(problem_state *p, uint64_t ends, uint64_t newline)
{
    unsigned char *out = p->spans + p->spans_len;
    if (ends == newline && p->pending_lines == 0) { /* records of one line: a 01 byte each */
        const uint64_t ones = 0x0101010101010101ULL;
        int count = __builtin_popcountll(ends);
        for (int k = 0; k < count; k += 8)
            memcpy(out + k, &ones, 8);
        p->spans_len += count;
        return;
    }
    uint64_t consumed = 0;
    Py_ssize_t written = 0;
    for (uint64_t rest = ends; rest; rest &= rest - 1) {
        uint64_t upto = (2ULL << __builtin_ctzll(rest)) - 1; /* (bit 63: all ones) */
        Py_ssize_t lines = p->pending_lines + __builtin_popcountll(newline & upto & ~consumed);
        written += put_varint(out + written, (uint64_t)lines);
        p->pending_lines = 0;
        consumed = upto;
    }
    p->pending_lines += __builtin_popcountll(newline & ~consumed);
    p->spans_len += written;
}

static inline __attribute__((always_inline)) void emit_cut(problem_state *p, Py_ssize_t end,
                                                         Py_ssize_t newlines, Py_ssize_t rows)
{
    if (p->count == p->capacity) {
        Py_ssize_t capacity = p->capacity ? 2 * p->capacity : 64;
        Py_ssize_t *grown = realloc(p->cuts, (size_t)capacity * 3 * sizeof(Py_ssize_t));
        if (grown == NULL) {
            p->failed = 1;
            return;
        }
        p->cuts = grown;
        p->capacity = capacity;
    }
    Py_ssize_t *t = p->cuts + 3 * p->count++;
    t[0] = end;
    t[1] = newlines - p->cut_newlines;
    t[2] = rows - p->cut_rows;
    p->cut = end;
    p->cut_newlines = newlines;
    p->cut_rows = rows;
    p->limit = end + p->grain;
}

/* The record ends ``ends`` (a subset of ``newline``) of the block at ``offset``: the
 * last one seen (``last_end``, also the start of the record in progress) and, with a
 * grain, the pieces. Branch-free unless a piece ends in this block. */
static inline void plan_block(problem_state *p, uint64_t ends, uint64_t newline, Py_ssize_t offset)
{
    if (p->want_spans)
        emit_spans(p, ends, newline);
    if (p->grain && ends && offset + 64 > p->limit) { /* a piece may end here: one at a time */
        for (uint64_t rest = ends; rest; rest &= rest - 1) {
            int k = __builtin_ctzll(rest);
            uint64_t upto = (2ULL << k) - 1; /* (k == 63: all ones) */
            Py_ssize_t end = offset + k + 1;
            Py_ssize_t newlines = p->newlines + __builtin_popcountll(newline & upto);
            Py_ssize_t rows = p->rows + __builtin_popcountll(ends & upto);
            if (end > p->limit) {
                if (p->last_end > p->cut)
                    emit_cut(p, p->last_end, p->last_newlines, p->last_rows);
                if (end > p->limit) /* a record longer than a grain */
                    emit_cut(p, end, newlines, rows);
            }
            p->last_end = end;
            p->last_newlines = newlines;
            p->last_rows = rows;
        }
    } else {
        int k = 63 - __builtin_clzll(ends | 1);
        int any = ends != 0;
        Py_ssize_t newlines = p->newlines + __builtin_popcountll(newline & ((2ULL << k) - 1));
        Py_ssize_t rows = p->rows + __builtin_popcountll(ends);
        p->last_end = any ? offset + k + 1 : p->last_end;
        p->last_newlines = any ? newlines : p->last_newlines;
        p->last_rows = any ? rows : p->last_rows;
    }
    p->newlines += __builtin_popcountll(newline);
    p->rows += __builtin_popcountll(ends);
}

/* One block at ``offset``. ``next_close`` / ``next_lf`` (0 or 1): whether the byte after
 * the block's last byte lets a closing quote / a CR there stand; ``end`` has the bit of
 * the data's last byte when the data ends in this block (the end lets both stand).
 * Bytes past the end are NUL (none of quote, LF, CR, delimiter). 1 when a problem is found. */
static inline int problem_block(problem_state *p, const problem_masks *m, uint64_t prefix,
                                Py_ssize_t offset, uint64_t next_close, uint64_t next_lf,
                                uint64_t end)
{
    uint64_t quote = m->quote, newline = m->newline, cr = m->cr;
    uint64_t inside = prefix ^ p->inside;
    uint64_t opening = quote & inside, closing = quote & ~inside;
    uint64_t allowed = m->delimiter | newline | quote;
    uint64_t bad = opening & ~((allowed << 1) | (p->allowed >> 63));
    bad |= closing & ~(((allowed | cr) >> 1) | (next_close << 63) | end);
    uint64_t outside_cr = cr & ~inside;
    bad |= outside_cr & ~((newline >> 1) | (next_lf << 63) | end);
    uint64_t ends = newline & ~inside;
    uint64_t after_end = (ends << 1) | (p->ends >> 63), after_end2 = (ends << 2) | (p->ends >> 62);
    uint64_t after_cr = (outside_cr << 1) | (p->cr >> 63);
    uint64_t blank = ends & (after_end | (after_cr & after_end2));
    bad |= blank;
    if (bad) {
        int k = __builtin_ctzll(bad);
        plan_block(p, ends & ((1ULL << k) - 1), newline & ((1ULL << k) - 1), offset);
        p->record_start = p->last_end;
        uint64_t bit = 1ULL << k;
        p->kind = (blank & bit)     ? PROBLEM_BLANK
                  : (opening & bit) ? PROBLEM_QUOTE_IN_FIELD
                  : (closing & bit) ? PROBLEM_AFTER_QUOTE
                                    : PROBLEM_CR;
        p->offset = (blank & bit) ? p->record_start : offset + k;
        return 1;
    }
    plan_block(p, ends, newline, offset);
    p->inside = (inside >> 63) ? ~(uint64_t)0 : 0;
    p->allowed = allowed;
    p->ends = ends;
    p->cr = outside_cr;
    return 0;
}

static inline uint64_t lets_close(unsigned char c, unsigned char delimiter)
{
    return (uint64_t)((c == delimiter) | (c == '\n') | (c == '\r') | (c == '"')); /* no branches */
}

/* Lead bytes that need a look at the next byte: E0 (overlong), ED (surrogate),
 * F0 (overlong), F4 (above U+10FFFF). ``next`` is where the next byte is. */
static inline int look_ok(unsigned char lead, unsigned char next)
{
    switch (lead) {
    case 0xE0:
        return next >= 0xA0;
    case 0xED:
        return next < 0xA0;
    case 0xF0:
        return next >= 0x90;
    default: /* 0xF4 */
        return next < 0x90;
    }
}

/* Continuation bytes exactly where the lead bytes before them need them. */
static inline int utf8_block(const unsigned char *s, const utf8_masks *m, uint64_t valid,
                             uint64_t *carry)
{
    if (m->zero & valid)
        return 0;
    uint64_t high = m->high & valid;
    if (!high)
        return *carry == 0;
    uint64_t cont = high & ~m->ge_c0;
    uint64_t need = (m->ge_c0 << 1) | (m->ge_e0 << 2) | (m->ge_f0 << 3) | *carry;
    if (need != cont || (m->bad_lead & valid))
        return 0;
    *carry = (m->ge_c0 >> 63) | (m->ge_e0 >> 62) | (m->ge_f0 >> 61);
    for (uint64_t look = m->look & valid; look; look &= look - 1) {
        int k = __builtin_ctzll(look);
        if (k == 63)
            return -1; /* the next byte is in the next block: the caller checks it */
        if (!look_ok(s[k], s[k + 1]))
            return 0;
    }
    return 1;
}

/* -- the loops, once per instruction set, and the choice among them -------------- */

#define SUFFIX portable
#define TARGET
#define TEXT_MASKS text_masks_portable
#define UTF8_MASKS utf8_masks_portable
#define PROBLEM_MASKS problem_masks_portable
#define PREFIX_XOR prefix_xor
#include "_textscan_loops.h"

#ifdef HAVE_X86
#define SUFFIX avx2
#define TARGET AVX2
#define TEXT_MASKS text_masks_avx2
#define UTF8_MASKS utf8_masks_avx2
#define PROBLEM_MASKS problem_masks_avx2
#define PREFIX_XOR prefix_xor_clmul
#include "_textscan_loops.h"

static int has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt") &&
           __builtin_cpu_supports("pclmul");
}

#endif

static int always(void) { return 1; }

typedef struct {
    const char *name;
    void (*scan)(const unsigned char *, Py_ssize_t, scan_state *);
    int (*clean)(const unsigned char *, Py_ssize_t);
    void (*problem)(const unsigned char *, Py_ssize_t, unsigned char, problem_state *);
    Py_ssize_t (*spans)(const unsigned char *, Py_ssize_t, unsigned char *);
    int (*supported)(void);
} implementation;

/* Best first. */
static const implementation implementations[] = {
#ifdef HAVE_X86
    {"avx2", scan_bytes_avx2, clean_bytes_avx2, problem_bytes_avx2, spans_bytes_avx2, has_avx2},
#endif
    {"portable", scan_bytes_portable, clean_bytes_portable, problem_bytes_portable,
     spans_bytes_portable, always},
};
#define IMPLEMENTATIONS ((int)(sizeof(implementations) / sizeof(implementations[0])))

static const implementation *chosen = &implementations[IMPLEMENTATIONS - 1];

/* Parse (data, start=0, end=None) with Python slice clamping of start and end. */
static int parse_range(PyObject *args, Py_buffer *view, Py_ssize_t *start, Py_ssize_t *end)
{
    PyObject *end_obj = Py_None;
    *start = 0;
    if (!PyArg_ParseTuple(args, "y*|nO", view, start, &end_obj))
        return 0;
    Py_ssize_t len = view->len;
    if (end_obj == Py_None) {
        *end = len;
    } else {
        *end = PyNumber_AsSsize_t(end_obj, PyExc_OverflowError);
        if (*end == -1 && PyErr_Occurred()) {
            PyBuffer_Release(view);
            return 0;
        }
    }
    if (*start < 0)
        *start = *start + len < 0 ? 0 : *start + len;
    if (*end < 0)
        *end = *end + len < 0 ? 0 : *end + len;
    if (*start > len)
        *start = len;
    if (*end > len)
        *end = len;
    if (*end < *start)
        *end = *start;
    return 1;
}

static void run_scan(Py_buffer *view, Py_ssize_t start, Py_ssize_t end, scan_state *r)
{
    const unsigned char *s = (const unsigned char *)view->buf + start;
    Py_ssize_t n = end - start;
    if (n >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        chosen->scan(s, n, r);
        Py_END_ALLOW_THREADS
    } else {
        chosen->scan(s, n, r);
    }
}

/* Parse (data, start, end) and scan that range; 0, with an exception set, on bad arguments. */
static int scan_arguments(PyObject *args, scan_state *r, Py_ssize_t *start)
{
    Py_buffer view;
    Py_ssize_t end;
    if (!parse_range(args, &view, start, &end))
        return 0;
    run_scan(&view, *start, end, r);
    PyBuffer_Release(&view);
    return 1;
}

static PyObject *textscan_scan(PyObject *self, PyObject *args)
{
    Py_ssize_t start;
    scan_state r;
    if (!scan_arguments(args, &r, &start))
        return NULL;
    return Py_BuildValue("(inn)", r.parity, r.newlines, r.rows);
}

static PyObject *textscan_last_boundary(PyObject *self, PyObject *args)
{
    Py_ssize_t start;
    scan_state r;
    if (!scan_arguments(args, &r, &start))
        return NULL;
    return Py_BuildValue("(nnn)", start + r.cut, r.cut_newlines, r.cut ? r.rows : 0);
}

static PyObject *textscan_clean(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, end;
    int ok;
    if (!parse_range(args, &view, &start, &end))
        return NULL;
    const unsigned char *s = (const unsigned char *)view.buf + start;
    Py_ssize_t n = end - start;
    if (n >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        ok = chosen->clean(s, n);
        Py_END_ALLOW_THREADS
    } else {
        ok = chosen->clean(s, n);
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(ok);
}

static PyObject *textscan_line_spans(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t start, end;
    if (!parse_range(args, &view, &start, &end))
        return NULL;
    const unsigned char *s = (const unsigned char *)view.buf + start;
    Py_ssize_t n = end - start, written;
    /* At most one byte per byte: a record of c lines holds c bytes, its varint fewer.
     * Pages never written are never touched. */
    unsigned char *out = malloc((size_t)n + 16);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    if (n >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        written = chosen->spans(s, n, out);
        Py_END_ALLOW_THREADS
    } else {
        written = chosen->spans(s, n, out);
    }
    PyBuffer_Release(&view);
    PyObject *result = PyBytes_FromStringAndSize((const char *)out, written);
    free(out);
    return result;
}

/* first_problem(data, start, end, delimiter) and plan(data, start, end, delimiter, grain). */
static PyObject *problem_call(PyObject *args, int with_plan)
{
    Py_buffer view;
    Py_ssize_t start, end, grain = 0;
    const char *delimiter;
    Py_ssize_t delimiter_len;
    int want_spans = 0;
    if (with_plan) {
        if (!PyArg_ParseTuple(args, "y*nny#n|p", &view, &start, &end, &delimiter,
                              &delimiter_len, &grain, &want_spans))
            return NULL;
    } else if (!PyArg_ParseTuple(args, "y*nny#", &view, &start, &end, &delimiter,
                                 &delimiter_len)) {
        return NULL;
    }
    Py_ssize_t len = view.len;
    if (delimiter_len != 1 || (with_plan && grain < 1)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "one delimiter byte and a grain of at least 1, please");
        return NULL;
    }
    start = start < 0 ? 0 : (start > len ? len : start);
    end = end > len ? len : (end < start ? start : end);
    const unsigned char *s = (const unsigned char *)view.buf + start;
    Py_ssize_t n = end - start;
    problem_state p;
    memset(&p, 0, sizeof(p));
    p.grain = grain;
    p.limit = grain;
    p.check = with_plan;
    p.want_spans = want_spans;
    if (want_spans) {
        p.spans = malloc((size_t)n + 64); /* pages never written are never touched */
        if (p.spans == NULL) {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
    }
    if (n >= GIL_FREE_BYTES) {
        Py_BEGIN_ALLOW_THREADS
        chosen->problem(s, n, (unsigned char)delimiter[0], &p);
        Py_END_ALLOW_THREADS
    } else {
        chosen->problem(s, n, (unsigned char)delimiter[0], &p);
    }
    PyBuffer_Release(&view);
    PyObject *problem = NULL, *cuts = NULL, *result = NULL;
    if (p.failed) {
        PyErr_NoMemory();
        goto out;
    }
    if (p.kind == PROBLEM_NONE) {
        problem = Py_NewRef(Py_None);
    } else {
        problem = Py_BuildValue("(inn)", p.kind, start + p.record_start, start + p.offset);
        if (problem == NULL)
            goto out;
    }
    if (!with_plan) {
        result = Py_NewRef(problem);
        goto out;
    }
    cuts = PyList_New(p.count);
    if (cuts == NULL)
        goto out;
    for (Py_ssize_t k = 0; k < p.count; k++) {
        Py_ssize_t *t = p.cuts + 3 * k;
        PyObject *cut = Py_BuildValue("(nnn)", start + t[0], t[1], t[2]);
        if (cut == NULL)
            goto out;
        PyList_SET_ITEM(cuts, k, cut);
    }
    PyObject *clean = p.check < 0 ? Py_None : (p.check ? Py_True : Py_False);
    if (want_spans) {
        PyObject *spans = PyBytes_FromStringAndSize((const char *)p.spans, p.spans_len);
        if (spans == NULL)
            goto out;
        result = PyTuple_Pack(4, problem, cuts, clean, spans);
        Py_DECREF(spans);
    } else {
        result = PyTuple_Pack(3, problem, cuts, clean);
    }
out:
    free(p.cuts);
    free(p.spans);
    Py_XDECREF(problem);
    Py_XDECREF(cuts);
    return result;
}

static PyObject *textscan_first_problem(PyObject *self, PyObject *args)
{
    return problem_call(args, 0);
}

static PyObject *textscan_plan(PyObject *self, PyObject *args) { return problem_call(args, 1); }

static PyObject *textscan_implementations(PyObject *self, PyObject *unused)
{
    PyObject *names = PyList_New(0);
    if (names == NULL)
        return NULL;
    for (int k = 0; k < IMPLEMENTATIONS; k++) {
        if (!implementations[k].supported())
            continue;
        PyObject *name = PyUnicode_FromString(implementations[k].name);
        if (name == NULL || PyList_Append(names, name) < 0) {
            Py_XDECREF(name);
            Py_DECREF(names);
            return NULL;
        }
        Py_DECREF(name);
    }
    return names;
}

static PyObject *textscan_use(PyObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    for (int k = 0; k < IMPLEMENTATIONS; k++) {
        if (strcmp(implementations[k].name, name) == 0 && implementations[k].supported()) {
            const char *previous = chosen->name;
            chosen = &implementations[k];
            return PyUnicode_FromString(previous);
        }
    }
    PyErr_Format(PyExc_ValueError, "no %s scanner on this machine", name);
    return NULL;
}

static PyMethodDef textscan_methods[] = {
    {"implementations", textscan_implementations, METH_NOARGS,
     "implementations() -> the instruction sets usable here, fastest first"},
    {"use", textscan_use, METH_VARARGS,
     "use(name) -> the name in use before; chooses the scanners' instruction set"},
    {"scan", textscan_scan, METH_VARARGS,
     "scan(data, start=0, end=None) -> (parity, newlines, rows)"},
    {"last_boundary", textscan_last_boundary, METH_VARARGS,
     "last_boundary(data, start, end) -> (cut, newlines, rows)"},
    {"first_problem", textscan_first_problem, METH_VARARGS,
     "first_problem(data, start, end, delimiter) -> None or (kind, record_start, offset)"},
    {"plan", textscan_plan, METH_VARARGS,
     "plan(data, start, end, delimiter, grain, spans=False) -> (first_problem, [(cut, newlines, "
     "rows)], clean[, spans])"},
    {"line_spans", textscan_line_spans, METH_VARARGS,
     "line_spans(data, start=0, end=None) -> varints: the lines each record spans"},
    {"clean", textscan_clean, METH_VARARGS,
     "clean(data, start=0, end=None) -> True when no NUL byte and valid UTF-8"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef textscan_module = {
    PyModuleDef_HEAD_INIT, "_textscan", "One-pass record and text scanners.", -1,
    textscan_methods,
};

PyMODINIT_FUNC PyInit__textscan(void)
{
    for (int k = 0; k < IMPLEMENTATIONS; k++) {
        if (implementations[k].supported()) {
            chosen = &implementations[k];
            break;
        }
    }
    return PyModule_Create(&textscan_module);
}
