/* Internal helpers shared by every layer: errors, allocation, buffers, id maps, RNG, files.
 * Nothing here is exported: the version script keeps only gatrec_* public symbols, and these
 * use the gatrec__ (double underscore) prefix, which the script hides. */
#ifndef GATREC_COMMON_H
#define GATREC_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gatrec.h"

#if defined(__GNUC__)
#define GATREC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define GATREC_PRINTF(a, b)
#endif

/* ---- internal invariants ----
 * GATREC_ASSERT(c) aborts when c is false in debug builds (-DGATREC_DEBUG: make DEBUG=1, and every
 * sanitizer build), and costs nothing otherwise (zstd's DEBUGLEVEL). For what must hold whatever
 * the input, never for checking input: bad input gets an error status. */
#if defined(GATREC_DEBUG) && GATREC_DEBUG
#include <assert.h>
#define GATREC_ASSERT(c) assert(c)
#else
#define GATREC_ASSERT(c) ((void)0)
#endif

/* ---- errors (error.c) ---- */
/* Record `status` and a formatted message as the thread's last error; returns `status`. */
int gatrec__error(int status, const char *fmt, ...) GATREC_PRINTF(2, 3);
/* Is a message recorded in this thread (since the last gatrec_error_clear)? */
int gatrec__error_is_set(void);
/* Prefix the thread's current message with a context ("loading X: ...") and return status. */
int gatrec__error_context(int status, const char *fmt, ...) GATREC_PRINTF(2, 3);

/* ---- allocation (alloc.c): every allocation in lib/ goes through these; failures record
 * GATREC_ENOMEM with a message (in the calling thread: a worker's failure is reported again by the
 * thread that started it) ---- */
void *gatrec__malloc(size_t size);
void *gatrec__calloc(size_t count, size_t size);
void *gatrec__malloc_array(size_t count, size_t size);
/* realloc of count x size bytes (overflow checked); on failure *ptr is untouched and NULL returned. */
void *gatrec__realloc_array(void *ptr, size_t count, size_t size);
/* Tests: let n - 1 allocations through, then fail the next one (once); 0 disarms. Returns the
 * countdown it replaces (> 0: the armed failure never happened). */
long gatrec__alloc_fail_after(long n);
/* Resize *a to rows x width floats (and one more, so that zero rows still allocate); the rows
 * kept keep their values. */
int gatrec__resize_rows(float **a, size_t rows, size_t width);
/* Grow *ptr (count elements of size) to hold at least `need` elements; capacity doubles. */
int gatrec__reserve(void **ptr, size_t *capacity, size_t need, size_t size);
char *gatrec__strdup(const char *s);
char *gatrec__strndup(const char *s, size_t n);

/* ---- byte buffer and bounds-checked reader (alloc.c) ---- */
typedef struct gatrec__buf {
    unsigned char *data;
    size_t len, cap;
} gatrec__buf;
int gatrec__buf_put(gatrec__buf *b, const void *data, size_t n);
int gatrec__buf_put_u32(gatrec__buf *b, uint32_t v);
int gatrec__buf_put_u64(gatrec__buf *b, uint64_t v);
int gatrec__buf_put_str(gatrec__buf *b, const char *s); /* u32 length + bytes */
int gatrec__buf_printf(gatrec__buf *b, const char *fmt, ...) GATREC_PRINTF(2, 3);
void gatrec__buf_free(gatrec__buf *b);
/* A section of a sectioned file (u32 tag, u64 length, bytes): begin writes the tag and a length to
 * patch, end patches it. */
int gatrec__buf_begin_section(gatrec__buf *b, uint32_t tag, size_t *len_at);
void gatrec__buf_end_section(gatrec__buf *b, size_t len_at);
/* IEEE-754 floats, little-endian. */
int gatrec__buf_put_f32s(gatrec__buf *b, const float *v, size_t n);

/* A bounds-checked reader over a byte range; any overrun sets `bad` and reads zeros. */
typedef struct gatrec__reader {
    const unsigned char *p, *end;
    int bad;
} gatrec__reader;
uint32_t gatrec__read_u32(gatrec__reader *r);
uint64_t gatrec__read_u64(gatrec__reader *r);
const void *gatrec__read_bytes(gatrec__reader *r, size_t n);
/* The next section of r (see gatrec__buf_begin_section): its tag, and a reader over its bytes.
 * 1 when one was read, 0 at r's end, GATREC_EFORMAT when it overruns r. */
