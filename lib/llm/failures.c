/* Why the LLM client's requests failed: distinct reasons and their counts, and the report the
 * command line prints after a run. */
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "llm.h"

void gatrec__llm_note_failure(gatrec_llm *l, const char *reason)
{
    char key[200], text[200];
    size_t n = strcspn(reason, "\n"), o = 0;
    /* the message is kept whole (a server's "request (4761 tokens) exceeds the available context
     * size (256 tokens)" says what to do); reasons that differ in their numbers alone (sizes,
     * attempts, "after 3 ms") count as one */
    snprintf(text, sizeof text, "%.*s", (int)(n < sizeof text ? n : sizeof text - 1), reason);
    for (size_t k = 0; k < n && o + 1 < sizeof key;) {
        size_t d = k;
        while (d < n && reason[d] >= '0' && reason[d] <= '9')
            d++;
        if (d > k) {
            key[o++] = 'N';
            k = d;
        } else {
            key[o++] = reason[k++];
        }
    }
    key[o] = '\0';
    pthread_mutex_lock(&l->mu);
    size_t k = 0;
    while (k < l->nreasons && strcmp(l->reasons[k].key, key) != 0)
        k++;
    if (k == l->nreasons && k < GATREC__LLM_REASONS) {
        memcpy(l->reasons[l->nreasons].key, key, sizeof key);
        memcpy(l->reasons[l->nreasons++].text, text, sizeof text);
    }
    if (k < l->nreasons)
        l->reasons[k].count++;
    else
        l->unlisted++;
    pthread_mutex_unlock(&l->mu);
}

GATREC_API char *gatrec_llm_failure_report(const gatrec_llm *l, size_t max)
{
    gatrec__buf b = {0};
    size_t order[GATREC__LLM_REASONS], n;
    gatrec_llm *m = (gatrec_llm *)l;
    if (!l)
        return NULL;
    pthread_mutex_lock(&m->mu);
    n = l->nreasons;
    for (size_t k = 0; k < n; k++) /* most frequent first; ties keep their first appearance */
        order[k] = k;
    for (size_t a = 1; a < n; a++)
        for (size_t c = a; c > 0 && l->reasons[order[c]].count > l->reasons[order[c - 1]].count; c--) {
            size_t t = order[c];
            order[c] = order[c - 1];
            order[c - 1] = t;
        }
    uint64_t rest = l->unlisted;
    for (size_t k = 0; k < n; k++) {
        if (k < max)
            gatrec__buf_printf(&b, "%s%llu x %s", k ? "\n" : "", (unsigned long long)l->reasons[order[k]].count,
                               l->reasons[order[k]].text);
        else
            rest += l->reasons[order[k]].count;
    }
    if (rest && n)
        gatrec__buf_printf(&b, "\n%llu x other reasons", (unsigned long long)rest);
    pthread_mutex_unlock(&m->mu);
    if (!b.len) {
        gatrec__buf_free(&b);
        return NULL;
    }
    gatrec__buf_put(&b, "", 1);
    return (char *)b.data;
}

