/* SSLKEYLOGFILE: the NSS key log convention Wireshark, curl and browsers
 * share.  With the variable set, every context without its own key-log
 * callback appends one line per secret to that file.
 *
 * The file is opened, appended to and closed for each line rather than kept
 * open: tlsplug keeps no global state beyond the backend registry, this
 * is a debugging aid (a handful of lines per handshake), and one write() of a
 * whole line to an O_APPEND file keeps lines from several threads or
 * processes whole. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/keylog.h"

/* The longest NSS line: a 31-character label, 64 hex digits of client random
 * and 128 of secret (SHA-512 based suites), two spaces. */
#define KEYLOG_LINE_MAX 256

static void keylog_to_file(const tlsplug_conn *conn, const char *line, void *arg)
{
    (void)conn;
    (void)arg;
    const char *path = getenv("SSLKEYLOGFILE");
    size_t len = strlen(line);
    if (!path || !*path || len >= KEYLOG_LINE_MAX)
        return;
    char buf[KEYLOG_LINE_MAX + 1];
    memcpy(buf, line, len);
    buf[len++] = '\n';
    /* 0600: these secrets decrypt the traffic. */
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return;
    ssize_t n = write(fd, buf, len);
    (void)n; /* nowhere to report a failure to: the handshake goes on */
    close(fd);
}

void tlsplug__keylog_from_env(tlsplug_config *cfg, const struct tlsplug_backend *be)
{
    const char *path = getenv("SSLKEYLOGFILE");
    if (!path || !*path || cfg->keylog_cb || !(be->caps() & TLSPLUG_CAP_KEYLOG))
        return;
    cfg->keylog_cb = keylog_to_file;
    cfg->keylog_arg = NULL;
}
