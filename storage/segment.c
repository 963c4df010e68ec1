/* Segment files: headers, records, LZ4 blocks, and the scan that recovery,
 * index rebuilds and the fuzzer use. This file writes the log's bytes.
 *
 * ON-DISK FORMAT, version 1 (all integers little-endian; CRC = CRC32C):
 *
 * Data directory: <id>.seg segment files (id = 20-digit decimal, 1, 2, ...),
 * <id>.idx index files of sealed segments, LOCK (flock'ed while open).
 *
 * Segment header, 64 bytes at offset 0:
 *   0  8  magic "TRLOGSEG"
 *   8  4  format version (1)
 *  12  4  CRC of the 64 header bytes with this field set to 0
 *  16  8  segment id (matches the file name)
 *  24  8  LSN of the first record in this segment
 *  32  8  creation time, ns since the Unix epoch (informational)
 *  40  4  flags: bit 0 = rewritten by the background recompressor (its
 *         blocks are re-cut and LZ4HC-compressed; same block format).
 *         Readers need not look at it; index files record it so an
 *         index never describes the other version of a segment.
 *  44 20  zero
 * Then blocks, back to back, until the end of the file.
 *
 * Block header, 40 bytes:
 *   0  4  magic 0x4b424c54 ("TLBK" as bytes 54 4c 42 4b)
 *   4  4  CRC of header bytes 8..39 (the header has its own CRC so a length
 *         is never trusted before it is checked)
 *   8  8  LSN of the block's first record (records are numbered on)
 *  16  4  record count (>= 1)
 *  20  4  uncompressed (raw) length of the records (<= 64 MiB)
 *  24  4  stored payload length that follows the header
 *  28  4  CRC of the stored payload bytes
 *  32  1  codec: 0 = stored raw, 1 = LZ4 block format (written by LZ4's fast
 *         compressor, or LZ4HC when compression_level > 0: same format)
 *  33  7  zero
 * Then `stored length` payload bytes: the records, compressed per codec.
 *
 * Record, inside a block's raw bytes, back to back:
 *   0  4  total record length L = 26 + key length + payload length
 *   4  4  CRC of bytes 0..3 and 8..L-1 (everything but itself)
 *   8  8  seq (the stream's native sequence)
 *  16  8  ts_ns (signed)
 *  24  2  stream key length K (1..255)
 *  26  K  stream key bytes
 *  26+K   payload (L - 26 - K bytes, opaque)
 *
 * Index file (<id>.idx, written when a segment is sealed): see index.c. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <lz4.h>
#include <lz4hc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

void seg_path(const struct tr_log *log, uint64_t id, const char *ext, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%020" PRIu64 ".%s", log->dir, id, ext);
}

void seg_header_encode(uint8_t *hdr, uint64_t id, uint64_t first_lsn, int64_t created_ns)
{
    memset(hdr, 0, SEG_HDR_SIZE);
    memcpy(hdr, SEG_MAGIC, 8);
    put_le32(hdr + 8, FORMAT_VERSION);
    put_le64(hdr + 16, id);
    put_le64(hdr + 24, first_lsn);
    put_le64(hdr + 32, (uint64_t)created_ns);
    put_le32(hdr + 12, tr_log_crc32c(0, hdr, SEG_HDR_SIZE));
}

void seg_header_set_flags(uint8_t *hdr, uint32_t flags)
{
    put_le32(hdr + SEG_FLAGS_OFF, flags);
    put_le32(hdr + 12, 0);
    put_le32(hdr + 12, tr_log_crc32c(0, hdr, SEG_HDR_SIZE));
}

int seg_header_decode(const uint8_t *hdr, size_t len, uint64_t *id, uint64_t *first_lsn,
                      struct tr_error *err)
{
    if (len < SEG_HDR_SIZE)
        return tr_errorf(err, TR_ECORRUPT, "segment header: file has %zu bytes, needs %d",
                         len, SEG_HDR_SIZE);
    if (memcmp(hdr, SEG_MAGIC, 8) != 0)
        return tr_errorf(err, TR_ECORRUPT, "segment header: bad magic");
    uint8_t tmp[SEG_HDR_SIZE];
    memcpy(tmp, hdr, SEG_HDR_SIZE);
    memset(tmp + 12, 0, 4);
    if (tr_log_crc32c(0, tmp, SEG_HDR_SIZE) != get_le32(hdr + 12))
        return tr_errorf(err, TR_ECORRUPT, "segment header: bad CRC");
    if (get_le32(hdr + 8) != FORMAT_VERSION)
        return tr_errorf(err, TR_EVERSION, "segment header: format version %" PRIu32
                         ", this build reads %u", get_le32(hdr + 8), FORMAT_VERSION);
    *id = get_le64(hdr + 16);
    *first_lsn = get_le64(hdr + 24);
    if (*first_lsn == 0)
        return tr_errorf(err, TR_ECORRUPT, "segment header: first LSN 0");
    return 0;
}

static uint32_t rec_crc(const uint8_t *p, size_t len)
{
    return tr_log_crc32c(tr_log_crc32c(0, p, 4), p + 8, len - 8);
}

size_t rec_encode(uint8_t *dst, const struct tr_log_record *r, size_t key_len)
{
    size_t len = REC_HDR_SIZE + key_len + r->payload_len;
    put_le32(dst, (uint32_t)len);
    put_le64(dst + 8, r->seq);
    put_le64(dst + 16, (uint64_t)r->ts_ns);
    put_le16(dst + 24, (uint16_t)key_len);
    memcpy(dst + REC_HDR_SIZE, r->stream, key_len);
    if (r->payload_len)
        memcpy(dst + REC_HDR_SIZE + key_len, r->payload, r->payload_len);
    put_le32(dst + 4, rec_crc(dst, len));
    return len;
}

int rec_decode(const uint8_t *raw, size_t len, size_t off, struct rec_view *v, size_t *next,
               struct tr_error *err)
{
    if (len - off < REC_HDR_SIZE)
        return tr_errorf(err, TR_ECORRUPT, "record at raw offset %zu: truncated header", off);
    const uint8_t *p = raw + off;
    uint32_t rlen = get_le32(p);
    uint16_t klen = get_le16(p + 24);
    if (rlen < REC_HDR_SIZE + (uint32_t)klen || rlen > len - off || klen == 0 ||
        klen > TR_LOG_STREAM_MAX)
        return tr_errorf(err, TR_ECORRUPT, "record at raw offset %zu: bad length %" PRIu32
                         " (key %u)", off, rlen, klen);
    if (rec_crc(p, rlen) != get_le32(p + 4))
        return tr_errorf(err, TR_ECORRUPT, "record at raw offset %zu: bad CRC", off);
    v->seq = get_le64(p + 8);
    v->ts = (int64_t)get_le64(p + 16);
    v->key_len = klen;
    v->key = (const char *)p + REC_HDR_SIZE;
    v->payload = p + REC_HDR_SIZE + klen;
    v->payload_len = rlen - REC_HDR_SIZE - klen;
    *next = off + rlen;
    return 0;
}

size_t block_bound(size_t n)
{
    return BLK_HDR_SIZE + (size_t)LZ4_compressBound((int)n) + n;
}

size_t block_encode(uint8_t *out, const uint8_t *raw, size_t n, uint64_t first_lsn, uint32_t n_recs,
                    int level, void *hc_state)
{
    uint8_t *payload = out + BLK_HDR_SIZE;
    /* LZ4HC writes the same block format; only the match search differs. */
    int c = level > 0 && hc_state
                ? LZ4_compress_HC_extStateHC(hc_state, (const char *)raw, (char *)payload, (int)n,
                                             LZ4_compressBound((int)n), level)
                : LZ4_compress_default((const char *)raw, (char *)payload, (int)n,
                                       LZ4_compressBound((int)n));
    uint8_t codec = CODEC_LZ4;
    size_t stored = (size_t)c;
    if (c <= 0 || (size_t)c >= n) { /* incompressible: store as is */
        memcpy(payload, raw, n);
        stored = n;
        codec = CODEC_NONE;
    }
    memset(out, 0, BLK_HDR_SIZE);
    put_le32(out, BLK_MAGIC);
    put_le64(out + 8, first_lsn);
    put_le32(out + 16, n_recs);
    put_le32(out + 20, (uint32_t)n);
    put_le32(out + 24, (uint32_t)stored);
    put_le32(out + 28, tr_log_crc32c(0, payload, stored));
    out[32] = codec;
    put_le32(out + 4, tr_log_crc32c(0, out + 8, BLK_HDR_SIZE - 8));
    return BLK_HDR_SIZE + stored;
}

