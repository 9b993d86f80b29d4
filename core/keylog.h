/* The SSLKEYLOGFILE convention (core/keylog.c). */
#ifndef TLSPLUG_CORE_KEYLOG_H
#define TLSPLUG_CORE_KEYLOG_H

#include "core/backend.h"

/* When SSLKEYLOGFILE names a file, cfg has no key-log callback and the
 * backend can log keys, install the callback that appends each line to that
 * file.  cfg is a context's own copy, before the backend makes the native
 * context from it. */
void tlsplug__keylog_from_env(tlsplug_config *cfg, const struct tlsplug_backend *be);

#endif
