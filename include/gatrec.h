/*
 * gatrec.h - the public interface of libgatrec.
 *
 * libgatrec recommends items to users: it loads rating data, splits it, builds the bipartite
 * user-item graph, trains a model on it, serves top-K lists and evaluates them under the
 * protocols of the literature.
 *
 * Conventions (they hold for every function below):
 *  - Functions that can fail return an int status: GATREC_OK (0) or a negative gatrec_status.
 *    On failure gatrec_last_error() (per thread) names what failed and where, and output
 *    pointers are left untouched (or set to NULL for handles).
 *  - Handles are opaque. Each gatrec_*_free() accepts NULL.
 *  - Users and items have dense indices 0..n-1 (int32_t) inside a dataset, a graph and a model,
 *    and the dataset's own ids (int64_t, non-negative) outside.
 *  - Option structs start with `unsigned int version`; initialise them with the matching
 *    *_INIT macro or *_options_init() so that new fields can be added without an ABI break.
 *  - Strings are UTF-8 and owned by the handle they come from unless said otherwise.
 *  - No structure is passed by value and no function takes varargs: the API binds through FFI.
 *
 * This header includes only <stddef.h> and <stdint.h>, and compiles as C99 and C++.
 */
#ifndef GATREC_H
#define GATREC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(GATREC_BUILDING)
#define GATREC_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define GATREC_API __attribute__((visibility("default")))
#else
#define GATREC_API
#endif

/* ---------------------------------------------------------------------------------------- */
/* Version                                                                                  */
/* ---------------------------------------------------------------------------------------- */

#define GATREC_VERSION_MAJOR 0
#define GATREC_VERSION_MINOR 3
#define GATREC_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH, as gatrec_version() returns it. */
#define GATREC_VERSION_NUMBER \
    (GATREC_VERSION_MAJOR * 10000 + GATREC_VERSION_MINOR * 100 + GATREC_VERSION_PATCH)
#define GATREC_VERSION_STRING "0.3.0"

/** The version of the library linked at run time, as GATREC_VERSION_NUMBER encodes it. */
GATREC_API unsigned int gatrec_version(void);
/** The version of the library linked at run time, "MAJOR.MINOR.PATCH". */
GATREC_API const char *gatrec_version_string(void);

/* ---------------------------------------------------------------------------------------- */
/* Status codes and errors                                                                  */
/* ---------------------------------------------------------------------------------------- */

/** Status codes. The numbers are part of the ABI and never change meaning. */
typedef enum gatrec_status {
    GATREC_OK = 0,
    GATREC_ERROR = -1,        /**< failure with no more specific code */
    GATREC_ENOMEM = -2,       /**< out of memory */
    GATREC_EINVAL = -3,       /**< invalid argument (NULL handle, out-of-range index, bad option) */
    GATREC_ENOENT = -4,       /**< a file or directory does not exist */
    GATREC_EIO = -5,          /**< reading or writing a file failed */
    GATREC_EEMPTY = -6,       /**< an input holds no records */
    GATREC_EFIELDS = -7,      /**< an input line has too few fields */
    GATREC_ENUMBER = -8,      /**< a field that must be a number is not one */
    GATREC_ERATING = -9,      /**< a rating lies outside the allowed range */
    GATREC_EDUPLICATE = -10,  /**< the same (user, item) pair appears twice */
    GATREC_EOVERFLOW = -11,   /**< a number does not fit its type (e.g. an id >= 2^63) */
    GATREC_ENOTFOUND = -12,   /**< an id, key or column is unknown */
    GATREC_EFORMAT = -13,     /**< a file, or an LLM's answer, is not of the expected format (bad magic, bad
                                   zip, bad CSV, an answer that is not the JSON asked for) */
    GATREC_EVERSION = -14,    /**< a file was written by a newer format version */
    GATREC_ECHECKSUM = -15,   /**< a checksum does not match: the data is corrupted */
    GATREC_ETRUNCATED = -16,  /**< a file ends before its declared end */
    GATREC_ENETWORK = -17,    /**< a network transfer failed (connection, HTTP status) */
    GATREC_ECANCELLED = -18,  /**< a callback asked to stop */
    GATREC_EUSER = -19,       /**< a host callback failed; its own status is passed through */
    GATREC_EUNSUPPORTED = -20 /**< the operation is not supported for this input or model */
} gatrec_status;

/** A static English description of a status code ("unknown status" for other values). */
GATREC_API const char *gatrec_strerror(int status);
/**
 * The message of the last failure on the calling thread, naming what failed and where (file
 * and line for bad input). Never NULL; "no error" when nothing failed yet. Valid until the next
 * libgatrec call on this thread.
 */
GATREC_API const char *gatrec_last_error(void);
/** The status of the last failure on the calling thread (GATREC_OK when none). */
GATREC_API int gatrec_last_error_status(void);
/** Forget the calling thread's last failure. */
GATREC_API void gatrec_error_clear(void);
/**
 * Remove the temporary files the library is writing at this moment (every file it writes - a
 * model, features, profiles, a list - goes to a temporary beside it, renamed when whole); returns
 * how many it removed. Async-signal-safe: call it from the host's SIGINT/SIGTERM handler before
 * the process dies, so that an interrupted save leaves nothing behind (the command line does).
 * A temporary left by a process that was killed outright is removed by the next save to the same
 * path.
 */
GATREC_API size_t gatrec_remove_temporaries(void);

/* ---------------------------------------------------------------------------------------- */
/* Handles                                                                                  */
/* ---------------------------------------------------------------------------------------- */

/** Ratings with their users, items and item metadata, and maps between ids and indices. */
typedef struct gatrec_dataset gatrec_dataset;
/** An assignment of every rating of a dataset to train, validation or test. */
typedef struct gatrec_split gatrec_split;
/** The bipartite user-item graph of training ratings, CSR in both directions. */
typedef struct gatrec_graph gatrec_graph;
/** A ranked list of items for each user (dense indices), as a model or a file produces it. */
typedef struct gatrec_reclist gatrec_reclist;
/** A trained recommender: any kind below behind one interface. */
typedef struct gatrec_model gatrec_model;
/** Turns texts into vectors: the built-in offline hashed TF-IDF embedder, a host callback, or an
    embeddings endpoint (see "Profiles and embedders" below). */
typedef struct gatrec_embedder gatrec_embedder;

/* ---------------------------------------------------------------------------------------- */
/* Datasets                                                                                 */
/* ---------------------------------------------------------------------------------------- */

/** MovieLens layouts for gatrec_dataset_load_movielens(). */
typedef enum gatrec_movielens_kind {
    GATREC_MOVIELENS_AUTO = 0, /**< decide from the files present */
    GATREC_MOVIELENS_100K = 1, /**< u.data, u.item, u.user, u.genre (tab and '|' separated) */
    GATREC_MOVIELENS_1M = 2    /**< ratings.dat, movies.dat, users.dat ("::" separated) */
} gatrec_movielens_kind;

/**
 * Load a MovieLens directory laid out as in the official zip (e.g. "<data dir>/ml-100k").
 * Latin-1 titles are converted to UTF-8. Every listed item gets an index, rated or not.
 * The directory is remembered for gatrec_split_official().
 */
GATREC_API int gatrec_dataset_load_movielens(const char *dir, int kind, gatrec_dataset **out);

#define GATREC_DELIMITED_OPTIONS_VERSION 1
/** How to read a generic delimited interaction file. */
typedef struct gatrec_delimited_options {
    unsigned int version;     /**< GATREC_DELIMITED_OPTIONS_VERSION */
    const char *delimiter;    /**< field separator, one or more bytes; default "," */
    int header;               /**< 1 if the first line names the columns (skipped); default 1 */
    int user_column;          /**< 0-based column of the user id; default 0 */
    int item_column;          /**< 0-based column of the item id; default 1 */
    int rating_column;        /**< 0-based column of the rating, -1 for none (every rating 1); default 2 */
    int timestamp_column;     /**< 0-based column of an integer timestamp, -1 for none; default -1 */
    double rating_min;        /**< smallest accepted rating; default 0.5 */
    double rating_max;        /**< largest accepted rating; default 5 */
} gatrec_delimited_options;

#define GATREC_DELIMITED_OPTIONS_INIT \
    { GATREC_DELIMITED_OPTIONS_VERSION, ",", 1, 0, 1, 2, -1, 0.5, 5.0 }

/** Fill `opts` with the defaults of `version` (GATREC_DELIMITED_OPTIONS_VERSION). */
GATREC_API int gatrec_delimited_options_init(gatrec_delimited_options *opts, unsigned int version);

/**
 * Load a delimited interaction file (user, item, rating and optional timestamp; ids are
 * non-negative integers; CRLF line ends are accepted; empty lines are skipped). A missing file,
 * an empty file, a short or non-numeric field, a rating out of range, a duplicate (user, item)
 * and an id that overflows each have their own status, with the file and line in the message.
 */
GATREC_API int gatrec_dataset_load_delimited(const char *path, const gatrec_delimited_options *opts,
                                             gatrec_dataset **out);

/**
 * Build a dataset from arrays of `n` ratings. `ratings` may be NULL (every rating 1) and
 * `timestamps` may be NULL (every timestamp 0). Indices follow the order of first appearance.
 */
GATREC_API int gatrec_dataset_from_arrays(size_t n, const int64_t *user_ids, const int64_t *item_ids,
                                          const float *ratings, const int64_t *timestamps,
                                          gatrec_dataset **out);

/**
 * Attach a text to items from a CSV file (RFC 4180: quoted fields, doubled quotes, newlines
 * inside quotes; a header line names the columns). `id_column` holds the dataset's item id,
 * `text_column` the text (for example a plot overview). Rows for unknown items are ignored;
 * the number of items that received a text is stored in `*matched` if it is not NULL.
 */
GATREC_API int gatrec_dataset_load_item_texts(gatrec_dataset *ds, const char *csv_path,
                                              const char *id_column, const char *text_column,
                                              size_t *matched);

GATREC_API void gatrec_dataset_free(gatrec_dataset *ds);

/** How repeated (user, item) events of an imported log are combined (docs/data.md). */
typedef enum gatrec_duplicates {
    GATREC_DUPLICATES_DEFAULT = 0, /**< implicit events: SUM; explicit ratings: LAST */
    GATREC_DUPLICATES_SUM = 1,     /**< add the weights (implicit events only: counts) */
    GATREC_DUPLICATES_MAX = 2,     /**< keep the largest value */
    GATREC_DUPLICATES_LAST = 3,    /**< keep the latest event's value (by time, then by line) */
    GATREC_DUPLICATES_ERROR = 4    /**< refuse the file, naming both lines */
} gatrec_duplicates;

#define GATREC_IMPORT_OPTIONS_VERSION 1
/**
 * How gatrec_dataset_import() reads an application's own interaction log and catalogue
 * (since 0.3). Columns are named by the header line; ids are strings kept byte for byte.
 */