int block_header_decode(const uint8_t *p, size_t len, struct blk_hdr *h, struct tr_error *err)
{
    if (len < BLK_HDR_SIZE)
        return tr_errorf(err, TR_ECORRUPT, "block header truncated (%zu bytes)", len);
    if (get_le32(p) != BLK_MAGIC)
        return tr_errorf(err, TR_ECORRUPT, "bad block magic");
    if (tr_log_crc32c(0, p + 8, BLK_HDR_SIZE - 8) != get_le32(p + 4))
        return tr_errorf(err, TR_ECORRUPT, "bad block header CRC");
    h->first_lsn = get_le64(p + 8);
    h->n = get_le32(p + 16);
    h->raw_len = get_le32(p + 20);
    h->stored_len = get_le32(p + 24);
    h->payload_crc = get_le32(p + 28);
    h->codec = p[32];
    if (h->n == 0 || h->raw_len > BLK_RAW_MAX || h->raw_len < (uint64_t)h->n * (REC_HDR_SIZE + 1) ||
        (h->codec != CODEC_NONE && h->codec != CODEC_LZ4) ||
        (h->codec == CODEC_NONE && h->stored_len != h->raw_len) ||
        h->stored_len > (uint64_t)LZ4_compressBound((int)h->raw_len))
        return tr_errorf(err, TR_ECORRUPT, "block header has impossible fields (n=%" PRIu32
                         " raw=%" PRIu32 " stored=%" PRIu32 " codec=%u)",
                         h->n, h->raw_len, h->stored_len, h->codec);
    if (h->stored_len > len - BLK_HDR_SIZE)
        return tr_errorf(err, TR_ECORRUPT, "block payload truncated (%zu of %" PRIu32 " bytes)",
                         len - BLK_HDR_SIZE, h->stored_len);
    return 0;
}

