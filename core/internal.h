/* Core-internal structures shared by the core files (not by backends). */
#ifndef TLSPLUG_CORE_INTERNAL_H
#define TLSPLUG_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/backend.h"

/* TLS record framing seen from outside the library: lets core hand bytes to a
 * backend one record at a time and reject non-TLS input uniformly. */
typedef struct tlsplug_rec {
    uint8_t hdr[5];
    uint8_t hdr_got;
    size_t body_left;
    int records;  /* complete headers seen */
    int bad;      /* TLSPLUG_E_NOT_TLS / TLSPLUG_E_PROTOCOL once broken */
} tlsplug_rec;

/* How many of the avail bytes at p may go to the library now (never across
 * the end of the current record); 0 with r->bad set if they are not TLS. */
size_t tlsplug__rec_allow(tlsplug_rec *r, const uint8_t *p, size_t avail);
/* Account n bytes handed to the library. */
void tlsplug__rec_advance(tlsplug_rec *r, const uint8_t *p, size_t n);

typedef struct tlsplug_sess_entry {
    char *name;
    uint8_t *data;
    size_t len;
} tlsplug_sess_entry;

#define TLSPLUG_SESSION_CACHE_MAX 64

struct tlsplug_ctx {
    atomic_int refs;
    const struct tlsplug_backend *be;
    void *bctx;
    tlsplug_config *cfg; /* core's validated copy, lives as long as bctx */
    tlsplug_side side;
    int adopted;
    pthread_mutex_t lock; /* guards the client session store below */
    tlsplug_sess_entry sessions[TLSPLUG_SESSION_CACHE_MAX];
    size_t n_sessions;
};

void tlsplug__ctx_ref(tlsplug_ctx *ctx);
/* Client session store: get copies into *data (tlsplug__free it). */
int tlsplug__ctx_session_get(tlsplug_ctx *ctx, const char *name, uint8_t **data, size_t *len);
void tlsplug__ctx_session_put(tlsplug_ctx *ctx, const char *name, uint8_t *data, size_t len);

/* 0 if name is a usable server name or IP literal, else fills why. */
int tlsplug__check_server_name(const char *name, char *why, size_t whylen);

/* bufcache.c: record-sized ciphertext buffers, with a few spares kept
 * while any connection lives.  Big enough for one maximal TLS 1.2 record
 * (2^14 + 2048 + 5) so a record leaves in one send and arrives in one read. */
#define TLSPLUG_RECBUF_CAP (16384 + 2048 + 5 + 59)
void *tlsplug__recbuf_get(void); /* NULL: out of memory */
void tlsplug__recbuf_put(void *p);
void tlsplug__recbuf_users(int delta); /* +1 per connection made, -1 freed */

/* Engine internals used by aio. */
/* No operation pending: drops the empty buffers and lets the backend
 * release its own even before the first read (tlsplug_conn_idle is the
 * public, always-safe form). */
void tlsplug__conn_idle(tlsplug_conn *conn);
/* Gives back core's empty buffers only: cheap enough for every pause (a
 * library's own release is not, see tlsplug_aio's idle timer). */
void tlsplug__conn_trim(tlsplug_conn *conn);
/* Sends application data for tlsplug_conn_write while the send buffer is
 * empty: returns how many of the len bytes left (0 when the transport takes
 * none now, or failed: the sink keeps that error for its owner to report).
 * What it does not take goes to the send buffer as usual.  It is used only
 * inside the library's write of tlsplug_conn_write: the handshake's records
 * always go through the buffer, so a flight still leaves in one send.
 * fn NULL: none. */
typedef size_t (*tlsplug__sink_fn)(void *arg, const void *p, size_t len);
void tlsplug__conn_set_sink(tlsplug_conn *conn, tlsplug__sink_fn fn, void *arg);
/* Reads up to len bytes of the record body the library is reading, when
 * the receive buffer holds none of it: returns how many arrived (0 when
 * none are there now, at end of file or on an error: the source keeps that
 * for its owner, which reports it at its next read into the buffer).
 * len never reaches past the current record.  fn NULL: none. */
typedef size_t (*tlsplug__source_fn)(void *arg, void *p, size_t len);
void tlsplug__conn_set_source(tlsplug_conn *conn, tlsplug__source_fn fn, void *arg);
/* The sticky failure class, 0 if none (a clean close is not a failure). */
int tlsplug__conn_failed(const tlsplug_conn *conn);
/* 1 if the engine holds ciphertext it has not handed to the library. */
size_t tlsplug__conn_unconsumed(const tlsplug_conn *conn);

#endif