typedef struct gatrec_import_options {
    unsigned int version;         /**< GATREC_IMPORT_OPTIONS_VERSION */
    char delimiter;               /**< ',', '\t', ';' or '|'; 0 (default): sniffed from the header */
    const char *user_column;      /**< default "user" */
    const char *item_column;      /**< default "item" */
    const char *rating_column;    /**< explicit ratings: the column of the rating; NULL (default): implicit */
    const char *weight_column;    /**< implicit events: a column of positive weights (counts); NULL: each event 1 */
    const char *time_column;      /**< Unix seconds or ISO 8601; NULL (default): the column "time" or "timestamp"
                                       when the header has one, else every event at time 0 */
    double rating_min;            /**< explicit: smallest accepted rating; default 1 */
    double rating_max;            /**< explicit: largest accepted rating; default 5 */
    double liked_threshold;       /**< explicit: a rating >= this is liked; 0 (default): three quarters of the
                                       way up the range (4 on 1-5; disliked: a quarter, 2 on 1-5). Implicit data:
                                       every event is liked, none disliked */
    int duplicates;               /**< gatrec_duplicates */
    const char *items_path;       /**< a catalogue CSV/TSV (NULL: none): an id column and text columns */
    const char *item_id_column;   /**< default: item_column's name */
    const char *title_column;     /**< default "title" when the catalogue has it */
    const char *category_column;  /**< '|'-separated categories (the genres); default "category", "categories"
                                       or "genres" when present */
    const char *users_path;       /**< user attributes CSV/TSV (NULL: none): an id column and attribute columns */
    const char *user_id_column;   /**< default: user_column's name */
    const char *domain;           /**< the catalogue's noun ("books", "songs"); default "items" */
    const char *name;             /**< the dataset's name; default the events file's base name without extension */
} gatrec_import_options;

