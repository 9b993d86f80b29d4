/* Judges one run against its row: the outcome class on each end, the alert
 * that came with a peer-alert, and what was negotiated (both ends agree, and
 * agree with the row). */
#include <stdio.h>
#include <string.h>

#include "runner.h"

typedef struct out {
    char *p;
    size_t cap, len;
} out;

__attribute__((format(printf, 2, 3))) static void add(out *o, const char *fmt, ...)
{
    if (o->len + 4 >= o->cap)
        return;
    if (o->len)
        o->len += (size_t)snprintf(o->p + o->len, o->cap - o->len, "; ");
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len = o->len + (size_t)n < o->cap ? o->len + (size_t)n : o->cap - 1;
}

static const char *cls_name(int cls)
{
    return cls == X_ANY ? "nothing" : tlsplug_error_name(cls);
}

/* peer_external: the other end is a program whose alerts are its own
 * choice, so only tlsplug's classes and the presence of the number count. */
static void judge_class(out *o, const char *side, const cf_expect *e, const cf_side_out *s,
                        int peer_external)
{
    if (e->cls != X_ANY && s->cls != e->cls) {
        if (s->msg[0])
            add(o, "%s: expected %s, got %s (%s)", side, cls_name(e->cls), cls_name(s->cls),
                s->msg);
        else
            add(o, "%s: expected %s, got %s", side, cls_name(e->cls), cls_name(s->cls));
        return;
    }
    if (s->cls == TLSPLUG_E_PEER_ALERT && s->alert < 0)
        add(o, "%s: peer-alert without the alert number (%s)", side, s->msg);
    if (e->cls == TLSPLUG_E_PEER_ALERT && e->alert && !peer_external && s->cls == e->cls &&
        s->alert != e->alert)
        add(o, "%s: expected alert %d, got alert %d (%s)", side, e->alert, s->alert, s->msg);
}

static int best_version(const cf_run *r)
{
    unsigned both = cf_ep_caps(r->cep) & cf_ep_caps(r->sep);
    return both & TLSPLUG_CAP_TLS13 ? TLSPLUG_TLS1_3 : TLSPLUG_TLS1_2;
}

static int best_group(const cf_run *r)
{
    unsigned both = cf_ep_caps(r->cep) & cf_ep_caps(r->sep);
    return both & TLSPLUG_CAP_X25519 ? 29 : 23;
}

static const char *cipher_name(uint16_t id)
{
    const char *n = tlsplug_cipher_name(id);
    return n ? n : "?";
}

static const char *group_name(uint16_t id)
{
    const char *n = id ? tlsplug_group_name(id) : "unknown";
    return n ? n : "?";
}

static void judge_info(out *o, const cf_run *r, const char *side, const cf_expect *e,
                       const tlsplug_info *i)
{
    const cf_case *k = r->k;
    int want_v = k->version == V_BEST ? best_version(r) : k->version;
    if (want_v && i->version != want_v)
        add(o, "%s: version %s, expected %s", side, tlsplug_version_name(i->version),
            tlsplug_version_name(want_v));
    uint16_t want_s = i->version == TLSPLUG_TLS1_3 ? k->suite13 : k->suite12;
    if (want_s && i->cipher_id != want_s)
        add(o, "%s: suite %s, expected %s", side, cipher_name(i->cipher_id), cipher_name(want_s));
    int want_g = k->kx_group == G_BEST ? best_group(r) : k->kx_group;
    if (want_g && i->group_id != want_g)
        add(o, "%s: group %s, expected %s", side, group_name(i->group_id),
            group_name((uint16_t)want_g));
    if (k->alpn && strcmp(i->alpn, k->alpn))
        add(o, "%s: ALPN '%s', expected '%s'", side, i->alpn, k->alpn);
    if (e->peer && strcmp(i->peer_subject, e->peer))
        add(o, "%s: peer '%s', expected '%s'", side, i->peer_subject, e->peer);
    if (e->verified && i->peer_verified != (e->verified == VF_YES))
        add(o, "%s: peer_verified %d, expected %d", side, i->peer_verified,
            e->verified == VF_YES);
}