int block_payload_decode(const struct blk_hdr *h, const uint8_t *payload, uint8_t *raw,
                         struct tr_error *err)
{
    if (tr_log_crc32c(0, payload, h->stored_len) != h->payload_crc)
        return tr_errorf(err, TR_ECORRUPT, "bad block payload CRC");
    if (h->codec == CODEC_NONE) {
        memcpy(raw, payload, h->raw_len);
        return 0;
    }
    int n = LZ4_decompress_safe((const char *)payload, (char *)raw, (int)h->stored_len,
                                (int)h->raw_len);
    if (n < 0 || (uint32_t)n != h->raw_len)
        return tr_errorf(err, TR_ECORRUPT, "block does not decompress to %" PRIu32 " bytes",
                         h->raw_len);
    return 0;
}

int seg_add_block(struct seg *s, const struct blk *b)
{
    if (s->n_blocks == s->cap_blocks) {
        size_t cap = s->cap_blocks ? s->cap_blocks * 2 : 64;
        struct blk *nb = realloc(s->blocks, cap * sizeof *nb);
        if (!nb)
            return TR_ENOMEM;
        s->blocks = nb;
        s->cap_blocks = cap;
    }
    s->blocks[s->n_blocks++] = *b;
    if (s->n_blocks == 1 || b->min_ts < s->min_ts)
        s->min_ts = b->min_ts;
    if (s->n_blocks == 1 || b->max_ts > s->max_ts)
        s->max_ts = b->max_ts;
    s->last_lsn = b->first_lsn + b->n - 1;
    return 0;
}