#define GATREC_IMPORT_OPTIONS_INIT \
    { GATREC_IMPORT_OPTIONS_VERSION, 0, "user", "item", NULL, NULL, NULL, 1.0, 5.0, 0.0, \
      GATREC_DUPLICATES_DEFAULT, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/** Fill `opts` with the defaults of `version` (GATREC_IMPORT_OPTIONS_VERSION). */
GATREC_API int gatrec_import_options_init(gatrec_import_options *opts, unsigned int version);

/**
 * Import an interaction log (CSV or TSV with a header; RFC 4180 quoting; UTF-8 with or without a
 * byte-order mark; CRLF or LF) with string ids, and optionally a catalogue and user attributes
 * (since 0.3). Users and items are numbered in order of first appearance (the catalogue's and the
 * user file's order first); gatrec_dataset_user_key() gives each one's string back. Every bad row
 * stops the import with `file:line: what` (status as for the other loaders). Items of the events
 * missing from the catalogue are kept; *missing_items (may be NULL) says how many.
 */
GATREC_API int gatrec_dataset_import(const char *events_path, const gatrec_import_options *opts,
                                     gatrec_dataset **out, size_t *missing_items);

/**
 * Build a dataset from arrays of `n` events whose user and item ids are strings (UTF-8, 1 to 256
 * bytes, kept byte for byte) (since 0.3): what gatrec_dataset_import() does for a log, for a
 * host that holds its events in memory (the Python binding's string columns). `values` may be
 * NULL (each event 1): ratings when opts->rating_column is set (any name; checked against
 * rating_min..rating_max, repeated pairs by opts->duplicates, the latest by default), weights
 * otherwise (implicit: positive, repeated pairs summed by default). `timestamps` may be NULL
 * (every event at 0). Only the options' meaning fields are read (rating_column as a flag, the
 * range, liked_threshold, duplicates, domain, name; opts NULL: implicit); a catalogue or user file
 * is refused here. Users and items are numbered in order of first appearance; errors name the
 * event ("arrays: event #12: empty user id").
 */
GATREC_API int gatrec_dataset_from_key_arrays(size_t n, const char *const *user_keys, const char *const *item_keys,
                                              const float *values, const int64_t *timestamps,
                                              const gatrec_import_options *opts, gatrec_dataset **out);

/**
 * Write a dataset to directory `dir` (created when absent) as `dir/dataset.gatrec`: versioned,
 * checksummed, replaced whole or not at all (docs/data.md) (since 0.3). Any dataset can be saved.
 */
GATREC_API int gatrec_dataset_save(const gatrec_dataset *ds, const char *dir);

/** Load a dataset written by gatrec_dataset_save() from `dir` (or the file itself) (since 0.3). */
GATREC_API int gatrec_dataset_load(const char *dir, gatrec_dataset **out);

/** A user's string key (imported datasets), or NULL (numeric ids, or index out of range) (since 0.3). */
GATREC_API const char *gatrec_dataset_user_key(const gatrec_dataset *ds, int32_t index);
/** An item's string key (imported datasets), or NULL (since 0.3). */
GATREC_API const char *gatrec_dataset_item_key(const gatrec_dataset *ds, int32_t index);
/** Index of the user whose key is `key`; GATREC_ENOTFOUND when none (since 0.3). */
GATREC_API int gatrec_dataset_find_user(const gatrec_dataset *ds, const char *key, int32_t *index);
/** Index of the item whose key is `key`; GATREC_ENOTFOUND when none (since 0.3). */
GATREC_API int gatrec_dataset_find_item(const gatrec_dataset *ds, const char *key, int32_t *index);
/**
 * What a dataset's ratings mean (since 0.3): the liked and disliked thresholds to build its
 * graph with (MovieLens and the numeric loaders: 4 and 2; an imported implicit log: every event
 * liked, none disliked), whether it is implicit (1) and its domain noun ("movies", "items", ...).
 * Any output may be NULL.
 */
GATREC_API int gatrec_dataset_semantics(const gatrec_dataset *ds, float *liked, float *disliked, int *implicit,
                                        const char **domain);
/** A user's attributes from an imported user file ("column: value" lines), or NULL (since 0.3). */
GATREC_API const char *gatrec_dataset_user_text(const gatrec_dataset *ds, int32_t user);


/** A short name of where the data came from ("ml-100k", "ml-1m", or the file's base name). */
GATREC_API const char *gatrec_dataset_name(const gatrec_dataset *ds);
GATREC_API size_t gatrec_dataset_num_users(const gatrec_dataset *ds);
GATREC_API size_t gatrec_dataset_num_items(const gatrec_dataset *ds);
GATREC_API size_t gatrec_dataset_num_ratings(const gatrec_dataset *ds);
/**
 * The dataset's fingerprint: the SHA-256, in 64 lowercase hex digits and a NUL written to `out`,
 * of its ratings in order (user id, item id, rating, timestamp each), so that two loads of the
 * same data agree and any other data differs. `gatrec train` keeps it in the model
 * ("dataset_sha256") and `gatrec eval` refuses a model against other data (since 0.3).
 */
GATREC_API int gatrec_dataset_fingerprint(const gatrec_dataset *ds, char out[65]);

/** Dense index of a dataset user id; GATREC_ENOTFOUND when the id is unknown. */
GATREC_API int gatrec_dataset_user_index(const gatrec_dataset *ds, int64_t user_id, int32_t *index);
/** Dense index of a dataset item id; GATREC_ENOTFOUND when the id is unknown. */
GATREC_API int gatrec_dataset_item_index(const gatrec_dataset *ds, int64_t item_id, int32_t *index);
/** Dataset id of a user index, or -1 when the index is out of range. */
GATREC_API int64_t gatrec_dataset_user_id(const gatrec_dataset *ds, int32_t index);
/** Dataset id of an item index, or -1 when the index is out of range. */
GATREC_API int64_t gatrec_dataset_item_id(const gatrec_dataset *ds, int32_t index);

/** Rating number `i` (0 <= i < num_ratings): user and item indices, value, timestamp. Any output may be NULL. */
GATREC_API int gatrec_dataset_rating(const gatrec_dataset *ds, size_t i, int32_t *user, int32_t *item,
                                     float *rating, int64_t *timestamp);

/** An item's title (UTF-8), or NULL when the dataset has none. */
GATREC_API const char *gatrec_dataset_item_title(const gatrec_dataset *ds, int32_t item);
/** An item's release year, or 0 when unknown. */
GATREC_API int gatrec_dataset_item_year(const gatrec_dataset *ds, int32_t item);
/** An item's text attached by gatrec_dataset_load_item_texts(), or NULL. */
GATREC_API const char *gatrec_dataset_item_text(const gatrec_dataset *ds, int32_t item);
/** Number of genres the dataset knows. */
GATREC_API size_t gatrec_dataset_num_genres(const gatrec_dataset *ds);
/** Name of genre `g`, or NULL when out of range. */
GATREC_API const char *gatrec_dataset_genre_name(const gatrec_dataset *ds, size_t genre);
/** 1 if `item` has genre `genre`, 0 if not or out of range. */
GATREC_API int gatrec_dataset_item_has_genre(const gatrec_dataset *ds, int32_t item, size_t genre);
/** A user's age, or -1 when unknown. */
GATREC_API int gatrec_dataset_user_age(const gatrec_dataset *ds, int32_t user);
/** A user's gender as the dataset writes it ("M", "F"), or NULL. */
GATREC_API const char *gatrec_dataset_user_gender(const gatrec_dataset *ds, int32_t user);
/** A user's occupation, or NULL. */
GATREC_API const char *gatrec_dataset_user_occupation(const gatrec_dataset *ds, int32_t user);

/* ---------------------------------------------------------------------------------------- */
/* Data directory and download                                                              */
/* ---------------------------------------------------------------------------------------- */

/**
 * The data directory: $GATREC_DATA_DIR if set, else $HOME/.cache/gatrec. Written to `buf`
 * (NUL-terminated); GATREC_EOVERFLOW when `size` is too small.
 */
GATREC_API int gatrec_data_dir(char *buf, size_t size);

/** Download progress: bytes done and expected (0 when unknown). Return non-zero to cancel. */
typedef int (*gatrec_progress_cb)(void *payload, uint64_t done, uint64_t total);

/**
 * Download a dataset ("ml-100k" or "ml-1m") from GroupLens into `data_dir` (NULL: the data
 * directory above), verify the zip's SHA-256 against the published value, and unpack it to
 * "<data_dir>/<name>/". Nothing is downloaded when that directory already holds the dataset's
 * ratings file. The archive is held in memory (under 64 MiB) and nothing is unpacked unless the
 * checksum matches (GATREC_ECHECKSUM otherwise). $GATREC_FETCH_BASE_URL, when set, replaces the
 * GroupLens base URL (a mirror); the checksum still decides. `progress` may be NULL.
 */
GATREC_API int gatrec_data_fetch(const char *name, const char *data_dir, gatrec_progress_cb progress,
                                 void *payload);

/* ---------------------------------------------------------------------------------------- */
/* Splits                                                                                   */
/* ---------------------------------------------------------------------------------------- */

/** Which part of a split a rating belongs to. */
typedef enum gatrec_part {
    GATREC_PART_TRAIN = 0,
    GATREC_PART_VALID = 1,
    GATREC_PART_TEST = 2,
    GATREC_PART_NONE = 3, /**< in no part (e.g. not listed by an official split) */
    /** A cold user's ratings that are shown to the model at serving time only (fold-in), never in
        training nor scored: the "cold-users" split (since 0.3) */
    GATREC_PART_REVEAL = 4
} gatrec_part;

/**
 * An official split of the dataset's directory: "u1".."u5", "ua", "ub" read "<dir>/NAME.base"
 * and "<dir>/NAME.test". A rating listed there that the dataset lacks is an error.
 */
GATREC_API int gatrec_split_official(const gatrec_dataset *ds, const char *name, gatrec_split **out);
/**
 * Per-user random split: each user's ratings are shuffled with `seed` and round(n * test_ratio)
 * go to test, round(n * valid_ratio) to validation, the rest (at least one) to train.
 */
GATREC_API int gatrec_split_random(const gatrec_dataset *ds, double test_ratio, double valid_ratio,
                                   uint64_t seed, gatrec_split **out);
/**
 * Leave-last-out by timestamp: each user's latest rating goes to test and, when `valid` is
 * non-zero, the one before it to validation. Users with too few ratings stay in train. Ties
 * in time are broken by the order of the ratings in the dataset.
 */
GATREC_API int gatrec_split_leave_last(const gatrec_dataset *ds, int valid, gatrec_split **out);
/** Global temporal split: the latest `test_ratio` of all ratings to test, the `valid_ratio` before them to validation. */
GATREC_API int gatrec_split_temporal(const gatrec_dataset *ds, double test_ratio, double valid_ratio,
                                     gatrec_split **out);
/** A split from one gatrec_part per rating (`parts[i]` for rating i). */
GATREC_API int gatrec_split_from_parts(const gatrec_dataset *ds, const uint8_t *parts, gatrec_split **out);
/**
 * Strict cold-start splits (since 0.3). Items: a seeded `ratio` of the items (at least one, at
 * least one left) leave training with every rating; their ratings are the test part.
 */
GATREC_API int gatrec_split_cold_items(const gatrec_dataset *ds, double ratio, uint64_t seed, gatrec_split **out);
/**
 * Users: a seeded `ratio` of the users leave training; each reveals `reveal` of their ratings
 * (seeded; GATREC_PART_REVEAL: shown to the model at serving time through fold-in, see
 * gatrec_model_fold_in_revealed()) and the rest are the test part. A chosen user with no more
 * than `reveal` ratings reveals all but one.
 */
GATREC_API int gatrec_split_cold_users(const gatrec_dataset *ds, double ratio, size_t reveal, uint64_t seed,
                                       gatrec_split **out);
/**
 * A split from a textual spec, as the command line takes it: "u1".."u5", "ua", "ub",
 * "random:TEST[:VALID]", "leave-last", "leave-last:valid", "temporal:TEST[:VALID]",
 * "cold-items:R", "cold-users:R[:N]" (N revealed ratings, default 5); any of them without a
 * validation part may end in "+valid:R" to move R of each user's training ratings (shuffled
 * with `seed`) to validation, e.g. "u1+valid:0.1". `seed` is used by "random", the cold splits
 * and "+valid".
 */
GATREC_API int gatrec_split_parse(const gatrec_dataset *ds, const char *spec, uint64_t seed,
                                  gatrec_split **out);
GATREC_API void gatrec_split_free(gatrec_split *split);
/** Number of ratings in `part`. */
GATREC_API size_t gatrec_split_count(const gatrec_split *split, int part);
/** The gatrec_part of rating `i`, or GATREC_EINVAL when out of range. */
GATREC_API int gatrec_split_part(const gatrec_split *split, size_t i);
/** Write the ratings of `part` as "user<TAB>item<TAB>rating<TAB>timestamp" lines (dataset ids), atomically. */
GATREC_API int gatrec_split_write(const gatrec_split *split, int part, const char *path);

/* ---------------------------------------------------------------------------------------- */
/* Graph                                                                                    */
/* ---------------------------------------------------------------------------------------- */

#define GATREC_GRAPH_OPTIONS_VERSION 2
typedef struct gatrec_graph_options {
    unsigned int version;     /**< GATREC_GRAPH_OPTIONS_VERSION */
    float liked_threshold;    /**< a rating >= this is "liked"; default 4 */
    float disliked_threshold; /**< a rating <= this is "disliked"; default 2 */
    /* version 2 */
    int part;                 /**< the gatrec_part of the split taken as edges; default GATREC_PART_TRAIN
                                   (GATREC_PART_VALID gives the validation graph a model early-stops on) */
} gatrec_graph_options;
#define GATREC_GRAPH_OPTIONS_INIT { GATREC_GRAPH_OPTIONS_VERSION, 4.0f, 2.0f, GATREC_PART_TRAIN }
GATREC_API int gatrec_graph_options_init(gatrec_graph_options *opts, unsigned int version);

/**
 * The graph of the training part of `split` (or of `opts->part`; all ratings when `split` is NULL). It has every
 * user and item of the dataset as a node, and keeps the dataset's id maps (and string keys). `opts` may be NULL:
 * then the thresholds are the dataset's (gatrec_dataset_semantics(): 4 and 2 but for an imported log).
 */
GATREC_API int gatrec_graph_new(const gatrec_dataset *ds, const gatrec_split *split,
                                const gatrec_graph_options *opts, gatrec_graph **out);
/** A graph from edge arrays of dense indices (ids equal indices). `ratings` may be NULL (all 1). */
GATREC_API int gatrec_graph_from_edges(size_t num_users, size_t num_items, size_t num_edges,
                                       const int32_t *users, const int32_t *items, const float *ratings,
                                       const gatrec_graph_options *opts, gatrec_graph **out);
GATREC_API void gatrec_graph_free(gatrec_graph *graph);
GATREC_API size_t gatrec_graph_num_users(const gatrec_graph *graph);
GATREC_API size_t gatrec_graph_num_items(const gatrec_graph *graph);
GATREC_API size_t gatrec_graph_num_edges(const gatrec_graph *graph);
/** A user's rated items (ascending) and ratings; the arrays belong to the graph. */
GATREC_API int gatrec_graph_user_items(const gatrec_graph *graph, int32_t user, const int32_t **items,
                                       const float **ratings, size_t *count);
/** An item's raters (ascending) and ratings; the arrays belong to the graph. */
GATREC_API int gatrec_graph_item_users(const gatrec_graph *graph, int32_t item, const int32_t **users,
                                       const float **ratings, size_t *count);

/**
 * Read input features for the nodes of `graph` from a text file (docs/features.md): one line
 * per node, "user<TAB>ID<TAB>v1 v2 ... vD" or "item<TAB>ID<TAB>...", the same D on every line
 * (values separated by spaces, tabs or commas; '#' lines and blank lines skipped). Every user
 * and item of the graph needs exactly one line. On success `*features` is a new
 * (users + items) x `*dim` matrix, users first, in the graph's index order - the layout of
 * gatrec_model_options.features - to be released with gatrec_features_free().
 */
GATREC_API int gatrec_features_load(const gatrec_graph *graph, const char *path, float **features, size_t *dim);
GATREC_API void gatrec_features_free(float *features);

#define GATREC_GRAPH_STATS_VERSION 1
/** Degree statistics of a graph. */
typedef struct gatrec_graph_stats {
    unsigned int version;       /**< set by the caller: GATREC_GRAPH_STATS_VERSION */
    size_t users, items, edges;
    size_t liked_edges;         /**< edges with rating >= liked_threshold */
    size_t disliked_edges;      /**< edges with rating <= disliked_threshold */
    size_t isolated_users;      /**< users without any edge */
    size_t isolated_items;      /**< items without any edge */
    size_t user_degree_min, user_degree_max;
    size_t item_degree_min, item_degree_max;
    double user_degree_mean, item_degree_mean;
    double density;             /**< edges / (users * items) */
} gatrec_graph_stats;
/** Fill `stats` (whose `version` the caller sets) with the graph's statistics. */
GATREC_API int gatrec_graph_stats_get(const gatrec_graph *graph, gatrec_graph_stats *stats);

/* ---------------------------------------------------------------------------------------- */
/* Recommendation lists                                                                     */
/* ---------------------------------------------------------------------------------------- */

GATREC_API int gatrec_reclist_new(size_t num_users, gatrec_reclist **out);
GATREC_API void gatrec_reclist_free(gatrec_reclist *list);
GATREC_API size_t gatrec_reclist_num_users(const gatrec_reclist *list);
/** Set `user`'s list to `items` with ranks 1..n (replaces any earlier list; duplicates are refused). */
GATREC_API int gatrec_reclist_set(gatrec_reclist *list, int32_t user, const int32_t *items, size_t n);
/** `user`'s list in rank order; `*items` is NULL and `*n` 0 when the user has none. */
GATREC_API int gatrec_reclist_get(const gatrec_reclist *list, int32_t user, const int32_t **items, size_t *n);
/**
 * Read a CSV with a header holding the columns user_id, item_id and rank (dataset ids; other
 * columns are ignored) against `ds`. Each user's rows are sorted by rank; only ranks <= K
 * count when evaluating at K. Unknown users or items are GATREC_ENOTFOUND with the line.
 */
GATREC_API int gatrec_reclist_load_csv(const gatrec_dataset *ds, const char *path, gatrec_reclist **out);
/**
 * Write "user_id,item_id,rank" lines (with that header) using the ids of `model` (or of `ds`
 * when `model` is NULL), atomically.
 */
GATREC_API int gatrec_reclist_save_csv(const gatrec_reclist *list, const gatrec_model *model,
                                       const gatrec_dataset *ds, const char *path);

/* ---------------------------------------------------------------------------------------- */
/* Evaluation                                                                               */
/* ---------------------------------------------------------------------------------------- */

/** Evaluation protocols (see docs/evaluation.md). */
typedef enum gatrec_protocol {
    /** Full ranking over unseen items; denominators K; users with at least one relevant item. */
    GATREC_PROTOCOL_STANDARD = 1,
    /** The protocol of arXiv 2508.01514: the top-K filtered to each user's test items. */
    GATREC_PROTOCOL_PAPER = 2
} gatrec_protocol;

#define GATREC_EVAL_OPTIONS_VERSION 2
typedef struct gatrec_eval_options {
    unsigned int version;       /**< GATREC_EVAL_OPTIONS_VERSION */
    int protocol;               /**< a gatrec_protocol; default GATREC_PROTOCOL_STANDARD */
    size_t k;                   /**< cut-off; default 10 */
    float relevance_threshold;  /**< a test rating >= this is relevant; default 4 */
    int part;                   /**< the split part evaluated against; default GATREC_PART_TEST */
    /* version 2 */
    size_t min_train_ratings;   /**< only users with at least this many training ratings; default 0 */
    size_t max_train_ratings;   /**< only users with at most this many training ratings; 0 = no bound
                                     (the cold-start slice: e.g. 1..20) */
} gatrec_eval_options;
#define GATREC_EVAL_OPTIONS_INIT { GATREC_EVAL_OPTIONS_VERSION, GATREC_PROTOCOL_STANDARD, 10, 4.0f, GATREC_PART_TEST, 0, 0 }
GATREC_API int gatrec_eval_options_init(gatrec_eval_options *opts, unsigned int version);

#define GATREC_METRICS_VERSION 1
/** Metrics at K; which users each mean runs over depends on the protocol (docs/evaluation.md). */
typedef struct gatrec_metrics {
    unsigned int version;  /**< set by the caller: GATREC_METRICS_VERSION */
    int protocol;
    size_t k;
    size_t users;          /**< users evaluated */
    double precision, recall, ndcg, map, hit_rate, mrr;
    double coverage;       /**< distinct recommended items / items (see docs) */
    double novelty;        /**< mean self-information -log2 p(item) of recommended items (see docs) */
} gatrec_metrics;

/**
 * Evaluate `list` against the `opts->part` ratings of `split`. Users with no list are treated
 * as having an empty one (standard protocol) or left out (paper protocol).
 */
GATREC_API int gatrec_evaluate(const gatrec_dataset *ds, const gatrec_split *split,
                               const gatrec_reclist *list, const gatrec_eval_options *opts,
                               gatrec_metrics *metrics);

/* ---------------------------------------------------------------------------------------- */
/* Models                                                                                   */
/* ---------------------------------------------------------------------------------------- */

typedef enum gatrec_model_kind {
    GATREC_MODEL_POP = 1,      /**< popularity: the number of training ratings of an item */
    GATREC_MODEL_BPR = 2,      /**< BPR matrix factorisation ("bpr") */
    GATREC_MODEL_LIGHTGCN = 3, /**< LightGCN ("lightgcn") */
    GATREC_MODEL_GAT = 4,      /**< the GATv2 network of docs/model.md ("gat") */
    GATREC_MODEL_EASE = 5,     /**< EASE, the closed-form item-item model of Steck (2019) ("ease"; since 0.3) */
    GATREC_MODEL_CONTENT = 6,  /**< content baseline: the cosine of a user's mean liked item features and an
                                    item's features; needs features ("content"; since 0.3) */
    GATREC_MODEL_ATTN = 7      /**< graph attention on ID + text, shaped like LightGCN: layer 0 is an ID
                                    embedding plus a linear map of the node's text features, then attention-
                                    weighted propagation without weights or non-linearities, read out as the
                                    mean of the layers (docs/model.md; "attn"; since 0.3) */
} gatrec_model_kind;

/** The loss a learned kind trains with (gatrec_model_options.loss; since 0.3). */
typedef enum gatrec_loss {
    /** BPR, -log sigmoid(s(u,i) - s(u,j)) over sampled negatives, plus the cosine term (the default). */
    GATREC_LOSS_BPR = 0,
    /** Softmax cross-entropy of the positive against every item with training ratings (negatives 0),
        or against `negatives` items sampled per step and shared by the batch, on cosine scores
        divided by a temperature; optionally plus a uniformity term (DirectAU). */
    GATREC_LOSS_SOFTMAX = 1,
    /** The kind's own default (options version 5): the softmax for attn, BPR for the others. */
    GATREC_LOSS_DEFAULT = -1
} gatrec_loss;

/** The kind's name ("pop", "bpr", "lightgcn", "gat", "ease", "content", "attn"), or NULL for an unknown kind. */
GATREC_API const char *gatrec_model_kind_name(int kind);
/** The kind named `name`, or GATREC_ENOTFOUND. */
GATREC_API int gatrec_model_kind_from_name(const char *name);

/** How negatives are drawn for each positive (user, liked item) pair. */
typedef enum gatrec_negatives {
    /** Uniform over items the user neither liked nor disliked in training (the paper's "robust" sampling). */
    GATREC_NEG_ROBUST = 0,
    /** Uniform over items the user did not like (disliked items may be drawn). */
    GATREC_NEG_UNIFORM = 1,
    /** Like ROBUST, but in proportion to an item's training ratings to the power 0.75. */
    GATREC_NEG_POPULARITY = 2,
    /** The highest-scored of 8 ROBUST draws ("hard" negatives). */
    GATREC_NEG_HARD = 3
} gatrec_negatives;

/** Switches of the GAT network (gatrec_model_options.gat_flags); 0 = the paper's network. */
enum {
    GATREC_GAT_NO_EDGE_ATTR = 1,  /**< do not feed the rating into attention */
    GATREC_GAT_NO_LAYERNORM = 2,  /**< no LayerNorm after each convolution */
    GATREC_GAT_NO_RESIDUAL = 4,   /**< no residual connection */
    GATREC_GAT_NO_SELF_LOOPS = 8  /**< no self loops (a node does not attend to itself) */
};

/** What layer 0 of an attn model is made of (gatrec_model_options.inputs; since 0.3). */
typedef enum gatrec_inputs {
    GATREC_INPUTS_DEFAULT = 0, /**< ID + text when features are given, else ID only */
    GATREC_INPUTS_ID_TEXT = 1, /**< a free ID embedding plus a learned linear map of the text features */
    GATREC_INPUTS_ID = 2,      /**< the ID embedding alone (no text; new items cannot be scored) */
    GATREC_INPUTS_TEXT = 3     /**< the mapped text alone (no ID table: a new item needs only its text) */
} gatrec_inputs;

/** How the optimiser updates an embedding table (gatrec_model_options.optimizer; since 0.3). */
typedef enum gatrec_optimizer {
    GATREC_OPTIMIZER_AUTO = 0,  /**< lazy for a table of more than 2^24 parameters where it applies, else dense */
    GATREC_OPTIMIZER_DENSE = 1, /**< AdamW on every parameter at every step */
    GATREC_OPTIMIZER_LAZY = 2   /**< AdamW on the rows a step's gradient touches; the weight decay and the
                                     moments' decay of the steps a row sat out are applied when it is
                                     touched again (and at each epoch's end); the momentum's drift over
                                     those steps is left out. BPR-MF (its gradient is row-sparse), and the
                                     tables of attn and the GAT with `fanout` (the subgraph's rows) */
} gatrec_optimizer;

/** Switches of the attn model (gatrec_model_options.attn_flags; since 0.3). */
enum {
    GATREC_ATTN_UNIFORM = 1,     /**< no attention: LightGCN's symmetric degree weights throughout */
    GATREC_ATTN_NO_EDGE_ATTR = 2 /**< do not feed the rating into attention */
};

#define GATREC_EPOCH_VERSION 1
/** What a training epoch reports to gatrec_model_options.on_epoch. */
typedef struct gatrec_epoch {
    unsigned int version; /**< GATREC_EPOCH_VERSION */
    int epoch;            /**< 1-based */
    int max_epochs;
    double loss;          /**< bpr + cos_weight * cos */
    double bpr;           /**< mean -log sigmoid(s(u,i) - s(u,j)); with the softmax loss, its cross-entropy */
    double cos;           /**< mean 1 - cos(h_u, h_i) over liked pairs (0 for kinds without it) */
    double valid_ndcg;    /**< validation NDCG@eval_k, or NaN without a validation graph */
    double lr;            /**< learning rate used in this epoch */
    double seconds;       /**< wall time of this epoch (training and validation) */
    int best_epoch;       /**< the epoch whose parameters are kept so far */
} gatrec_epoch;
/** Called after every epoch; a non-zero return stops training with GATREC_ECANCELLED. */
typedef int (*gatrec_epoch_cb)(void *payload, const gatrec_epoch *epoch);

#define GATREC_MODEL_OPTIONS_VERSION 7
/**
 * How to train a model. Initialise with GATREC_MODEL_OPTIONS_INIT or gatrec_model_options_init().
 * Fields added in version N are read only from a struct whose version is N or more. A zero
 * (or, where stated, negative) value means "the kind's default", listed in docs/model.md.
 */
typedef struct gatrec_model_options {
    unsigned int version;  /**< GATREC_MODEL_OPTIONS_VERSION */
    int kind;              /**< a gatrec_model_kind; default GATREC_MODEL_POP */
    uint64_t seed;         /**< seed of every random choice; default 1 */
    int threads;           /**< threads this model may use; 0 = all cores; default 0 */
    /* version 2 */
    int epochs;            /**< maximum epochs; 0 = default (GAT 300, LightGCN 400, BPR 300; attn 25, or 200
                                with a validation graph, which stops it early) */
    size_t dim;            /**< embedding width (BPR, LightGCN, attn, random GAT input features); 0 = 64
                                (BPR and attn 256) */
    const char *layers;    /**< GAT layers "UNITSxHEADS[m],..." (m: mean of heads); NULL = "64x4,64x4,64x1" */
    int propagation;       /**< LightGCN and attn propagation layers; 0 = 3 (attn 2) */
    float lr;              /**< AdamW learning rate; 0 = default (GAT 5e-3, BPR 2e-3, LightGCN 5e-3, attn 5e-3) */
    float weight_decay;    /**< AdamW decoupled weight decay; negative = default (GAT 1e-5, LightGCN 0.1, BPR 1,
                                attn 0) */
    float cos_weight;      /**< lambda of the cosine term; negative = default (GAT 1, or 0.5 with caller
                                features; others 0) */
    float dropout;         /**< GAT dropout between layers; negative = default (0.1) */
    int negatives;         /**< negatives per positive; 0 = the kind's default (GAT 4, others 1). With the
                                softmax loss: items sampled per step for the whole batch, 0 = every item */
    int negative_sampling; /**< a gatrec_negatives; default GATREC_NEG_ROBUST */
    size_t batch_size;     /**< positive pairs per step; 0 = full batch (one step per epoch) */
    int patience;          /**< epochs without improvement before stopping; 0 = 15 on the training loss,
                                50 on a validation graph (its NDCG is noisier); negative = never */
    int lr_patience;       /**< ReduceLROnPlateau patience; 0 = 5 */
    float lr_factor;       /**< ReduceLROnPlateau factor; 0 = 0.4 */
    size_t eval_k;         /**< K of the validation NDCG; 0 = 10 */
    /** Ratings to early-stop on (a graph of GATREC_PART_VALID over the same dataset), or NULL:
        then the training loss is monitored. */
    const gatrec_graph *validation;
    /** GAT input features: (users + items) rows of feature_dim floats, users first, in the
        graph's index order; copied. NULL = random trainable features of width `dim`. Every value
        finite and at most 1e4 in magnitude (an embedder's output is near unit scale; since 0.3). */
    const float *features;
    size_t feature_dim;
    int freeze_features;   /**< non-zero: the input features are not trained */
    int gat_flags;         /**< GATREC_GAT_* switches */
    float attention_slope; /**< LeakyReLU slope inside attention; 0 = 0.2 */
    float activation_slope;/**< LeakyReLU slope after LayerNorm; 0 = 0.01 */
    const char *kernels;   /**< "fast" or "reference"; NULL = $GATREC_KERNELS, else "fast" */
    gatrec_epoch_cb on_epoch; /**< may be NULL */
    void *payload;         /**< passed to on_epoch */
    /* version 3 */
    float feature_weight_decay; /**< weight decay of the GAT's trainable input features (an embedding
                                     table wants far more than the layers); negative = weight_decay */
    /* version 4 */
    float lambda;          /**< EASE's L2 regularisation; 0 = default (250) */
    int loss;              /**< a gatrec_loss for BPR-MF, LightGCN, the GAT and attn; default (version 5)
                                GATREC_LOSS_DEFAULT: the softmax for attn, BPR for the others.
                                With GATREC_LOSS_SOFTMAX, `negatives` 0 means every item */
    float temperature;     /**< softmax temperature over cosine scores; 0 = 0.2 */
    float uniformity;      /**< weight of the softmax loss's uniformity term (DirectAU); 0 = none */
    /* version 5 */
    int inputs;            /**< attn: a gatrec_inputs; default GATREC_INPUTS_DEFAULT */
    int attn_flags;        /**< attn: GATREC_ATTN_* switches */
    size_t attention_dim;  /**< attn: width of the attention's endpoint projections; 0 = 16 */
    float id_dropout;      /**< attn: the share of ID embeddings dropped (zeroed) at each training step,
                                so that the text learns to stand in for them; negative = default (0) */
    float align;           /**< attn: weight of the contrastive alignment (InfoNCE over up to 1024 items a
                                step, at `temperature`) of each item's output with its mapped text, so
                                that a new item's text lands where its ratings would have put it; 0 = none */
    /* version 6 */
    int optimizer;         /**< a gatrec_optimizer; default GATREC_OPTIMIZER_AUTO */
    int ranks;             /**< data-parallel training (docs/scale.md): how many processes train this
                                model together, each on its share of every batch; 0 or 1 = alone */
    int rank;              /**< this process's place among them, 0 .. ranks - 1 */
    /** With ranks > 1: sum `data[0..n)` element-wise over the ranks, in place, leaving the same
        result on every rank (e.g. MPI_Allreduce with a fixed reduction order); called by every
        rank at the same points with the same n; non-zero stops training with GATREC_ERROR.
        A rank whose training fails (any status) returns at once while the others wait in their
        next allreduce for it: the host must then end every rank (MPI_Abort), as `gatrec`'s
        MPI build does; the reduction carries no status. */
    int (*allreduce)(void *payload, float *data, size_t n);
    void *allreduce_payload; /**< passed to allreduce */
    size_t fanout;         /**< attn and the GAT: neighbour sampling - each training step computes its
                                batch's nodes on a subgraph in which every node within reach keeps at
                                most `fanout` of its neighbours (drawn per step and node, seeded), so
                                that a step's memory and time do not grow with the graph; serving
                                stays exact (the whole graph). Mini-batches (`batch_size` 0 becomes
                                4096); with the softmax loss `negatives` 0 becomes 1024 sampled items;
                                with BPR any negative sampling but hard. 0 = the whole graph every
                                step (docs/scale.md) */
    /* version 7 */
    float dislike_weight;  /**< attn: a rating at or below the graph's disliked threshold propagates with
                                gain -dislike_weight (it pushes the user away from the item's
                                neighbourhood, in training and fold-in alike); 0 = default (0.3),
                                negative = none (every rating propagates alike) */
    float new_user_share;  /**< attn: new-user practice - the share of users that, at each training
                                step, lose their ID, keep `new_user_ratings` of their rated items and
                                read the mean user text, as a user folded in from a few ratings does;
                                0 = default (0.3; none with `fanout`), negative = none */
    size_t new_user_ratings; /**< attn: the rated items a practising user keeps; 0 = default (5) */
    float popularity_prior; /**< attn: b in score(u, i) = cos(u, i) + b log(1 + training ratings of i),
                                 the item bias a cosine has no room for (new users gain most); 0 =
                                 default (0.08), negative = none */
} gatrec_model_options;
#define GATREC_MODEL_OPTIONS_INIT { GATREC_MODEL_OPTIONS_VERSION, GATREC_MODEL_POP, 1, 0, 0, 0, NULL, 0, 0.0f, \
        -1.0f, -1.0f, -1.0f, 0, GATREC_NEG_ROBUST, 0, 0, 0, 0.0f, 0, NULL, NULL, 0, 0, 0, 0.0f, 0.0f, NULL, NULL, NULL, -1.0f, \
        0.0f, GATREC_LOSS_DEFAULT, 0.0f, 0.0f, GATREC_INPUTS_DEFAULT, 0, 0, -1.0f, 0.0f, \
        GATREC_OPTIMIZER_AUTO, 0, 0, NULL, NULL, 0, 0.0f, 0.0f, 0, 0.0f }