/* Does the row check anything that only a completed handshake can tell? */
static int expects_info(const cf_case *k, const cf_expect *e)
{
    return k->version || k->suite12 || k->suite13 || k->kx_group || k->alpn || k->sni ||
           e->peer || e->verified;
}

static void judge_agree(out *o, const tlsplug_info *c, const tlsplug_info *s)
{
    if (c->version != s->version)
        add(o, "versions differ: client %s, server %s", tlsplug_version_name(c->version),
            tlsplug_version_name(s->version));
    if (c->cipher_id != s->cipher_id)
        add(o, "suites differ: client %s, server %s", cipher_name(c->cipher_id),
            cipher_name(s->cipher_id));
    /* 0 is "the library cannot say" (a resumed TLS 1.2 session has no key
     * exchange at all); a missing group after a full handshake is judged
     * on its own */
    if (c->group_id && s->group_id && c->group_id != s->group_id)
        add(o, "groups differ: client %s, server %s", group_name(c->group_id),
            group_name(s->group_id));
    if (strcmp(c->alpn, s->alpn))
        add(o, "ALPN differs: client '%s', server '%s'", c->alpn, s->alpn);
    if (c->resumed != s->resumed)
        add(o, "resumed differs: client %d, server %d", c->resumed, s->resumed);
}

int cf_judge(const cf_run *r, char *detail, size_t cap)
{
    const cf_case *k = r->k;
    out o = {detail, cap, 0};
    detail[0] = 0;
    const struct {
        const char *name;
        const cf_expect *e;
        const cf_side_out *s;
    } ends[2] = {{"client", &k->ec, &r->c}, {"server", &k->es, &r->s}};

    for (int i = 0; i < 2; i++) {
        if (!ends[i].s->ran)
            continue; /* an external program: only tlsplug's ends are judged */
        judge_class(&o, ends[i].name, ends[i].e, ends[i].s,
                    (i == 0 ? r->sep : r->cep) >= EP_OPENSSL_PROG);
        if (ends[i].s->info_ok)
            judge_info(&o, r, ends[i].name, ends[i].e, &ends[i].s->info);
        else if (ends[i].s->cls == TLSPLUG_OK && expects_info(k, ends[i].e))
            add(&o, "%s: no connection info", ends[i].name);
        /* every end that completed a handshake names what it negotiated */
        if (ends[i].s->info_ok && !ends[i].s->info.group_id)
            add(&o, "%s: negotiated group unknown", ends[i].name);
        if (k->sni && ends[i].s->info_ok && strcmp(ends[i].s->info.server_name, k->sni))
            add(&o, "%s: server name '%s', expected '%s'", ends[i].name,
                ends[i].s->info.server_name, k->sni);
        if (k->sc == SC_RESUME && k->ec.cls == TLSPLUG_OK) {
            if (!ends[i].s->info2_ok)
                add(&o, "%s: the second connection did not complete", ends[i].name);
            else if (ends[i].s->info2.resumed != k->resumed)
                add(&o, "%s: second connection resumed=%d, expected %d", ends[i].name,
                    ends[i].s->info2.resumed, k->resumed);
        }
    }
    if (r->c.info_ok && r->s.info_ok)
        judge_agree(&o, &r->c.info, &r->s.info);
    if (r->c.info2_ok && r->s.info2_ok)
        judge_agree(&o, &r->c.info2, &r->s.info2);
    if (k->c.verify_cb && r->c.ran && r->c.cls != X_ANY) {
        if (r->c.cb_calls != 1)
            add(&o, "client: verify callback called %d times, expected once", r->c.cb_calls);
        else if (r->c.cb_verdict != k->cb_verdict)
            add(&o, "client: verify callback saw %s, expected %s", cls_name(r->c.cb_verdict),
                cls_name(k->cb_verdict));
    }
    if (r->extra[0])
        add(&o, "%s", r->extra);
    return o.len != 0;
}