int gatrec__read_section(gatrec__reader *r, uint32_t *tag, gatrec__reader *section);
/* Reads a u32-length string into a new NUL-terminated copy (NULL and bad on failure). */
char *gatrec__read_str(gatrec__reader *r);
/* n floats written by gatrec__buf_put_f32s; GATREC_EFORMAT (and bad) when fewer remain. */
int gatrec__read_f32s(gatrec__reader *r, float *v, size_t n);
/* Seconds on a monotonic clock. */
double gatrec__now(void);

/* ---- id maps (idmap.c): non-negative int64 ids <-> dense int32 indices ---- */
typedef struct gatrec__idmap {
    int64_t *ids;      /* index -> id */
    size_t count, cap;
    int32_t *slots;    /* open addressing, -1 = empty */
    size_t nslots;
    /* optional string keys (an imported dataset's ids, docs/data.md): index -> key (NULL: none),
     * with their own open-addressing table; keys == NULL for a numeric map */
    char **keys;
    size_t kcap, nkeys;
    int32_t *kslots;
    size_t nkslots;
} gatrec__idmap;
/* Index of `id`, adding it when absent; *added tells which (may be NULL). */
int gatrec__idmap_add(gatrec__idmap *m, int64_t id, int32_t *index, int *added);
/* Index of `id`, or -1. */
int32_t gatrec__idmap_find(const gatrec__idmap *m, int64_t id);
/* Index of `id` into *index, or GATREC_ENOTFOUND naming `what` ("user", "item"). */
int gatrec__idmap_index(const gatrec__idmap *m, int64_t id, int32_t *index, const char *what);
int gatrec__idmap_copy(gatrec__idmap *dst, const gatrec__idmap *src);
int gatrec__idmap_from_ids(gatrec__idmap *m, const int64_t *ids, size_t n); /* EDUPLICATE on repeats */
/* Take the last index out again (it must have no key): nothing was added after it, so no probe
 * sequence runs through its slot. */
void gatrec__idmap_drop_last(gatrec__idmap *m);
void gatrec__idmap_free(gatrec__idmap *m);
/* Index of string key `key` (len bytes, any bytes but NUL), adding it when absent with a numeric
 * id above every id the map holds; *added tells which (may be NULL). */
int gatrec__idmap_add_key(gatrec__idmap *m, const char *key, size_t len, int32_t *index, int *added);
/* Index of `key`, or -1 (also for a map without keys). */
int32_t gatrec__idmap_find_key(const gatrec__idmap *m, const char *key, size_t len);
/* The key of `index`, or NULL (a numeric map, an index without a key or out of range). */
const char *gatrec__idmap_key(const gatrec__idmap *m, int32_t index);
/* Give `index` the key `key` (EDUPLICATE when another index has it; EINVAL for an empty key). */
int gatrec__idmap_set_key(gatrec__idmap *m, int32_t index, const char *key);
/* The ids (u64 count, u64 each) and the keys (u64 count, a u32-length string each, empty for
 * none) of a map, as model and dataset files hold them; the reads want an empty map (ids) or the
 * map whose ids they follow (keys), and give EFORMAT on anything malformed. */
int gatrec__idmap_write_ids(gatrec__buf *b, const gatrec__idmap *m);
int gatrec__idmap_read_ids(gatrec__reader *r, gatrec__idmap *m);
int gatrec__idmap_write_keys(gatrec__buf *b, const gatrec__idmap *m);
int gatrec__idmap_read_keys(gatrec__reader *r, gatrec__idmap *m);
/* Longest key accepted (bytes) */
#define GATREC__MAX_KEY 256
/* The index of key `key` in m, or GATREC_ENOTFOUND naming `what` */
int gatrec__find_key(const gatrec__idmap *m, const char *key, int32_t *index, const char *what);

/* ---- random numbers (rng.c): counter-based, so results never depend on call order ----
 * A draw is a pure function of (seed, stream, counter). Every stream the library draws from is
 * named by gatrec__stream(purpose, index): the purpose in the top 16 bits, an index below them (a
 * user, an epoch, a step, a tensor), so that two purposes never share a stream whatever the
 * indices; the counter numbers the draws inside one stream (where a stream serves many nodes, the
 * node in the counter's high 32 bits, the draw in the low 32). A new use of randomness adds a
 * purpose here; test/check-layers.sh refuses a call whose stream is not a gatrec__stream(). */