GATREC_API int gatrec_model_options_init(gatrec_model_options *opts, unsigned int version);

/** Train a model of `opts->kind` on `graph` (opts may be NULL for the defaults). */
GATREC_API int gatrec_model_train(const gatrec_graph *graph, const gatrec_model_options *opts,
                                  gatrec_model **out);
GATREC_API void gatrec_model_free(gatrec_model *model);
GATREC_API int gatrec_model_get_kind(const gatrec_model *model);
GATREC_API size_t gatrec_model_num_users(const gatrec_model *model);
GATREC_API size_t gatrec_model_num_items(const gatrec_model *model);
GATREC_API int gatrec_model_user_index(const gatrec_model *model, int64_t user_id, int32_t *index);
GATREC_API int gatrec_model_item_index(const gatrec_model *model, int64_t item_id, int32_t *index);
GATREC_API int64_t gatrec_model_user_id(const gatrec_model *model, int32_t index);
GATREC_API int64_t gatrec_model_item_id(const gatrec_model *model, int32_t index);
/** A user's string key, carried from an imported dataset, or NULL (since 0.3). */
GATREC_API const char *gatrec_model_user_key(const gatrec_model *model, int32_t index);
/** An item's string key, or NULL (since 0.3). */
GATREC_API const char *gatrec_model_item_key(const gatrec_model *model, int32_t index);
/** Index of the user whose key is `key`; GATREC_ENOTFOUND when none (since 0.3). */
GATREC_API int gatrec_model_find_user(const gatrec_model *model, const char *key, int32_t *index);
/** Index of the item whose key is `key`; GATREC_ENOTFOUND when none (since 0.3). */
GATREC_API int gatrec_model_find_item(const gatrec_model *model, const char *key, int32_t *index);
/**
 * Give a user (or item) added by fold-in a string key, saved with the model (since 0.3). At most
 * 256 bytes, not empty; GATREC_EDUPLICATE when another one has it, GATREC_EINVAL when this one
 * has another key already.
 */
