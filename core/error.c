/* Error records and the stable names of result classes. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"

static const char *const class_names[] = {
    "ok",
    "would-block",
    "closed",
    "truncated",
    "timeout",
    "certificate-expired",
    "certificate-not-yet-valid",
    "certificate-hostname-mismatch",
    "certificate-untrusted",
    "certificate-revoked",
    "certificate-bad-signature",
    "certificate-rejected",
    "certificate-required",
    "certificate-invalid",
    "protocol-version",
    "no-shared-cipher",
    "no-application-protocol",
    "peer-alert",
    "handshake-failure",
    "not-tls",
    "protocol-error",
    "bad-configuration",
    "unsupported-feature",
    "busy",
    "invalid-argument",
    "out-of-memory",
    "io-error",
    "canceled",
    "internal-error",
};

const char *tlsplug_error_name(int result)
{
    if (result == TLSPLUG_WANT_READ)
        return "want-read";
    if (result == TLSPLUG_WANT_WRITE)
        return "want-write";
    if (result > 0 || result < TLSPLUG_ERRCLASS_MIN)
        return "unknown";
    return class_names[-result];
}

int tlsplug__err_vset(struct tlsplug_error *e, int cls, long code, const char *fmt, va_list ap)
{
    e->cls = cls;
    e->code = code;
    e->alert = -1;
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return cls;
}

int tlsplug__err_set(struct tlsplug_error *e, int cls, long code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tlsplug__err_vset(e, cls, code, fmt, ap);
    va_end(ap);
    return cls;
}

/* Stands in for a record whose allocation failed: its class and message are
 * those of the last failure written through it on this thread. */
static _Thread_local struct tlsplug_error scratch;

struct tlsplug_error *tlsplug__err_lazy(struct tlsplug_error **slot)
{
    if (!*slot && !(*slot = tlsplug__calloc(1, sizeof **slot)))
        return &scratch;
    return *slot;
}

const struct tlsplug_error *tlsplug__err_peek(struct tlsplug_error *const *slot)
{
    return *slot ? *slot : &scratch;
}

void tlsplug__err_lost(struct tlsplug_error *e, int cls, long code, int alert)
{
    tlsplug__err_set(e, cls, code, "%s (no memory was left for the message)",
                     tlsplug_error_name(cls));
    e->alert = alert;
}

void tlsplug__err_out(tlsplug_error **out, const struct tlsplug_error *e)
{
    if (out)
        *out = tlsplug_error_copy(e);
}

int tlsplug__err_outf(tlsplug_error **out, int cls, const char *fmt, ...)
{
    if (out) {
        struct tlsplug_error e;
        va_list ap;
        va_start(ap, fmt);
        tlsplug__err_vset(&e, cls, 0, fmt, ap);
        va_end(ap);
        *out = tlsplug_error_copy(&e);
    }
    return cls;
}

int tlsplug_error_class(const tlsplug_error *err)
{
    return err ? err->cls : TLSPLUG_OK;
}

long tlsplug_error_code(const tlsplug_error *err)
{
    return err ? err->code : 0;
}

int tlsplug_error_alert(const tlsplug_error *err)
{
    return err ? err->alert : -1;
}

const char *tlsplug_error_message(const tlsplug_error *err)
{
    return err ? err->msg : "";
}

tlsplug_error *tlsplug_error_copy(const tlsplug_error *err)
{
    return err ? tlsplug__memdup(err, sizeof *err) : NULL;
}

void tlsplug_error_free(tlsplug_error *err)
{
    tlsplug__free(err);
}