enum gatrec__rng_purpose {
    GATREC__RNG_SPLIT_SHUFFLE = 1, /* random splits: a user's ratings shuffled (index: user) */
    GATREC__RNG_SPLIT_COLD_ITEMS,  /* cold-items splits: which items are held out (index 0) */
    GATREC__RNG_SPLIT_COLD_USERS,  /* cold-users splits: which users are held out (index 0) */
    GATREC__RNG_SPLIT_REVEAL,      /* cold-users splits: a user's ratings shuffled (index: user) */
    GATREC__RNG_SPLIT_VALID,       /* validation parts: a user's training ratings shuffled (index: user) */
    GATREC__RNG_INIT,              /* parameter initialisers (index: the kind's tensor number) */
    GATREC__RNG_LSA,               /* the LSA embedder's random projection (index 0) */
    GATREC__RNG_EPOCH_ORDER,       /* the order of the training pairs (index: epoch) */
    GATREC__RNG_NEGATIVE,          /* BPR's negatives (index 0; counter: pair x draw) */
    GATREC__RNG_SOFTMAX_SAMPLE,    /* a step's sampled softmax candidates (index: step) */
    GATREC__RNG_ID_DROPOUT,        /* attn's dropped ID rows (index: step; counter: node) */
    GATREC__RNG_ALIGN_SAMPLE,      /* attn's alignment items (index: step) */
    GATREC__RNG_GAT_DROPOUT,       /* the GAT's dropout masks (index: step x 16 + layer) */
    GATREC__RNG_FANOUT_DRAW,       /* neighbour sampling, a few of many neighbours (index: step) */
    GATREC__RNG_FANOUT_SHUFFLE,    /* neighbour sampling, most of them (index: step) */
    GATREC__RNG_RETRY_JITTER,      /* the HTTP transport's retry waits (index: the call) */
    GATREC__RNG_COLD_USERS,        /* attn's new-user practice: which users (index: step; counter: user) */
    GATREC__RNG_COLD_EDGES,        /* attn's new-user practice: which of their items (index: step) */
    GATREC__RNG_PURPOSES           /* how many; purposes are below 2^16 */
};
#define GATREC__RNG_INDEX_BITS 48
/* The stream of `purpose` number `index` (index < 2^48). */
static inline uint64_t gatrec__stream(enum gatrec__rng_purpose purpose, uint64_t index)
{
    GATREC_ASSERT(purpose > 0 && purpose < GATREC__RNG_PURPOSES && index >> GATREC__RNG_INDEX_BITS == 0);
    return (uint64_t)purpose << GATREC__RNG_INDEX_BITS | (index & ((UINT64_C(1) << GATREC__RNG_INDEX_BITS) - 1));
}
/* A counter for draw `draw` of node `node` in a stream that serves many nodes. */
static inline uint64_t gatrec__node_counter(uint64_t node, uint64_t draw)
{
    GATREC_ASSERT(node >> 32 == 0 && draw >> 32 == 0);
    return node << 32 | draw;
}
uint64_t gatrec__rng_u64(uint64_t seed, uint64_t stream, uint64_t counter);
/* Uniform in [0, n). */
uint64_t gatrec__rng_below(uint64_t seed, uint64_t stream, uint64_t counter, uint64_t n);
/* Uniform in [0, 1), 53 bits. */
double gatrec__rng_unit(uint64_t seed, uint64_t stream, uint64_t counter);
/* Glorot-uniform and normal initialisers of a parameter tensor, from `stream` (a gatrec__stream). */
void gatrec__init_glorot(float *w, size_t fan_out, size_t fan_in, uint64_t seed, uint64_t stream);
void gatrec__init_normal(float *w, size_t n, float stddev, uint64_t seed, uint64_t stream);

/* ---- ranking (topk.c) ---- */
/* The best k of scores[0..nitems) skipping `seen` (ascending indices, nseen of them) and, when
 * `allowed` is not NULL, the items it marks 0; ties go to the lower index. Writes the indices
 * (and, when out_scores is not NULL, their scores) best first; returns how many (<= k). */
size_t gatrec__top_k(const float *scores, size_t nitems, const int32_t *seen, size_t nseen, const uint8_t *allowed,
                     size_t k, int32_t *heap, float *out_scores);
/* The DCG of a perfect list of `relevant` items cut at k: sum of 1 / log2(rank + 1), rank 1 .. */
double gatrec__ideal_dcg(size_t relevant, size_t k);