GATREC_API int gatrec_model_set_user_key(gatrec_model *model, int32_t index, const char *key);
GATREC_API int gatrec_model_set_item_key(gatrec_model *model, int32_t index, const char *key);
/** Scores of `n` items for `user` (higher is better). A transductive kind (BPR-MF, LightGCN, EASE)
    scores an item without training ratings -infinity: it knows nothing of it, and ranks it last. */
GATREC_API int gatrec_model_score(const gatrec_model *model, int32_t user, const int32_t *items, size_t n,
                                  float *scores);
/**
 * The `k` best items for `user`, excluding the items the user rated in training, best first.
 * `items` and `scores` (may be NULL) hold room for `k`; `*count` receives how many were written.
 * Ties go to the lower item index.
 */
GATREC_API int gatrec_model_recommend(const gatrec_model *model, int32_t user, size_t k, int32_t *items,
                                      float *scores, size_t *count);
#define GATREC_REQUEST_OPTIONS_VERSION 2
/**
 * gatrec_request_options.flags: score the user alone. By default a user's scores come from the
 * product of its whole block of 32 users, so that one user's list and gatrec_model_recommend_all()'s
 * agree to the bit; alone, an embedding model does 1/32 of that arithmetic (a served attn list
 * is several times faster), and its scores may differ from the block's in the last bits - two
 * items within a rounding of each other may swap places (since 0.3).
 */
#define GATREC_REQUEST_ALONE 1u
/** Rules of one recommendation request (gatrec_model_recommend_request(); since 0.3). */
typedef struct gatrec_request_options {
    unsigned int version;   /**< GATREC_REQUEST_OPTIONS_VERSION */
    const int32_t *exclude; /**< item indices never to return this time (bought, out of stock), or NULL */
    size_t nexclude;
    const int32_t *only;    /**< when not NULL: rank only these item indices (repeats count once) */
    size_t nonly;
    /* version 2 */
    unsigned int flags;     /**< 0, or GATREC_REQUEST_ALONE */
} gatrec_request_options;
#define GATREC_REQUEST_OPTIONS_INIT { GATREC_REQUEST_OPTIONS_VERSION, NULL, 0, NULL, 0, 0u }
/**
 * gatrec_model_recommend() under the rules of `opts` (NULL: none): the `k` best items the user
 * has not rated, not in `exclude` and, when `only` is given, in `only`. Exactly min(k, the
 * eligible items) are written (an item the model cannot score still counts, ranked last). An
 * index out of range is GATREC_EINVAL (since 0.3).
 */
GATREC_API int gatrec_model_recommend_request(const gatrec_model *model, int32_t user, size_t k,
                                              const gatrec_request_options *opts, int32_t *items, float *scores,
                                              size_t *count);
/** gatrec_model_recommend() for every user, into a new list. */
GATREC_API int gatrec_model_recommend_all(const gatrec_model *model, size_t k, gatrec_reclist **out);
/**
 * gatrec_model_recommend_all() ranking only the `n` `candidates` (item indices; repeats count
 * once), e.g. the items without training ratings of a cold-item split (since 0.3).
 */
GATREC_API int gatrec_model_recommend_all_among(const gatrec_model *model, size_t k, const int32_t *candidates,
                                                size_t n, gatrec_reclist **out);
/**
 * The lists gatrec_model_recommend_all() gives (or _all_among() with the `ncand` `candidates`
 * when `candidates` is not NULL) for the `count` users `first` .. `first + count - 1` only, set
 * into `list` (of gatrec_model_num_users() users, from gatrec_reclist_new()); the other users'
 * lists are left as they are. For serving sharded over processes: each takes a range of users
 * and the gathered lists are recommend_all's, to the bit (since 0.3).
 */