/* Checks the records of one decoded block, then feeds them to `visit`:
 * two passes, so a block that fails halfway indexes nothing. */
static int scan_records(const uint8_t *raw, const struct blk_hdr *h, struct blk *b,
                        rec_visit_fn visit, void *arg, struct tr_error *err)
{
    size_t off = 0;
    struct rec_view v;
    for (uint32_t i = 0; i < h->n; i++) {
        int rc = rec_decode(raw, h->raw_len, off, &v, &off, err);
        if (rc)
            return rc;
        if (i == 0 || v.ts < b->min_ts)
            b->min_ts = v.ts;
        if (i == 0 || v.ts > b->max_ts)
            b->max_ts = v.ts;
    }
    if (off != h->raw_len)
        return tr_errorf(err, TR_ECORRUPT, "block has %zu bytes after its %" PRIu32 " records",
                         h->raw_len - off, h->n);
    off = 0;
    for (uint32_t i = 0; visit && i < h->n; i++) {
        int rc = rec_decode(raw, h->raw_len, off, &v, &off, err);
        if (rc == 0)
            rc = visit(arg, &v, h->first_lsn + i);
        if (rc)
            return rc;
    }
    return 0;
}

int seg_scan(const uint8_t *buf, size_t len, struct seg *s, rec_visit_fn visit, void *arg,
             uint64_t *good_len, struct tr_error *err)
{
    size_t off = SEG_HDR_SIZE;
    uint8_t *raw = NULL;
    size_t raw_cap = 0;
    int rc = 0;
    *good_len = off;
    s->last_lsn = s->first_lsn - 1;
    while (off < len) {
        struct blk_hdr h;
        if ((rc = block_header_decode(buf + off, len - off, &h, err)) != 0)
            break;
        if (h.first_lsn != s->last_lsn + 1) {
            rc = tr_errorf(err, TR_ECORRUPT, "block starts at LSN %" PRIu64 ", expected %" PRIu64,
                           h.first_lsn, s->last_lsn + 1);
            break;
        }
        if (h.raw_len > raw_cap) {
            uint8_t *nr = realloc(raw, h.raw_len);
            if (!nr) {
                rc = tr_errorf(err, TR_ENOMEM, "scan: no memory for a %" PRIu32 "-byte block",
                               h.raw_len);
                goto out;
            }
            raw = nr;
            raw_cap = h.raw_len;
        }
        if ((rc = block_payload_decode(&h, buf + off + BLK_HDR_SIZE, raw, err)) != 0)
            break;
        struct blk b = {.off = off, .first_lsn = h.first_lsn, .n = h.n,
                        .len = BLK_HDR_SIZE + h.stored_len};
        if ((rc = scan_records(raw, &h, &b, visit, arg, err)) != 0)
            break;
        if ((rc = seg_add_block(s, &b)) != 0) {
            rc = tr_errorf(err, TR_ENOMEM, "scan: no memory for the block table");
            goto out;
        }
        s->raw_bytes += h.raw_len;
        off += b.len;
        *good_len = off;
    }
    if (rc && rc != TR_ENOMEM)
        tr_error_wrap(err, rc, "at offset %zu", off);
out:
    s->size = *good_len;
    free(raw);
    return rc;
}

int read_file(const char *path, uint8_t **buf, size_t *len, struct tr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return tr_errorf(err, tr_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    uint8_t *b = NULL;
    if (fstat(fd, &st) != 0) {
        rc = tr_errorf(err, tr_err_from_errno(errno), "stat %s: %s", path, strerror(errno));
        goto out;
    }
    b = malloc(st.st_size ? (size_t)st.st_size : 1);
    if (!b) {
        rc = tr_errorf(err, TR_ENOMEM, "read %s: no memory for %lld bytes", path,
                       (long long)st.st_size);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread(fd, b + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = tr_errorf(err, tr_err_from_errno(errno), "read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *buf = b;
    *len = got;
    b = NULL;
out:
    free(b);
    close(fd);
    return rc;
}
