/* Inputs as records (SPEC §4.3, §7): the shell is told every input an
 * execution accepts (weir_shell.input) and what it produced
 * (weir_shell.input_done); records are turned into JSON and back, and
 * applied again through the public calls they came from. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/exec_internal.h"

#define FNV_OFFSET 0xcbf29ce484222325u
#define FNV_PRIME 0x100000001b3u

static void digest_end(weir_exec *e);

int weir__in_begin(weir_exec *e, weir_input_rec *r, weir_error *err) {
    if (e->in_internal || !e->sh.input) return 0;
    r->tick = e->tick;
    weir_error scratch; /* the hook always has an err to fill (callers may pass NULL) */
    int rc = e->sh.input(e->sh.ud, e, r, err ? err : &scratch);
    if (rc) return rc;
    if (e->in_depth++ == 0 && e->sh.input_done) {
        e->dg_on = true;
        e->dg_hops0 = e->processed;
        e->dg_outputs = 0;
        e->dg_hash = FNV_OFFSET;
    }
    return 0;
}

void weir__in_end(weir_exec *e) {
    if (e->in_internal || !e->sh.input) return;
    if (e->in_depth == 0 || --e->in_depth) return;
    if (!e->dg_on) return;
    digest_end(e);
    weir_input_digest d = {e->tick, e->processed - e->dg_hops0, e->dg_outputs, e->dg_hash, e->state};
    if (e->sh.input_done) e->sh.input_done(e->sh.ud, e, &d);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * FNV_PRIME;
    return h;
}

static int fold_dump(const char *buf, size_t n, void *ud) {
    uint64_t *h = ud;
    *h = fnv(*h, buf, n);
    return 0;
}