GATREC_API int gatrec_model_recommend_range(const gatrec_model *model, size_t k, int32_t first, size_t count,
                                            const int32_t *candidates, size_t ncand, gatrec_reclist *list);
/**
 * How many ratings of `part` in `split` (of `ds`) the model trained on: the same user and item
 * among its training ratings. Anything but 0 for the test part means the split is not the one
 * the model was trained on, and its scores would be meaningless (`gatrec eval` refuses them;
 * since 0.3).
 */
GATREC_API int gatrec_model_count_trained(const gatrec_model *model, const gatrec_dataset *ds,
                                          const gatrec_split *split, int part, size_t *count);
/**
 * Fold in, in place, every user of the model who has GATREC_PART_REVEAL ratings in `split` (a
 * "cold-users" split of `ds`, the dataset the model was trained on): their ratings become the
 * user's training items (excluded from recommendations) and their embedding is computed from
 * them as gatrec_model_add_user() would. `*folded` (may be NULL) receives how many users. A
 * user who has training ratings in the model is GATREC_EINVAL; a transductive kind (BPR-MF,
 * LightGCN) is GATREC_EUNSUPPORTED (since 0.3).
 */
GATREC_API int gatrec_model_fold_in_revealed(gatrec_model *model, const gatrec_dataset *ds, const gatrec_split *split,
                                             size_t *folded);
/**
 * The `k` items most similar to `item` (cosine of the final embeddings around the mean item
 * embedding; popularity models: items liked by the same users), best first, `item` itself excluded.
 */
GATREC_API int gatrec_model_similar_items(const gatrec_model *model, int32_t item, size_t k, int32_t *items,
                                          float *scores, size_t *count);
/**
 * Attention evidence for recommending `item` to `user`: the items the user liked (rated at or
 * above the liked threshold; since 0.3 a disliked item is never evidence) in training that most
 * supported it, with weights summing to 1 over those returned. For a GAT the weight of a rated
 * item j is the attention the user's node gave j (mean over layers and heads) times the
 * positive part of the cosine of h_j and h_item around the mean item embedding; other kinds
 * use that cosine alone. `items` and `weights`
 * hold room for `k`. GATREC_EUNSUPPORTED for popularity models.
 */
GATREC_API int gatrec_model_evidence(const gatrec_model *model, int32_t user, int32_t item, size_t k,
                                     int32_t *items, float *weights, size_t *count);
/**
 * Fold in a new user without retraining: its embedding comes from the trained layers applied to
 * its `n` (item index, rating) pairs (and its input features, `feature_dim` floats, when the model
 * was trained on caller features; NULL = the mean user feature). The user gets the next index,
 * written to `*index`, and works with every serving function. A repeated id is GATREC_EDUPLICATE.
 * GAT, content, EASE and popularity models fold users in (the last two score a user from their
 * ratings alone); BPR-MF and LightGCN cannot (GATREC_EUNSUPPORTED).
 */
GATREC_API int gatrec_model_add_user(gatrec_model *model, int64_t user_id, const int32_t *items,
                                     const float *ratings, size_t n, const float *features, int32_t *index);
/**
 * A known user's new ratings, without retraining (returning users): the `n` (item index,
 * rating) pairs join the ratings the model holds of `user` (an item rated again takes its new
 * rating), which are excluded from recommendations from then on and saved with the model; the
 * user's embedding is computed again from all of them, as fold-in computes a new user's (attn,
 * GAT: through the trained layers from the user's own input state; content: from what they
 * liked; EASE and popularity read the ratings when scoring). The items' states and popularity
 * stay as trained (retrain to carry a user's ratings into the items). Costs O(the model's
 * ratings) for the move of the rows after the user's. BPR-MF and LightGCN cannot
 * (GATREC_EUNSUPPORTED) (since 0.3).
 */
GATREC_API int gatrec_model_update_user(gatrec_model *model, int32_t user, const int32_t *items, const float *ratings,
                                        size_t n);
/** Fold in a new item from its input features alone (NULL = the mean item feature; the content model needs
    them); see gatrec_model_add_user(). GAT and content models only. */
GATREC_API int gatrec_model_add_item(gatrec_model *model, int64_t item_id, const float *features, int32_t *index);
/**
 * The width of the input features fold-in reads (the `features` of gatrec_model_add_user()): the
 * GAT's when it was trained on caller features, the content model's; 0 when the model takes
 * none (the other kinds, and a GAT trained on its own random features) (since 0.3).
 */
GATREC_API size_t gatrec_model_feature_dim(const gatrec_model *model);
/**
 * gatrec_model_add_user() with the features' length checked: `feature_len` must equal
 * gatrec_model_feature_dim() (GATREC_EINVAL otherwise, and for non-finite values); features NULL
 * with length 0 take the mean user feature. Prefer it whenever features come from elsewhere
 * (an embedder, a binding), since gatrec_model_add_user() cannot know how many were given (since 0.3).
 */
GATREC_API int gatrec_model_add_user_checked(gatrec_model *model, int64_t user_id, const int32_t *items,
                                             const float *ratings, size_t n, const float *features, size_t feature_len,
                                             int32_t *index);
/**
 * Fold a user in for the span of one call and take them out again (since 0.3): the user of
 * gatrec_model_add_user_checked() with these ratings and features (items are model indices;
 * features NULL with length 0: the mean user's) exists, at model index `*user`, while `fn(model,
 * user, ctx)` runs - it may recommend, score, explain - and afterwards the model is as it was (its
 * user count, ids, lists and file). fn may read the model and update this user; it cannot add a user or
 * set a user key meanwhile (GATREC_EINVAL). fn's non-zero return is returned. For a service's "what would
 * a new user with these ratings get" without the model growing: the call changes the model while
 * it runs, so nothing else may use the model meanwhile (a host serving threads takes a write lock
 * around it; gatrec_model_add_user() has the same rule).
 */
GATREC_API int gatrec_model_try_user(gatrec_model *model, const int32_t *items, const float *ratings, size_t n,
                                     const float *features, size_t feature_len,
                                     int (*fn)(gatrec_model *model, int32_t user, void *ctx), void *ctx);
/** gatrec_model_add_item() with the features' length checked, as gatrec_model_add_user_checked() (since 0.3). */
GATREC_API int gatrec_model_add_item_checked(gatrec_model *model, int64_t item_id, const float *features,
                                             size_t feature_len, int32_t *index);
/**
 * A template justification of recommending `item` to `user`, without an LLM: the evidence items
 * with their weights and the genres the item shares with the strongest one ("because you liked
 * Heat (1995) (41%) and ...; like the first, it is Crime and Thriller"), or its popularity when
 * no liked item speaks for it (a popularity model; "no ratings yet; popular: ..." for a user
 * with no ratings). `ds` (may be NULL) supplies titles and genres. Free with gatrec_string_free().
 */
GATREC_API int gatrec_model_explain(const gatrec_model *model, const gatrec_dataset *ds, int32_t user, int32_t item,
                                    char **text);
/**
 * Keep the state of the embedder that made the model's input features (hashed or LSA) in the
 * model and its file, so that a new user's or item's profile embeds exactly as the training
 * texts did (then gatrec_model_add_user_checked() with those features). A remote embedder is
 * kept as its model's name and width (bind a client to the one gatrec_model_get_embedder() gives).
 * GATREC_EUNSUPPORTED for a callback embedder; GATREC_EINVAL when the model takes no input
 * features (gatrec_model_feature_dim() 0) or reads another width than the embedder writes.
 */
GATREC_API int gatrec_model_set_embedder(gatrec_model *model, const gatrec_embedder *embedder);
/** A new embedder from the state the model carries (free it); GATREC_ENOTFOUND when it has none. */
GATREC_API int gatrec_model_get_embedder(const gatrec_model *model, gatrec_embedder **out);
/**
 * What the model holds of `user`: their training (or folded-in) ratings, by item index in
 * ascending order. `*count` receives how many there are; the first min(k, count) are written
 * to `items` and `ratings` (either may be NULL when k is 0). A user with none is scored by
 * popularity (no signal to say more; gatrec_model_explain() says so) (since 0.3).
 */
GATREC_API int gatrec_model_user_ratings(const gatrec_model *model, int32_t user, int32_t *items, float *ratings,
                                         size_t k, size_t *count);
/** How many training ratings of `item` the model saw, and how many of them were liked. */
GATREC_API int gatrec_model_item_popularity(const gatrec_model *model, int32_t item, size_t *ratings,
                                            size_t *liked);
/** Attach a text value to the model under `key` (stored in the file); NULL value removes it. */
GATREC_API int gatrec_model_set_info(gatrec_model *model, const char *key, const char *value);
/** The value stored under `key`, or NULL. */
GATREC_API const char *gatrec_model_info(const gatrec_model *model, const char *key);
/**
 * Save to `path`: magic, format version, configuration, id maps, parameters and a checksum,
 * written to a temporary file in the same directory and renamed over `path`.
 */
GATREC_API int gatrec_model_save(const gatrec_model *model, const char *path);
/**
 * Load a model file. A file of another format is GATREC_EFORMAT, a newer format version
 * GATREC_EVERSION, a short file GATREC_ETRUNCATED, a corrupted one GATREC_ECHECKSUM.
 */
GATREC_API int gatrec_model_load(const char *path, gatrec_model **out);

/* ---------------------------------------------------------------------------------------- */
/* The LLM: a transport the host may supply, and the client above it                        */
/* ---------------------------------------------------------------------------------------- */

/** Receives a response body (in one or more chunks); non-zero stops the transfer. */
typedef int (*gatrec_llm_sink)(const char *chunk, size_t len, void *sink_ctx);

#define GATREC_LLM_TRANSPORT_VERSION 1
/**
 * How requests reach an LLM. The host may supply its own (its network stack, its auth, its
 * proxy); gatrec_llm_transport_http() is the built-in one. Everything above it - prompts, JSON,
 * cache, validation - is the same whichever transport is plugged in.
 */
typedef struct gatrec_llm_transport {
    unsigned int version; /**< GATREC_LLM_TRANSPORT_VERSION */
    void *userdata;
    /**
     * POST `body` (JSON, OpenAI-compatible) to `path` ("/v1/chat/completions", "/v1/embeddings")
     * and deliver the response body through `sink`; set `*http_status`. Return 0, or a negative
     * status (GATREC_EUSER for the host's own failure; it is passed through unchanged). May be
     * called from several threads at once when the client's concurrency is above 1.
     */
    int (*send)(void *userdata, const char *path, const char *body, size_t body_len, gatrec_llm_sink sink,
                void *sink_ctx, long timeout_ms, int *http_status);
    /** Releases userdata (may be NULL); called by gatrec_llm_free(). */
    void (*free)(void *userdata);
} gatrec_llm_transport;

