/* The scanning loops of _textscan.c, included once per instruction set with
 * SUFFIX (name suffix), TARGET (function attribute), TEXT_MASKS / UTF8_MASKS /
 * PROBLEM_MASKS (the mask getters) and PREFIX_XOR defined; see there. It undefines them at its end. */

#define CONCAT_(a, b) a##_##b
#define CONCAT(a, b) CONCAT_(a, b)

TARGET static void CONCAT(scan_bytes, SUFFIX)(const unsigned char *s, Py_ssize_t n,
                                              scan_state *r)
{
    text_masks m;
    scan_state state = {0}; /* a local: kept in registers (``s`` may alias ``r``) */
    Py_ssize_t i = 0;
    for (; i + 64 <= n; i += 64) {
        TEXT_MASKS(s + i, &m);
        scan_block(&state, &m, PREFIX_XOR(m.quote), i);
    }
    if (i < n) { /* the tail, padded with NUL bytes (neither quote nor newline) */
        unsigned char tail[64] = {0};
        memcpy(tail, s + i, (size_t)(n - i));
        TEXT_MASKS(tail, &m);
        scan_block(&state, &m, PREFIX_XOR(m.quote), i);
    }
    *r = state;
}

TARGET static int CONCAT(clean_bytes, SUFFIX)(const unsigned char *s, Py_ssize_t n)
{
    utf8_masks m;
    uint64_t carry = 0;
    Py_ssize_t i = 0;
    for (; i + 64 <= n; i += 64) {
        if (!UTF8_MASKS(s + i, &m)) {
            if (m.zero || carry)
                return 0;
            continue;
        }
        int ok = utf8_block(s + i, &m, ~(uint64_t)0, &carry);
        if (ok < 0) { /* (the block's other look bytes passed) */
            if (i + 64 >= n || !look_ok(s[i + 63], s[i + 64]))
                return 0;
        } else if (!ok) {
            return 0;
        }
    }
    if (i < n) { /* the tail, padded; bytes past the end must not be needed */
        unsigned char tail[65] = {0};
        Py_ssize_t rest = n - i;
        memcpy(tail, s + i, (size_t)rest);
        uint64_t valid = ((uint64_t)1 << rest) - 1;
        UTF8_MASKS(tail, &m); /* (utf8_block reads the other masks only when high) */
        if (utf8_block(tail, &m, valid, &carry) != 1)
            return 0;
    }
    return carry == 0;
}

/* ``r`` comes in with its plan fields set (grain 0: no plan; check: also NUL and UTF-8,
 * as clean_bytes does). */
TARGET static void CONCAT(problem_bytes, SUFFIX)(const unsigned char *s, Py_ssize_t n,
                                                 unsigned char delimiter, problem_state *r)
{
    problem_masks m;
    utf8_masks u;
    uint64_t carry = 0;
    int ok = r->check;
    problem_state p = *r; /* a local: kept in registers */
    /* Before the data: a record start (an opening quote may follow, a blank line may start). */
    p.inside = 0;
    p.allowed = p.ends = 1ULL << 63;
    p.cr = 0;
    p.record_start = p.last_end = p.last_newlines = p.last_rows = 0;
    p.kind = PROBLEM_NONE;
    Py_ssize_t i = 0;
    for (; i + 64 <= n; i += 64) {
        PROBLEM_MASKS(s + i, delimiter, &m);
        if (ok) {
            if (!UTF8_MASKS(s + i, &u)) {
                if (u.zero || carry)
                    ok = 0;
            } else {
                int good = utf8_block(s + i, &u, ~(uint64_t)0, &carry);
                if (good < 0 ? i + 64 >= n || !look_ok(s[i + 63], s[i + 64]) : !good)
                    ok = 0;
            }
        }
        uint64_t next_close = 1, next_lf = 1; /* the end of the data lets both stand */
        if (i + 64 < n) {
            next_close = lets_close(s[i + 64], delimiter);
            next_lf = s[i + 64] == '\n';
        }
        if (problem_block(&p, &m, PREFIX_XOR(m.quote), i, next_close, next_lf, 0))
            goto problem;
    }
    if (i < n) { /* the tail, padded with NUL bytes */
        unsigned char tail[65] = {0};
        Py_ssize_t rest = n - i;
        memcpy(tail, s + i, (size_t)rest);
        PROBLEM_MASKS(tail, delimiter, &m);
        if (ok) {
            UTF8_MASKS(tail, &u); /* (utf8_block reads the other masks only when high) */
            if (utf8_block(tail, &u, ((uint64_t)1 << rest) - 1, &carry) != 1)
                ok = 0;
        }
        if (problem_block(&p, &m, PREFIX_XOR(m.quote), i, 0, 0, 1ULL << (rest - 1)))
            goto problem;
    }
    p.kind = PROBLEM_NONE;
    p.check = p.check ? ok && carry == 0 : 0;
    goto done;
problem:
    p.check = -1;
done:
    if (p.grain && p.last_end > p.cut)
        emit_cut(&p, p.last_end, p.last_newlines, p.last_rows);
    *r = p;
}

/* The lines each record ending in s[0:n] spans, as varints into ``out``; bytes written. */
TARGET static Py_ssize_t CONCAT(spans_bytes, SUFFIX)(const unsigned char *s, Py_ssize_t n,
                                                     unsigned char *out)
{
    text_masks m;
    uint64_t parity = 0; /* all ones inside a quoted field at the end of the last block */
    Py_ssize_t pending = 0, written = 0;
    for (Py_ssize_t i = 0; i < n; i += 64) {
        if (i + 64 <= n) {
            TEXT_MASKS(s + i, &m);
        } else { /* the tail, padded with NUL bytes (neither quote nor newline) */
            unsigned char tail[64] = {0};
            memcpy(tail, s + i, (size_t)(n - i));
            TEXT_MASKS(tail, &m);
        }
        uint64_t inside = PREFIX_XOR(m.quote) ^ parity;
        uint64_t ends = m.newline & ~inside, consumed = 0;
        if (ends == m.newline && pending == 0) { /* one-line records only: one byte each */
            for (int k = __builtin_popcountll(ends); k > 0; k--)
                out[written++] = 1;
        } else {
            for (uint64_t rest = ends; rest; rest &= rest - 1) {
                uint64_t upto = (2ULL << __builtin_ctzll(rest)) - 1; /* (bit 63: all ones) */
                Py_ssize_t lines = pending + __builtin_popcountll(m.newline & upto & ~consumed);
                written += put_varint(out + written, (uint64_t)lines);
                pending = 0;
                consumed = upto;
            }
            pending += __builtin_popcountll(m.newline & ~consumed);
        }
        parity = (inside >> 63) ? ~(uint64_t)0 : 0;
    }
    return written;
}

#undef CONCAT
#undef CONCAT_
#undef SUFFIX
#undef TARGET
#undef TEXT_MASKS
#undef UTF8_MASKS
#undef PROBLEM_MASKS
#undef PREFIX_XOR
