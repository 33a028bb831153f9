/* The gatrec command line: shared helpers. */
#ifndef GATREC_CLI_H
#define GATREC_CLI_H

#include <stdio.h>

#include "gatrec.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

/* The commit the program was built from ("" outside git; the Makefile writes it). */
extern const char gatrec__cli_commit[];

typedef struct cli_opt {
    const char *name;   /* "--split", or "-k" */
    const char **value; /* where a value goes, or NULL for a flag */
    int *flag;          /* set to 1 when a flag is given */
} cli_opt;

/* Parse argv[first..] against opts; positional arguments go to pos (up to npos). Prints the
 * problem and returns EXIT_USAGE on an unknown option or a missing value, or -1 for --help. */
int cli_parse(int argc, char **argv, int first, const cli_opt *opts, const char **pos, int npos, int *npos_out);
/* Report a library failure: "gatrec CMD: message". Returns EXIT_FAIL. */
int cli_fail(const char *cmd, int status);
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The index of s among names[0..n), or -1 after printing "NAME must be a, b or c, not 's'". */
int cli_choice(const char *cmd, const char *name, const char *s, const char *const *names, int n);
/* Parse a non-negative integer option; -1 on error (printed). */
long long cli_number(const char *cmd, const char *name, const char *s, long long min, long long max);
/* gatrec_split_parse() for a command: a malformed spec is a usage error (2), other failures 1. */
int cli_split(const char *cmd, const gatrec_dataset *ds, const char *spec, uint64_t seed, gatrec_split **out);
/* Parse a number in [lo, hi] into *out; EXIT_USAGE (printed) on error. */
int cli_float(const char *cmd, const char *name, const char *s, double lo, double hi, float *out);
/* Resolve --dataset (a name under the data directory, or a path) and load it. */
/* Refuse an --out path that cannot be written (empty, a directory, a missing or read-only
 * directory) before any work; returns an exit status. */
int cli_check_output(const char *cmd, const char *path);
/* Refuse (a usage error) an --out that is one of the command's n inputs (the same file, by
 * device and inode; NULL inputs are skipped): the command would overwrite what it reads. */
int cli_check_not_input(const char *cmd, const char *out, const char *const *inputs, size_t n);
/* The whole of the file at `path` into *data (NUL-terminated, *len bytes; free it): 0, or -1
 * with errno when it cannot be opened or read. */
int cli_read_file(const char *path, char **data, size_t *len);
/* Close standard output at the end of a command: a write that failed (a full disk, a closed
 * stdout or pipe) is said on stderr and turns the exit status `rc` into a failure. */
int cli_close_stdout(int rc);
int cli_open_dataset(const char *cmd, const char *spec, gatrec_dataset **ds, char *dir, size_t dirsize);
/* The dataset of folder `dir`: an imported one (dir/dataset.gatrec) or MovieLens; a library status. */
int cli_load_dataset_dir(const char *dir, gatrec_dataset **ds);
/* The LLM named by `url` or $GATREC_LLM_BASE_URL (answers cached in `cache`, default
 * ~/.cache/gatrec/llm), or *out = NULL when none is configured. Returns a library status. */
/* How long an LLM command may wait: --timeout S (else $GATREC_LLM_TIMEOUT, else 60) seconds per
 * request and --retries N (else $GATREC_LLM_RETRIES, else 4) retries of a failed one. */
typedef struct cli_llm_limits {
    float timeout_s;
    long long retries;
    int format; /* --response-format schema|object|none (else $GATREC_LLM_RESPONSE_FORMAT, else schema) */
    const char *embedding_model; /* NULL: $GATREC_LLM_EMBEDDING_MODEL, else the library's default */
    long long max_tokens;        /* --max-tokens N (else $GATREC_LLM_MAX_TOKENS, else the library's 700) */
} cli_llm_limits;
/* Parse them (NULL: the environment, then the default); EXIT_OK or EXIT_USAGE. */
int cli_llm_limits_parse(const char *cmd, const char *timeout_s, const char *retries_s, const char *format_s,
                         const char *max_tokens_s, cli_llm_limits *out);
/* The client's failure report (at most `max` reasons), each line indented on standard error. */
void cli_print_llm_failures(gatrec_llm *llm, size_t max);
int cli_open_llm(const char *url, const char *cache, int concurrency, const cli_llm_limits *limits, gatrec_llm **out);
/* JSON string output (escaped). */
void cli_json_string(FILE *f, const char *s);
/* A progress bar on stderr when it is a terminal; the payload is the label. */
int cli_progress(void *payload, uint64_t done, uint64_t total);

/* The model's dataset folder: the absolute path it recorded, or - when that folder has moved -
 * the same name under the data directory. NULL (with a warning) when neither exists (eval.c). */
const char *cli_model_dataset_dir(const gatrec_model *m, const char *cmd, char *buf, size_t size);

/* A user or item named on the command line: the model's string key when its dataset was imported
 * with string ids (gatrec data import), else a numeric id. `len` bytes of s. Index into *index;
 * a library status (< 0: ENOTFOUND with a message naming it), or EXIT_USAGE (printed) for a
 * non-number given to a model with numeric ids. */
int cli_model_user(const gatrec_model *m, const char *s, size_t len, int32_t *index);
/* The same lookup, quiet (for a service): a library status, or EXIT_USAGE for a non-number given
 * to a model with numeric ids, nothing printed. is_user 1 for users, 0 for items. */
int cli_find_node(const gatrec_model *m, int is_user, const char *s, size_t len, int32_t *index);
/* The title of a model's item from its dataset (NULL when either is missing) */
const char *cli_item_title(const gatrec_model *m, const gatrec_dataset *ds, int32_t item);
int cli_model_item(const gatrec_model *m, const char *s, size_t len, int32_t *index);
/* The longest string id (gatrec data import's limit) */
#define GATREC_CLI_MAX_KEY 256
/* A user id above every one the model holds (for a user folded in) */
int64_t cli_fresh_user_id(const gatrec_model *m);
/* 1 when the model's items have string keys */
int cli_keyed_items(const gatrec_model *m);
/* An item's (user's) name for output: its key, else its id, in buf */
const char *cli_item_name(const gatrec_model *m, int32_t item, char *buf, size_t size);
const char *cli_user_name(const gatrec_model *m, int32_t user, char *buf, size_t size);
/* An item's (user's) id as a JSON value: the key as a string, else the number */
void cli_json_item(FILE *f, const gatrec_model *m, int32_t item);
void cli_json_user(FILE *f, const gatrec_model *m, int32_t user);

int cmd_data(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_update(int argc, char **argv);
int cmd_profiles(int argc, char **argv);
int cmd_embed(int argc, char **argv);

#endif