#define GATREC_HTTP_OPTIONS_VERSION 1
typedef struct gatrec_http_options {
    unsigned int version;      /**< GATREC_HTTP_OPTIONS_VERSION */
    const char *base_url;      /**< e.g. "https://api.openai.com", "http://127.0.0.1:8080" (llama-server),
                                    "http://localhost:11434/v1" (Ollama); NULL = $GATREC_LLM_BASE_URL */
    long connect_timeout_ms;   /**< default 10000 */
    int max_retries;           /**< retries on connection errors, 429 and 5xx; default 4 (a timeout is
                                    retried once at most: since 0.3) */
    long retry_base_ms;        /**< first backoff ceiling, doubled each retry, full jitter; default 500 */
    long retry_max_ms;         /**< longest wait, Retry-After included; default 30000 */
    size_t max_response_bytes; /**< larger answers are refused; default 8 MiB */
    int verify_tls;            /**< default 1 */
} gatrec_http_options;
#define GATREC_HTTP_OPTIONS_INIT { GATREC_HTTP_OPTIONS_VERSION, NULL, 10000, 4, 500, 30000, 8u << 20, 1 }
GATREC_API int gatrec_http_options_init(gatrec_http_options *opts, unsigned int version);
/**
 * The built-in transport: libcurl, OpenAI-compatible. The API key is read from
 * $GATREC_LLM_API_KEY, else $OPENAI_API_KEY, and sent only as a bearer token (never logged,
 * cached or saved). Safe for threaded hosts (CURLOPT_NOSIGNAL).
 */
GATREC_API int gatrec_llm_transport_http(const gatrec_http_options *opts, gatrec_llm_transport *out);

/** An LLM client: models, cache, concurrency, over a transport. */
typedef struct gatrec_llm gatrec_llm;

/** How a chat asks for JSON (gatrec_llm_options.response_format; since 0.3). */
typedef enum gatrec_llm_format {
    /** A JSON schema of the answer's shape where the library knows it (profiles, reranking,
        justifications: response_format json_schema, which OpenAI, vLLM, llama.cpp and Ollama
        enforce), else json_object; a server that refuses either with HTTP 400 is asked again
        without it, once, and the client remembers that for the rest of its life. */
    GATREC_LLM_FORMAT_SCHEMA = 0,
    GATREC_LLM_FORMAT_OBJECT = 1, /**< response_format json_object only (not enforced by every server) */
    GATREC_LLM_FORMAT_NONE = 2    /**< no response_format: the prompt alone asks for JSON */
} gatrec_llm_format;

#define GATREC_LLM_OPTIONS_VERSION 2
typedef struct gatrec_llm_options {
    unsigned int version;        /**< GATREC_LLM_OPTIONS_VERSION */
    const char *chat_model;      /**< NULL = $GATREC_LLM_MODEL, else the only model the server lists
                                      (built-in transport; since 0.3), else "gpt-4o-mini" */
    const char *embedding_model; /**< NULL = $GATREC_LLM_EMBEDDING_MODEL, else "text-embedding-3-small" */
    const char *cache_dir;       /**< answers cached here (see docs/llm.md); NULL = no cache */
    long timeout_ms;             /**< per request; 0 = 60000 */
    int concurrency;             /**< requests in flight in gatrec_llm_chat_many(); 0 = 4 */
    int max_tokens;              /**< per chat answer; 0 = 700 */
    /* version 2 */
    int response_format;         /**< a gatrec_llm_format; default GATREC_LLM_FORMAT_SCHEMA */
} gatrec_llm_options;
#define GATREC_LLM_OPTIONS_INIT { GATREC_LLM_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, GATREC_LLM_FORMAT_SCHEMA }
GATREC_API int gatrec_llm_options_init(gatrec_llm_options *opts, unsigned int version);
/** A client over `transport`, which it takes over (its free runs in gatrec_llm_free()) on success. */
GATREC_API int gatrec_llm_new(const gatrec_llm_transport *transport, const gatrec_llm_options *opts,
                              gatrec_llm **out);
GATREC_API void gatrec_llm_free(gatrec_llm *llm);
/**
 * One chat completion: an optional system message and a user message. `json_mode` asks for a
 * JSON object (response_format). `*reply` is a new string freed with gatrec_string_free().
 * Answers come from the cache when the same request was answered before.
 */
GATREC_API int gatrec_llm_chat(gatrec_llm *llm, const char *system, const char *user, float temperature,
                               int json_mode, char **reply);
/**
 * `n` chats with up to `concurrency` in flight. replies[k] (freed with gatrec_string_free()) and
 * statuses[k] per request; returns the first failure's status (naming the request), or 0.
 * `progress` (may be NULL) is called as answers arrive; non-zero cancels what has not started.
 */
GATREC_API int gatrec_llm_chat_many(gatrec_llm *llm, size_t n, const char *const *systems,
                                    const char *const *users, float temperature, int json_mode, char **replies,
                                    int *statuses, gatrec_progress_cb progress, void *payload);
GATREC_API void gatrec_string_free(char *s);

#define GATREC_LLM_STATS_VERSION 1
typedef struct gatrec_llm_stats {
    unsigned int version; /**< set by the caller: GATREC_LLM_STATS_VERSION */
    uint64_t requests;    /**< requests sent to the transport */
    uint64_t cache_hits;  /**< answers taken from the cache */
    uint64_t failures;    /**< requests that failed (after the transport's retries) */
} gatrec_llm_stats;
/**
 * Why this client's requests failed so far (since 0.3): one line per distinct reason, "COUNT x
 * REASON" (the error message up to its first " ("), most frequent first, at most `max` lines plus
 * one counting the rest; a new string (gatrec_string_free()), or NULL when nothing failed. Answers
 * that arrived but held nothing usable (e.g. no profile) are counted too.
 */
GATREC_API char *gatrec_llm_failure_report(const gatrec_llm *llm, size_t max);
/**
 * The chat model of this client (since 0.3): the name the server gave in its first answer, else
 * the one asked for - the options' `chat_model`, else $GATREC_LLM_MODEL, else, with the built-in
 * transport, the only model the server lists at GET /v1/models (asked once), else
 * "gpt-4o-mini". Valid until gatrec_llm_free().
 */
GATREC_API const char *gatrec_llm_model(gatrec_llm *llm);
GATREC_API int gatrec_llm_get_stats(const gatrec_llm *llm, gatrec_llm_stats *stats);

/* ---------------------------------------------------------------------------------------- */
/* Profiles and embedders: the text side of the node features                              */
/* ---------------------------------------------------------------------------------------- */

/** Texts describing users and items (LLM-written or templates), by dataset id. */
typedef struct gatrec_profiles gatrec_profiles;

typedef enum gatrec_node_kind {
    GATREC_NODE_USER = 0,
    GATREC_NODE_ITEM = 1
} gatrec_node_kind;

GATREC_API int gatrec_profiles_new(gatrec_profiles **out);
GATREC_API void gatrec_profiles_free(gatrec_profiles *profiles);
/** Set (or replace) the profile of a user or item (`kind` a gatrec_node_kind); `text` is UTF-8, copied. */
GATREC_API int gatrec_profiles_set(gatrec_profiles *profiles, int kind, int64_t id, const char *text);
/** The profile of a user or item, or NULL; it belongs to the store. */
GATREC_API const char *gatrec_profiles_get(const gatrec_profiles *profiles, int kind, int64_t id);
/** How many users (or items) have a profile. */
GATREC_API size_t gatrec_profiles_count(const gatrec_profiles *profiles, int kind);
/**
 * Import profiles from a CSV file with a header (RFC 4180, multi-line quoted fields): the
 * columns `id_column` (dataset ids) and `text_column`. Empty texts are skipped; an id with a
 * second row is GATREC_EDUPLICATE naming both lines (0.2 kept the last text).
 * `*imported` (may be NULL) receives how many rows were taken. The ids are not checked against a
 * dataset: gatrec_profiles_keep_known() does that.
 */
GATREC_API int gatrec_profiles_import_csv(gatrec_profiles *profiles, int kind, const char *path,
                                          const char *id_column, const char *text_column, size_t *imported);
/**
 * Drop the profiles of the users (`kind` GATREC_NODE_USER) or items that `ds` does not have -
 * imported from a file made for another dataset, say; `*dropped` (may be NULL) receives how many.
 * The others keep their order.
 */
GATREC_API int gatrec_profiles_keep_known(gatrec_profiles *profiles, const gatrec_dataset *ds, int kind,
                                          size_t *dropped);
/**
 * Give every user and item of `graph` that has no profile a template one written from the data
 * (no LLM): an item's title, year, genres and attached text (gatrec_dataset_load_item_texts);
 * a user's latest 10 liked and 10 disliked training items with their genres and favourite
 * genres. `*filled` (may be NULL) receives how many were written.
 */
GATREC_API int gatrec_profiles_fill_templates(gatrec_profiles *profiles, const gatrec_dataset *ds,
                                              const gatrec_graph *graph, size_t *filled);
/** Save as JSON Lines ({"kind": "user"|"item", "id": N, "text": "..."}), atomically. */
GATREC_API int gatrec_profiles_save(const gatrec_profiles *profiles, const char *path);
/** Load a file written by gatrec_profiles_save(); errors name the line. */
GATREC_API int gatrec_profiles_load(const char *path, gatrec_profiles **out);

/** The two forms of user profile of the paper. */
typedef enum gatrec_profile_form {
    /** One paragraph from the latest <= 10 five-star and <= 10 one/two-star training items, as JSON
        {"user_profile": "..."} (the form behind the paper's headline numbers). */
    GATREC_PROFILE_INTEGRATED = 0,
    /** Markdown (## Overview, ## Attributes, ## Description, ## Dislikes) built over up to four
        turns: 5 liked items, the next 5 liked, then up to 2 batches of 5 disliked. */
    GATREC_PROFILE_STRUCTURED = 1
} gatrec_profile_form;

#define GATREC_PROFILE_OPTIONS_VERSION 3
typedef struct gatrec_profile_options {
    unsigned int version;    /**< GATREC_PROFILE_OPTIONS_VERSION */
    int users, items;        /**< which kinds to write; default both 1 */
    int user_form;           /**< a gatrec_profile_form; default GATREC_PROFILE_INTEGRATED */
    int overwrite;           /**< 0 (default): only nodes without a profile */
    float temperature;       /**< negative = default 0.7 */
    /** Prompt templates, NULL = built in (docs/llm.md). Items: {title} {year} {genres} {overview};
        integrated users: {liked} {disliked}. */
    const char *item_prompt, *user_prompt;
    gatrec_progress_cb progress; /**< may be NULL; non-zero cancels */
    void *payload;
    /* version 2 (since 0.3) */
    int shards;              /**< split the work between processes: 0 or 1 = every node; else only the */
    int shard;               /**< items and users whose graph index modulo `shards` is `shard` */
    /* version 3 (since 0.3) */
    size_t limit;            /**< at most this many items and this many users are asked (the first to
                                  ask, by graph index): a trial run; 0 = all */
} gatrec_profile_options;
#define GATREC_PROFILE_OPTIONS_INIT { GATREC_PROFILE_OPTIONS_VERSION, 1, 1, GATREC_PROFILE_INTEGRATED, 0, -1.0f, \
        NULL, NULL, NULL, NULL, 0, 0, 0 }