void weir__in_output(weir_exec *e, uint32_t node, const char *port, json_t *value) {
    if (!e->dg_on) return;
    const char *id = e->g->nodes[node].id;
    e->dg_outputs++;
    e->dg_hash = fnv(e->dg_hash, id, strlen(id) + 1);
    e->dg_hash = fnv(e->dg_hash, port, strlen(port) + 1);
    /* A value fanned out to many terminals is one shared value: its text is
     * hashed once (the reference kept makes its address its own). */
    if (value != e->dg_value) {
        json_decref(e->dg_value);
        e->dg_value = json_incref(value);
        e->dg_value_hash = FNV_OFFSET;
        e->dg_text.len = 0;
        if (weir__canon_dump(value, &e->dg_text) == 0)
            e->dg_value_hash = fnv(FNV_OFFSET, e->dg_text.p, e->dg_text.len);
        else /* what jansson wrote before it failed, as it always was */
            json_dump_callback(value, fold_dump, &e->dg_value_hash, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
    e->dg_hash = fnv(e->dg_hash, &e->dg_value_hash, sizeof e->dg_value_hash);
}

/* The digest is over: the value kept for it goes. */
static void digest_end(weir_exec *e) {
    e->dg_on = false;
    json_decref(e->dg_value);
    e->dg_value = NULL;
}

static const char *const in_names[] = {NULL,    "start", "inject", "resolve", "pause",    "resume",
                                       "stop",  "hold",  "release", "stepping", "step", "switch",
                                       "upgrade"};

const char *weir_input_kind_name(weir_input_kind k) {
    return k >= WEIR_IN_START && k <= WEIR_IN_UPGRADE ? in_names[k] : NULL;
}

static weir_effect_kind effect_kind_of(const char *name) {
    for (int k = WEIR_EFFECT_TIMER; k <= WEIR_EFFECT_LOG; k++)
        if (strcmp(weir_effect_kind_name((weir_effect_kind)k), name) == 0) return (weir_effect_kind)k;
    return 0;
}

json_t *weir_input_json(const weir_input_rec *in) {
    const char *op = weir_input_kind_name(in->kind);
    if (!op) return NULL;
    /* an upgrade: its body's fields, op first among them */
    json_t *j = in->kind == WEIR_IN_UPGRADE && json_is_object(in->upgrade) ? json_copy(in->upgrade) : json_object();
    if (!j || json_object_set_new(j, "op", json_string(op))) {
        json_decref(j);
        return NULL;
    }
    int bad = 0;
    switch (in->kind) {
    case WEIR_IN_INJECT:
        bad |= json_object_set_new(j, "node", json_string(in->node ? in->node : ""));
        if (in->port) bad |= json_object_set_new(j, "port", json_string(in->port));
        bad |= json_object_set(j, "value", in->value ? in->value : json_null());
        if (in->flags) bad |= json_object_set_new(j, "flags", json_integer((json_int_t)in->flags));
        break;
    case WEIR_IN_RESOLVE:
        bad |= json_object_set_new(j, "effect", json_integer((json_int_t)in->effect));
        bad |= json_object_set_new(j, "kind", json_string(weir_effect_kind_name(in->effect_kind)));
        if (in->error) bad |= json_object_set_new(j, "error", json_string(in->error));
        /* a failure keeps a value it carries (weir_effect_result.value) */
        if (!in->error || (in->result && !json_is_null(in->result)))
            bad |= json_object_set(j, "result", in->result ? in->result : json_null());
        break;
    case WEIR_IN_STEPPING:
        bad |= json_object_set_new(j, "on", json_boolean(in->on));
        break;
    case WEIR_IN_SWITCH:
        bad |= json_object_set_new(j, "from", json_string(in->from ? in->from : ""));
        bad |= json_object_set_new(j, "to", json_string(in->to ? in->to : ""));
        bad |= json_object_set_new(j, "oldNow", json_integer((json_int_t)in->old_now_ms));
        break;
    default:
        break;
    }
    if (bad) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* "<key>": */
static int canon_key(weir_cbuf *b, const char *k, size_t n) {
    if (weir__cbuf_reserve(b, n + 4)) return -1;
    b->p[b->len++] = '"';
    memcpy(b->p + b->len, k, n);
    b->len += n;
    b->p[b->len++] = '"';
    b->p[b->len++] = ':';
    return 0;
}

#define KEY(b, lit) canon_key(b, lit, sizeof lit - 1)

static int canon_lit(weir_cbuf *b, const char *s, size_t n) {
    if (weir__cbuf_reserve(b, n)) return -1;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return 0;
}

#define LIT(b, lit) canon_lit(b, lit, sizeof lit - 1)

static int canon_str(weir_cbuf *b, const char *s) { return weir__canon_string(s, strlen(s), b); }

static int canon_value(weir_cbuf *b, json_t *v) { return v ? weir__canon_dump(v, b) : LIT(b, "null"); }

/* The fields of an inject, a resolve or a record of op alone, written in
 * key order; 1 for a kind written through weir_input_json. */
static int canon_fields(const weir_input_rec *in, weir_cbuf *b) {
    int bad = 0;
    switch (in->kind) {
    case WEIR_IN_INJECT:
        bad |= LIT(b, "{");
        if (in->flags) bad |= KEY(b, "flags") || weir__canon_int((long long)in->flags, b) || LIT(b, ",");
        bad |= KEY(b, "node") || canon_str(b, in->node ? in->node : "");
        bad |= LIT(b, ",\"op\":\"inject\"");
        if (in->port) bad |= LIT(b, ",") || KEY(b, "port") || canon_str(b, in->port);
        bad |= LIT(b, ",") || KEY(b, "value") || canon_value(b, in->value);
        return bad ? -1 : LIT(b, "}");
    case WEIR_IN_RESOLVE: {
        const char *kind = weir_effect_kind_name(in->effect_kind);
        if (!kind) return 1;
        bad |= LIT(b, "{") || KEY(b, "effect") || weir__canon_int((long long)(json_int_t)in->effect, b);
        if (in->error) bad |= LIT(b, ",") || KEY(b, "error") || canon_str(b, in->error);
        bad |= LIT(b, ",") || KEY(b, "kind") || canon_str(b, kind) || LIT(b, ",\"op\":\"resolve\"");
        if (!in->error || (in->result && !json_is_null(in->result)))
            bad |= LIT(b, ",") || KEY(b, "result") || canon_value(b, in->result);
        return bad ? -1 : LIT(b, "}");
    }
    case WEIR_IN_STEPPING:
    case WEIR_IN_SWITCH:
    case WEIR_IN_UPGRADE: return 1;
    default: {
        const char *op = weir_input_kind_name(in->kind);
        if (!op) return -1;
        return LIT(b, "{\"op\":") || canon_str(b, op) || LIT(b, "}") ? -1 : 0;
    }
    }
}

int weir__input_canon(const weir_input_rec *in, weir_cbuf *b) {
    size_t at = b->len;
    int rc = canon_fields(in, b);
    if (rc == 1) {
        json_t *j = weir_input_json(in);
        rc = j ? weir__canon_dump(j, b) : -1;
        json_decref(j);
    }
    if (rc) b->len = at;
    return rc ? -1 : 0;
}

int weir_input_parse(json_t *body, int64_t now_ms, uint64_t tick, weir_input_rec *out, weir_error *err) {
    memset(out, 0, sizeof *out);
    out->now_ms = now_ms;
    out->tick = tick;
    const char *op = json_string_value(json_object_get(body, "op"));
    if (!json_is_object(body) || !op) return weir__error(err, WEIR_EINVAL, "an input record needs an \"op\"");
    for (int k = WEIR_IN_START; k <= WEIR_IN_UPGRADE; k++)
        if (strcmp(in_names[k], op) == 0) out->kind = (weir_input_kind)k;
    if (!out->kind) return weir__error(err, WEIR_EINVAL, "unknown input op \"%s\"", op);
    json_t *v;
    switch (out->kind) {
    case WEIR_IN_INJECT:
        out->node = json_string_value(json_object_get(body, "node"));
        v = json_object_get(body, "port");
        out->port = json_string_value(v);
        out->value = json_object_get(body, "value");
        v = json_object_get(body, "flags");
        if (!out->node || !out->value || (json_object_get(body, "port") && !out->port) || (v && !json_is_integer(v)))
            return weir__error(err, WEIR_EINVAL, "an inject record needs node (string), value and an optional port "
                                                 "(string) and flags (integer)");
        out->flags = (unsigned)json_integer_value(v);
        break;
    case WEIR_IN_RESOLVE: {
        v = json_object_get(body, "effect");
        const char *kind = json_string_value(json_object_get(body, "kind"));
        if (!json_is_integer(v) || !kind || !(out->effect_kind = effect_kind_of(kind)))
            return weir__error(err, WEIR_EINVAL, "a resolve record needs effect (integer) and kind (timer, http, "
                                                 "invoke)");
        out->effect = (uint64_t)json_integer_value(v);
        v = json_object_get(body, "error");
        if (v && !json_is_string(v)) return weir__error(err, WEIR_EINVAL, "a resolve record's error is a string");
        out->error = json_string_value(v);
        out->result = json_object_get(body, "result");
        break;
    }
    case WEIR_IN_STEPPING:
        v = json_object_get(body, "on");
        if (!json_is_boolean(v)) return weir__error(err, WEIR_EINVAL, "a stepping record needs on (boolean)");
        out->on = json_is_true(v);
        break;
    case WEIR_IN_SWITCH:
        out->from = json_string_value(json_object_get(body, "from"));
        out->to = json_string_value(json_object_get(body, "to"));
        v = json_object_get(body, "oldNow");
        if (!out->from || !out->to || !json_is_integer(v))
            return weir__error(err, WEIR_EINVAL, "a switch record needs from, to (strings) and oldNow (integer)");
        out->old_now_ms = json_integer_value(v);
        break;
    case WEIR_IN_UPGRADE:
        if (!json_is_object(json_object_get(body, "graph")))
            return weir__error(err, WEIR_EINVAL, "an upgrade record needs graph (the new graph's document)");
        out->upgrade = body;
        break;
    default:
        break;
    }
    return 0;
}

/* The digest of the last told call is caught here while applying. */
typedef struct apply_catch {
    void (*saved)(void *, weir_exec *, const weir_input_digest *);
    weir_input_digest *out;
    bool got;
} apply_catch;

int weir_exec_apply(weir_exec *e, const weir_input_rec *in, const weir_shell *rt, weir_input_digest *digest,
                    weir_error *err) {
    uint64_t hops0 = e->processed;
    /* A digest of its own, whoever else is told: folded as input_done would. */
    bool own = !e->dg_on && e->in_depth == 0;
    if (own) {
        e->dg_on = true;
        e->dg_hops0 = e->processed;
        e->dg_outputs = 0;
        e->dg_hash = FNV_OFFSET;
    }
    int rc = 0;
    switch (in->kind) {
    case WEIR_IN_START:
        rc = weir_exec_start(e, in->now_ms, err);
        /* an instance's init failed, as it did the first time: failed is its outcome */
        if (rc == WEIR_ERUNTIME && e->state == WEIR_STATE_FAILED) rc = 0;
        break;
    case WEIR_IN_INJECT: {
        weir_inject inj = {in->node, in->port, in->value, in->flags, NULL};
        e->refused_full = false;
        rc = weir_exec_inject(e, &inj, in->now_ms, NULL, err);
        /* refused for a full queue, as the original was: that is its outcome */
        if (rc == WEIR_EFULL && e->refused_full) rc = 0;
        break;
    }
    case WEIR_IN_RESOLVE:
        rc = weir_exec_resolve(e, in->effect, in->result, in->error, in->now_ms, err);
        break;
    case WEIR_IN_PAUSE:
        rc = weir_exec_pause(e, in->now_ms, err);
        break;
    case WEIR_IN_RESUME:
        rc = weir_exec_resume(e, in->now_ms, err);
        break;
    case WEIR_IN_STOP:
        rc = weir_exec_stop(e, in->now_ms, NULL, err);
        break;
    case WEIR_IN_HOLD:
    case WEIR_IN_RELEASE:
        rc = weir_exec_hold(e, in->kind == WEIR_IN_HOLD, in->now_ms, err);
        break;
    case WEIR_IN_STEPPING:
        weir_exec_stepping(e, in->on, in->now_ms);
        break;
    case WEIR_IN_STEP: {
        weir_step st;
        rc = weir_exec_step(e, in->now_ms, &st, err);
        break;
    }
    case WEIR_IN_SWITCH: {
        weir_shell none = {0};
        rc = weir_exec_switch_runtime(e, rt ? rt : &none, in->old_now_ms, in->now_ms, in->from, in->to, err);
        break;
    }
    case WEIR_IN_UPGRADE:
        rc = in->graph ? weir_exec_upgrade(e, in->graph, in->upgrade, in->now_ms, NULL, err)
                       : weir__error(err, WEIR_EINVAL,
                                     "an upgrade record is applied with its graph loaded (weir_input_rec.graph)");
        break;
    default:
        rc = weir__error(err, WEIR_EINVAL, "unknown input kind %d", (int)in->kind);
    }
    if (own) {
        digest_end(e);
        if (digest)
            *digest = (weir_input_digest){e->tick, e->processed - hops0, e->dg_outputs, e->dg_hash, e->state};
    } else if (digest) {
        *digest = (weir_input_digest){e->tick, e->processed - hops0, 0, 0, e->state};
    }
    return rc;
}

/* ------------------------------------------------------------ pending */

static uint64_t fx_id(const weir_exec *e, size_t slot) { return ((uint64_t)e->fx[slot].gen << 32) | (slot + 1); }

static weir_effect effect_of(const weir_exec *e, size_t s) {
    const weir_fx *f = &e->fx[s];
    return (weir_effect){fx_id(e, s), f->kind, e->id, f->node == WEIR_NONE ? NULL : e->g->nodes[f->node].id,
                         f->payload, f->requested};
}

/* Live slots in request order: by their request sequence number. */
static size_t *pending_order(const weir_exec *e, size_t *n) {
    *n = 0;
    size_t *ix = weir__malloc((e->fx_cap ? e->fx_cap : 1) * sizeof *ix);
    if (!ix) return NULL;
    for (size_t s = 0; s < e->fx_cap; s++)
        if (e->fx[s].live) ix[(*n)++] = s;
    for (size_t i = 1; i < *n; i++) { /* insertion sort: a handful pending */
        size_t v = ix[i], j = i;
        while (j && e->fx[ix[j - 1]].order > e->fx[v].order) {
            ix[j] = ix[j - 1];
            j--;
        }
        ix[j] = v;
    }
    return ix;
}

void weir_exec_pending(const weir_exec *e, void (*fn)(void *ud, const weir_effect *eff), void *ud) {
    size_t n;
    size_t *ix = pending_order(e, &n);
    if (!ix) return;
    for (size_t i = 0; i < n; i++) {
        weir_effect eff = effect_of(e, ix[i]);
        fn(ud, &eff);
    }
    weir__free(ix);
}

void weir_exec_adopt(weir_exec *e, const weir_shell *rt, int64_t now_ms) {
    e->sh.effect_ud = rt->effect_ud;
    e->sh.effect = rt->effect;
    e->sh.cancel = rt->cancel;
    e->sh.clock_ns = rt->clock_ns;
    if (weir_state_finished(e->state)) return;
    size_t n;
    size_t *ix = pending_order(e, &n);
    if (!ix) return;
    for (size_t i = 0; i < n; i++) {
        weir_fx *f = &e->fx[ix[i]];
        if (!f->live) continue;
        if (f->kind == WEIR_EFFECT_TIMER) weir__fx_retime(f, now_ms, now_ms);
        weir_effect eff = effect_of(e, ix[i]);
        if (e->sh.effect) e->sh.effect(e->sh.effect_ud, e, &eff);
    }
    weir__free(ix);
}