/* ---- hashes (sha256.c; CRC-32 comes from zlib) ---- */
typedef struct gatrec__sha256 {
    uint32_t h[8];
    uint64_t bytes;
    unsigned char block[64];
    size_t fill;
} gatrec__sha256;
void gatrec__sha256_init(gatrec__sha256 *s);
void gatrec__sha256_update(gatrec__sha256 *s, const void *data, size_t n);
void gatrec__sha256_final(gatrec__sha256 *s, unsigned char out[32]);
void gatrec__hex(const unsigned char *bytes, size_t n, char *out); /* out: 2n+1 chars */
uint32_t gatrec__crc32(const void *data, size_t n);

/* ---- files (file.c) ---- */
/* Read a whole file; ENOENT when missing, EIO otherwise. The buffer is NUL-terminated. */
int gatrec__read_file(const char *path, char **data, size_t *len);
/* fopen(path, "rb") with read_file's errors: ENOENT or EIO naming the file, a directory refused */
int gatrec__open_read(const char *path, FILE **f);
/* Write `len` bytes to `path` through a temporary file in the same directory and rename. */
int gatrec__write_file_atomic(const char *path, const void *data, size_t len);
/* The envelope of the model and dataset files (docs/model-file.md, docs/data.md):
 *   magic (8 bytes) | u32 format version | u32 kind | u64 payload length | payload | u32 CRC-32
 * begin writes the header into an empty b (the payload follows it); finish patches the length and
 * appends the checksum of the payload. */
#define GATREC__ENVELOPE_HEADER 24u
int gatrec__envelope_begin(gatrec__buf *b, const char magic[8], uint32_t version, uint32_t kind);
int gatrec__envelope_finish(gatrec__buf *b);
/* Read the file at `path` and check its envelope: magic, a version in 1..max_version, its length
 * and checksum, each failure with its own status and a message naming the file and `what` ("model",
 * "dataset"). On success *data holds the file (free it), *payload reads the payload and *kind is
 * the header's kind. */
int gatrec__envelope_read(const char *path, const char magic[8], const char *what, uint32_t max_version, char **data,
                          gatrec__reader *payload, uint32_t *kind);
/* Is `name` a temporary that gatrec__write_file_atomic made for the file named by its first
 * base_len bytes ("<base>.tmp.<pid>.<n>"), left by a process that is gone? */
int gatrec__stale_temporary(const char *name, size_t base_len);
/* A temporary file being written (slot >= 0, or -1 when every slot is taken), for
 * gatrec_remove_temporaries(); release the slot once it is renamed or removed. */
int gatrec__temp_register(const char *path);
void gatrec__temp_release(int slot);
/* Create a directory and its parents (like mkdir -p). */
int gatrec__mkdirs(const char *path);
int gatrec__file_exists(const char *path);
/* dir + "/" + name into a new string. */
char *gatrec__path_join(const char *dir, const char *name);

/* ---- text (text.c) ---- */
/* Numbers read and written in the C locale ('.' decimals), whatever locale the host set: the
 * library's files, specs and answers mean the same on every host. test/check-layers.sh refuses
 * strtod/strtof and a float conversion in snprintf elsewhere in lib/. */
double gatrec__strtod(const char *s, char **end);
float gatrec__strtof(const char *s, char **end);
int gatrec__vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int gatrec__snprintf(char *buf, size_t size, const char *fmt, ...) GATREC_PRINTF(3, 4);
/* Parse a whole field as a non-negative id: ENUMBER when not digits, EOVERFLOW past INT64_MAX. */
int gatrec__parse_id(const char *s, size_t n, int64_t *out);
/* Parse a whole field as a signed 64-bit integer. */
int gatrec__parse_i64(const char *s, size_t n, int64_t *out);
/* Parse a whole field as a finite number. */
int gatrec__parse_double(const char *s, size_t n, double *out);
/* Latin-1 bytes to a new UTF-8 string. */
char *gatrec__latin1_to_utf8(const char *s, size_t n);
/* 1 when the bytes are valid UTF-8. */
int gatrec__is_utf8(const char *s, size_t n);

/* A line iterator over a buffer: strips "\n" or "\r\n"; counts lines from 1. */
typedef struct gatrec__lines {
    const char *p, *end;
    size_t lineno;
} gatrec__lines;
void gatrec__lines_init(gatrec__lines *it, const char *data, size_t len);
/* Next line into (*line, *n); 0 at the end. */
int gatrec__lines_next(gatrec__lines *it, const char **line, size_t *n);

/* Split a line on `delim` (len dlen) into at most `max` fields; returns the field count
 * (which may exceed max: only the first max are stored). */
size_t gatrec__split_fields(const char *line, size_t n, const char *delim, size_t dlen,
                            const char **fields, size_t *lens, size_t max);