GATREC_API int gatrec_profile_options_init(gatrec_profile_options *opts, unsigned int version);
/**
 * Have the LLM write the profiles of the graph's items (title, year, genres, attached text) and
 * users (from their training ratings only) with up to the client's concurrency in flight. A
 * node whose answer fails or is unusable keeps no profile and is counted in `*failed` (fill the
 * gaps with gatrec_profiles_fill_templates()); a user the structured form has nothing to ask
 * about (no liked or disliked training rating) is neither generated nor failed. Answers are cached by the client, so a rerun
 * after a crash asks only what was not answered.
 */
GATREC_API int gatrec_profiles_generate(gatrec_profiles *profiles, gatrec_llm *llm, const gatrec_dataset *ds,
                                        const gatrec_graph *graph, const gatrec_profile_options *opts,
                                        size_t *generated, size_t *failed);

/* ---------------------------------------------------------------------------------------- */
/* The reranker and justifications                                                          */
/* ---------------------------------------------------------------------------------------- */

/** Reorders a model's candidates with an LLM and explains recommendations. */
typedef struct gatrec_reranker gatrec_reranker;

/** The four reranking strategies of the paper (docs/rerank.md). */
typedef enum gatrec_rerank_strategy {
    GATREC_RERANK_LIST = 0,     /**< the whole candidate list in one prompt */
    GATREC_RERANK_PAIRWISE = 1, /**< pairwise "which is more relevant" into a binary search tree */
    GATREC_RERANK_BATCH = 2,    /**< overlapping batches of 5, merged */
    GATREC_RERANK_SCORE = 3     /**< relevance 0-100 in batches of 5, each candidate scored 3 times, averaged */
} gatrec_rerank_strategy;

/** How the LLM's ranking is fused with the model's (normalised ranks, weight on the LLM). */
typedef enum gatrec_fusion {
    GATREC_FUSION_RANK_DEPENDENT = 0, /**< the authors' code: 0.9 for LLM ranks 1-5, 0.7 for 6-10, 0.5 beyond */
    GATREC_FUSION_FLAT = 1,           /**< the paper: 80% LLM, 20% model */
    GATREC_FUSION_WEIGHT = 2,         /**< llm_weight */
    GATREC_FUSION_NONE = 3            /**< the LLM's order alone */
} gatrec_fusion;

#define GATREC_RERANKER_OPTIONS_VERSION 2
typedef struct gatrec_reranker_options {
    unsigned int version; /**< GATREC_RERANKER_OPTIONS_VERSION */
    int strategy;         /**< a gatrec_rerank_strategy; default GATREC_RERANK_LIST */
    int fusion;           /**< a gatrec_fusion; default GATREC_FUSION_RANK_DEPENDENT */
    float llm_weight;     /**< for GATREC_FUSION_WEIGHT; default 0.8 */
    float temperature;    /**< default 0.3 */
    /* version 2 (since 0.3) */
    const char *domain;   /**< what the items are, plural, 1 to 40 bytes (gatrec_dataset_semantics()): the
                               prompts speak of it; NULL (default) or "movies": the movie prompts. Copied */
} gatrec_reranker_options;
#define GATREC_RERANKER_OPTIONS_INIT { GATREC_RERANKER_OPTIONS_VERSION, GATREC_RERANK_LIST, \
        GATREC_FUSION_RANK_DEPENDENT, 0.8f, 0.3f, NULL }
GATREC_API int gatrec_reranker_options_init(gatrec_reranker_options *opts, unsigned int version);
/** A reranker asking `llm` (which must outlive it). */
GATREC_API int gatrec_reranker_new(gatrec_llm *llm, const gatrec_reranker_options *opts, gatrec_reranker **out);
GATREC_API void gatrec_reranker_free(gatrec_reranker *reranker);
/**
 * Rerank `n` (at most 64) candidates given best first by the model (`ids`, with a text each:
 * title and profile) for a user described by `user_profile`; `out` receives the fused order.
 * The output is always a permutation of `ids`: labels the answer invents are ignored, repeats
 * count once, missing candidates follow in model order, and no candidate's text can change
 * that. When the LLM's answer is unusable `out` holds the model's order and the status says
 * so (GATREC_EFORMAT, or the transport's failure).
 */
GATREC_API int gatrec_reranker_rerank(gatrec_reranker *reranker, const char *user_profile, const int64_t *ids,
                                      const char *const *texts, size_t n, int64_t *out);
/**
 * One or two sentences on why `item_title` suits the user, grounded in the profile and the
 * user's evidence items (gatrec_model_evidence()). An answer that names a title ("Title (YYYY)")
 * other than the item and the evidence is refused (GATREC_EFORMAT); use
 * gatrec_model_explain() then. `*justification` is freed with gatrec_string_free().
 */
GATREC_API int gatrec_reranker_justify(gatrec_reranker *reranker, const char *user_profile, const char *item_title,
                                       const char *item_text, const char *const *evidence_titles, size_t n_evidence,
                                       char **justification);

#define GATREC_EMBEDDER_OPTIONS_VERSION 1
/** The offline hashed TF-IDF embedder (see docs/embedder.md). */
typedef struct gatrec_embedder_options {
    unsigned int version; /**< GATREC_EMBEDDER_OPTIONS_VERSION */
    size_t dim;           /**< output width (hash buckets); default 384 */
    int max_ngram;        /**< word n-grams 1..max_ngram; default 2 */
    int sublinear_tf;     /**< weight 1 + ln(tf) instead of tf; default 1 */
} gatrec_embedder_options;
#define GATREC_EMBEDDER_OPTIONS_INIT { GATREC_EMBEDDER_OPTIONS_VERSION, 384, 2, 1 }
GATREC_API int gatrec_embedder_options_init(gatrec_embedder_options *opts, unsigned int version);
/**
 * The built-in offline embedder: word n-grams hashed (FNV-1a, signed) into `dim` buckets,
 * weighted by (sublinear) term frequency times the inverse document frequency learned by
 * gatrec_embedder_fit(), L2-normalised. Needs no network and no model download.
 */
GATREC_API int gatrec_embedder_new_hashed(const gatrec_embedder_options *opts, gatrec_embedder **out);
/**
 * The offline semantic embedder (latent semantic analysis, since 0.3): word n-grams weighted by
 * (sublinear) TF-IDF over the terms found in at least two texts of the corpus it is fitted on
 * (gatrec_embedder_fit(), required before embedding), projected on the corpus's top `dim`
 * singular directions by a randomised SVD on BLIS, L2-normalised. Texts that share no word but
 * whose words co-occur across the corpus land close together, which hashed TF-IDF cannot do.
 * `dim` (default 384) must be below the number of texts and of kept terms. Its state (terms,
 * idf, projection) saves like the hashed embedder's, so later texts embed the same way.
 */
GATREC_API int gatrec_embedder_new_lsa(const gatrec_embedder_options *opts, gatrec_embedder **out);
/**
 * A host embedder: `cb` writes n x dim floats for n texts and returns 0, or a negative status
 * (GATREC_EUSER for its own failures; a message set before returning is kept).
 */
typedef int (*gatrec_embed_cb)(void *userdata, const char *const *texts, size_t n, float *out, size_t dim);
GATREC_API int gatrec_embedder_new_callback(size_t dim, gatrec_embed_cb cb, void *userdata, gatrec_embedder **out);
/**
 * The remote embedder: the LLM's /v1/embeddings endpoint (batches of 64 inputs, answers put in
 * order by their index, their width checked against `dim`, cached like chats). `llm` must
 * outlive the embedder.
 */
GATREC_API int gatrec_embedder_new_remote(gatrec_llm *llm, size_t dim, gatrec_embedder **out);
/* (since 0.3: `dim` 0 asks the endpoint for its width with one short text; the embedder records
 * the client's embeddings model name, and saves as that name and width: embedder format 3.) */
/**
 * Give a remote embedder an LLM client (since 0.3): one loaded from a file or from a model
 * (gatrec_model_get_embedder()) knows its model's name and width but not where to send; it asks
 * `llm`'s endpoint for the model it recorded. `llm` must outlive the embedder. GATREC_EINVAL for
 * any other kind of embedder.
 */
GATREC_API int gatrec_embedder_bind_llm(gatrec_embedder *embedder, gatrec_llm *llm);
/** The embeddings model a remote embedder asks for (since 0.3), or NULL for any other kind. */
GATREC_API const char *gatrec_embedder_remote_model(const gatrec_embedder *embedder);
GATREC_API void gatrec_embedder_free(gatrec_embedder *embedder);
GATREC_API size_t gatrec_embedder_dim(const gatrec_embedder *embedder);
/** Learn from a corpus (the hashed embedder's idf; the LSA embedder's terms, idf and projection);
    a no-op for callbacks and the remote embedder. */
GATREC_API int gatrec_embedder_fit(gatrec_embedder *embedder, const char *const *texts, size_t n);
/** Embed `n` texts into out[n x dim]. */
GATREC_API int gatrec_embedder_embed(gatrec_embedder *embedder, const char *const *texts, size_t n, float *out);
/** Save / load an offline embedder's state (hashed: settings and idf; LSA: also its terms and
    projection), so later texts embed the same way. */
GATREC_API int gatrec_embedder_save(const gatrec_embedder *embedder, const char *path);
GATREC_API int gatrec_embedder_load(const char *path, gatrec_embedder **out);
/**
 * The input features of every node of `graph` (users then items, the layout of
 * gatrec_model_options.features) from their profiles through `embedder`, which is fitted on
 * these texts first when it learns from a corpus and has not been fitted. A node without a
 * profile is GATREC_ENOTFOUND. Release with gatrec_features_free().
 */
GATREC_API int gatrec_features_from_profiles(const gatrec_graph *graph, const gatrec_profiles *profiles,
                                             gatrec_embedder *embedder, float **features, size_t *dim);
/** Write features in the text format gatrec_features_load() reads (docs/features.md), atomically. */
GATREC_API int gatrec_features_save(const gatrec_graph *graph, const float *features, size_t dim,
                                    const char *path);

#ifdef __cplusplus
}
#endif

#endif /* GATREC_H */
