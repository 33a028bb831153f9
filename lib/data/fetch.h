/* Downloading MovieLens (checksum verified) and unpacking its zip archive. */
#ifndef GATREC_FETCH_H
#define GATREC_FETCH_H

#include <stddef.h>

/* Unpack a zip archive held in memory (or a file) below `dest`; `what` names it in errors. */
int gatrec__zip_extract_mem(const void *data, size_t len, const char *dest, const char *what, size_t *nfiles);
int gatrec__zip_extract(const char *zip_path, const char *dest, size_t *nfiles);
/* curl_global_init, once per process, before any curl_easy_init (which runs it unguarded, a race
 * between threads before libcurl 7.84). GATREC_ERROR when libcurl cannot start. */
int gatrec__curl_init(void);

#endif
