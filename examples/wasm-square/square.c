/*
 * A weir component in C compiled to WebAssembly (README, "WebAssembly
 * components"): it squares the integer it receives on `in`, emits it on
 * `out`, and counts its calls in the node's state ("count").  No libc: the
 * module is freestanding, with a bump allocator over a static arena that
 * the host resets before each call (the `reset` export).
 *
 * Rebuild with ./build.sh (Debian's clang and lld).
 */
typedef unsigned int u32;
typedef unsigned char u8;
typedef long long i64;

/* The host's imports (module "env"). */
__attribute__((import_module("env"), import_name("getState"))) u8 *get_state(const char *key, u32 key_len);
__attribute__((import_module("env"), import_name("setState"))) void set_state(const char *key, u32 key_len,
                                                                              const char *value, u32 value_len);
__attribute__((import_module("env"), import_name("log"))) void host_log(u32 level, const char *msg, u32 len);

/* ------------------------------------------------------------ memory */

#define ARENA_BYTES (64 * 1024)
static u8 arena[ARENA_BYTES];
static u32 used;

__attribute__((export_name("reset"))) void reset(void) { used = 0; }

/* Room for len bytes (8-aligned), or 0 when the arena is full. */
__attribute__((export_name("alloc"))) u8 *alloc(u32 len) {
    u32 at = (used + 7u) & ~7u;
    if (len > ARENA_BYTES - at) return 0;
    used = at + len;
    return arena + at;
}

/* ------------------------------------------------------------ numbers */

/* An integer in JSON text (optional minus, digits); 0 when it is not one. */
static int parse_int(const u8 *s, u32 n, i64 *out) {
    u32 i = 0;
    int neg = 0;
    if (i < n && s[i] == '-') neg = 1, i++;
    if (i == n || n - i > 9) return 0; /* |value| < 10^9: its square fits */
    i64 v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

static u32 put_int(u8 *p, i64 v) {
    u8 tmp[24];
    u32 n = 0, k = 0;
    if (v < 0) p[k++] = '-', v = -v;
    do tmp[n++] = (u8)('0' + v % 10), v /= 10; while (v);
    while (n) p[k++] = tmp[--n];
    return k;
}

static u32 put_str(u8 *p, const char *s) {
    u32 k = 0;
    while (s[k]) p[k] = (u8)s[k], k++;
    return k;
}

/* A result: a little-endian u32 length, then the JSON text. */
static u8 *result(const u8 *text, u32 n) {
    u8 *r = alloc(n + 4);
    if (!r) return 0;
    r[0] = (u8)n, r[1] = (u8)(n >> 8), r[2] = (u8)(n >> 16), r[3] = (u8)(n >> 24);
    for (u32 i = 0; i < n; i++) r[4 + i] = text[i];
    return r;
}

/* ------------------------------------------------------------ process */

__attribute__((export_name("process"))) u8 *process(const char *port, u32 port_len, const u8 *value, u32 value_len) {
    (void)port;
    (void)port_len;
    u8 buf[96];
    i64 x;
    if (!parse_int(value, value_len, &x)) {
        u32 n = put_str(buf, "{\"error\": \"square takes an integer between -999999999 and 999999999\"}");
        return result(buf, n);
    }
    /* count the calls in the node's state */
    i64 count = 0;
    const u8 *c = get_state("count", 5);
    if (c) {
        u32 len = (u32)c[0] | (u32)c[1] << 8 | (u32)c[2] << 16 | (u32)c[3] << 24;
        parse_int(c + 4, len, &count);
    }
    u32 n = put_int(buf, count + 1);
    set_state("count", 5, (const char *)buf, n);
    n = put_str(buf, "squared ");
    n += put_int(buf + n, x);
    host_log(1, (const char *)buf, n);

    n = put_str(buf, "[{\"port\": \"out\", \"value\": ");
    n += put_int(buf + n, x * x);
    n += put_str(buf + n, "}]");
    return result(buf, n);
}
