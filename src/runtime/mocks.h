/*
 * http mocks of the virtual runtime and of weir sim (SPEC §4.5, §7.4), and
 * the checks their scenario files share.
 *
 *   [{match: {method?, url?}, response?: {status?, headers?, body?},
 *     latencyMs?: n | [min, max], fail?: p, timeout?: p,
 *     set?: {...}, when?: "<expression over world, request>"}]
 *
 * A request's latency comes from the FIRST mock whose match (method, url:
 * exact, or a prefix when it ends in '*') fits it; the request is SERVED
 * when its answer is due: by the first fitting mock whose `when` holds over
 * {world, request} (weir__mocks_serve), whose `set` is then merged into the
 * world.  So a read served before a write sees the old world.  weir sim
 * draws a latency in the range and fires the fault rates its seed turns
 * on; the virtual runtime takes the range's minimum and fires no fault.
 */
#ifndef WEIR_RUNTIME_MOCKS_H
#define WEIR_RUNTIME_MOCKS_H
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/expr.h"
#include "weir/weir.h"

/* The largest latency, window end or count a scenario may give (ms or ticks). */
#define WEIR_MOCK_MAX_MS 1000000000

typedef struct weir__mock {
    char *method;             /* NULL: any */
    char *url;                /* NULL: any; a trailing '*' matches any rest */
    int64_t lat_min, lat_max; /* ms */
    double fail, timeout;     /* rates, 0 when absent */
    json_t *set;              /* object or NULL */
    weir_expr *when;          /* over {world, request}, or NULL */
    json_t *result;           /* {status, headers, body: text}: what the request resolves with */
    int status;
} weir__mock;

/* Check and compile mock m, mocks[i] (errors name "mocks[i].field").  On
 * failure what was made so far is left in mk for weir__mock_free. */
int weir__mock_load(json_t *m, size_t i, weir__mock *mk, weir_error *err);
void weir__mock_free(weir__mock *mk);
/* Load an array of mocks (NULL: none) into *out (n of them; free with
 * weir__mocks_free).  WEIR_EINVAL naming the field. */
int weir__mocks_load(json_t *mocks, weir__mock **out, size_t *n, weir_error *err);
void weir__mocks_free(weir__mock *ms, size_t n);
bool weir__mock_matches(const weir__mock *m, const char *method, const char *url);
/* The mock that serves a request now: the first one matching method and
 * url whose `when` holds over {world, request} (BORROWED).  0 with *index
 * set (n: none holds); or the error of evaluating a `when`, with *index
 * that mock. */
int weir__mocks_serve(const weir__mock *ms, size_t n, const char *method, const char *url, json_t *world,
                      json_t *request, size_t *index, weir_error *err);

/* Scenario checks: WEIR_EINVAL with the message. */
int weir__scn_bad(weir_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* n, or [min, max] with 0 <= min <= max <= WEIR_MOCK_MAX_MS. */
int weir__scn_range(json_t *v, const char *where, const char *unit, int64_t *lo, int64_t *hi, weir_error *err);
/* A probability from 0 to 1 (absent: *out unchanged). */
int weir__scn_rate(json_t *v, const char *where, double *out, weir_error *err);
/* Only the keys in allowed (NULL-terminated); takes says what is. */
int weir__scn_keys_only(json_t *obj, const char *where, const char *const *allowed, const char *takes,
                        weir_error *err);
/* Compile src with names bound as fields of the value it is evaluated on
 * ({world, request}: world and request), columns counted in src. */
int weir__scn_compile(const char *src, const char *const *names, size_t n, weir_expr **out, weir_error *err);

#endif
