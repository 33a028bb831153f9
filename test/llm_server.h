/* An OpenAI-compatible HTTP server on 127.0.0.1 (ephemeral port) that tests script: queued
 * answers (status, headers, body, delay) are served first, then a default handler answers
 * chats through a callback and embeddings with deterministic vectors. Used by the LLM tests
 * and the profile-generation benchmark; needs no network. */
#ifndef GATREC_LLM_SERVER_H
#define GATREC_LLM_SERVER_H

#include <stddef.h>

typedef struct llm_server llm_server;

/* The chat handler of the default path: request body in, reply content out (malloc'd). */
typedef char *(*llm_chat_fn)(const char *request_body, void *ctx);

llm_server *llm_server_start(void);
void llm_server_stop(llm_server *s);
/* "http://127.0.0.1:PORT" */
const char *llm_server_url(const llm_server *s);
/* Queue one scripted answer: HTTP status, extra header lines ("Retry-After: 1\r\n" or NULL), body,
 * and a delay before answering. */
void llm_server_push(llm_server *s, int status, const char *headers, const char *body, long delay_ms);
/* Default path: chat replies from fn (NULL: "ok"), delay per request, embedding width. */
void llm_server_set_chat(llm_server *s, llm_chat_fn fn, void *ctx);
void llm_server_set_delay(llm_server *s, long delay_ms);
/* From now on the default path answers every request with `status` and {"error": {"message":
 * message}} (0: answer normally again). */
void llm_server_set_failure(llm_server *s, int status, const char *message);
/* Embedding requests with more than max_inputs inputs, or an input longer than max_chars (0: no
 * limit), are answered `status` with "input is too large to process" (llama.cpp's words). */
void llm_server_set_embedding_limit(llm_server *s, size_t max_inputs, size_t max_chars, int status);
/* GET /v1/models lists these ids ("a,b"; "" none; NULL: 404). Listings are not counted as
 * requests and never take a scripted answer; llm_server_model_lists() counts them. */
void llm_server_set_models(llm_server *s, const char *ids);
unsigned llm_server_model_lists(llm_server *s);
void llm_server_set_embedding_dim(llm_server *s, size_t dim);
/* Requests received, and the most requests in flight at once. */
unsigned llm_server_requests(llm_server *s);
unsigned llm_server_max_in_flight(llm_server *s);
/* A copy of the last request's body and Authorization header ("" when none); caller frees. */
char *llm_server_last_body(llm_server *s);
char *llm_server_last_auth(llm_server *s);

#endif