/* RFC 4180 CSV reader over a buffer. */
typedef struct gatrec__csv {
    const char *p, *end;
    size_t line;        /* line where the current record starts, from 1 */
    size_t next_line;
    gatrec__buf field;  /* unescaped fields of the current record, NUL-separated */
    size_t *offsets;
    size_t nfields, cap;
    char delim;         /* ',' unless set after gatrec__csv_init */
} gatrec__csv;
void gatrec__csv_init(gatrec__csv *c, const char *data, size_t len);
/* Next record: 1 on success, 0 at the end, negative status (EFORMAT) on an unterminated quote. */
int gatrec__csv_next(gatrec__csv *c);
const char *gatrec__csv_field(const gatrec__csv *c, size_t i);
void gatrec__csv_free(gatrec__csv *c);
/* The index of the header column `name` (a UTF-8 byte order mark ignored), or SIZE_MAX. */
size_t gatrec__csv_find_column(const gatrec__csv *csv, const char *name);
/* The index of the header column `name` (a UTF-8 byte order mark ignored); GATREC_ENOTFOUND
 * otherwise, with a message listing the header's columns and saying what is off (case, blanks,
 * another delimiter) and, when not NULL, what was `expected`. */
int gatrec__csv_column(const gatrec__csv *csv, const char *name, const char *path, const char *expected, size_t *col);
/* Call fn for the (id, text) of every row of a CSV file with a header, from the columns named
 * id_column and text_column (ids: non-negative integers; text: UTF-8). Errors name file:line;
 * fn's non-zero return stops the reading and is returned. */
int gatrec__csv_id_text(const char *path, const char *id_column, const char *text_column,
                        int (*fn)(void *ctx, int64_t id, const char *text, size_t line), void *ctx);

/* ---- versioned option structs ---- */
/* Defines the public `name(opts, version)`: the defaults of version `version` (1..CURRENT). */
#define GATREC__OPTIONS_INIT_FN(name, type, CURRENT, INIT)                                           \
    GATREC_API int name(type *opts, unsigned int version)                                            \
    {                                                                                                \
        static const type defaults = INIT;                                                           \
        if (!opts || version == 0 || version > CURRENT)                                              \
            return gatrec__error(GATREC_EINVAL, #name ": unsupported version %u", version);          \
        *opts = defaults;                                                                            \
        opts->version = version;                                                                     \
        return GATREC_OK;                                                                            \
    }

/* The published sizes of a versioned struct (options.c): sizes[v - 1] is version v's. */
typedef struct gatrec__versions {
    const char *name;
    unsigned int current;
    const size_t *sizes;
} gatrec__versions;
extern const gatrec__versions gatrec__gatrec_delimited_options_versions, gatrec__gatrec_graph_options_versions,
    gatrec__gatrec_eval_options_versions, gatrec__gatrec_model_options_versions, gatrec__gatrec_llm_transport_versions,
    gatrec__gatrec_http_options_versions, gatrec__gatrec_llm_options_versions, gatrec__gatrec_profile_options_versions,
    gatrec__gatrec_reranker_options_versions, gatrec__gatrec_embedder_options_versions,
    gatrec__gatrec_request_options_versions, gatrec__gatrec_import_options_versions;
/* GATREC_EINVAL naming the struct when the version of `src` is 0 or newer than this library's. */
int gatrec__versions_check(const void *src, const gatrec__versions *v);
/* Copy the caller's struct `src` (any supported version; NULL: nothing to copy) over `dst`, which
 * holds the current version's defaults: only the bytes of the caller's version are read, the
 * fields it does not have keep their defaults, and dst->version becomes the current one. */
int gatrec__versions_read(void *dst, const void *src, const gatrec__versions *v);
/* The copy for the struct type `type` (gatrec_model_options, ...). */
#define GATREC__READ_VERSIONED(dst, src, type) gatrec__versions_read((dst), (src), &gatrec__##type##_versions)

/* ---- threads ---- */
int gatrec__default_threads(void);
/* Run fn(ctx, job) for job in [0, njobs) on up to `threads` threads (the caller's included).
 * Jobs are handed out in fixed contiguous blocks, so a result that depends only on the job
 * index never depends on the thread count. If a thread cannot start, its block runs on the
 * caller's thread. */
void gatrec__parallel(int threads, size_t njobs, void (*fn)(void *ctx, size_t job), void *ctx);
/* The same over jobs [begin, end). */
void gatrec__parallel_range(int threads, size_t begin, size_t end, void (*fn)(void *ctx, size_t job), void *ctx);

#endif
