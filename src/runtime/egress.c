#include "runtime/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "weir/weir.h"

weir_egress_class weir__egress_classify_v4(const unsigned char a[4]) {
    if (a[0] == 0) return WEIR_EGRESS_UNSPECIFIED;                   /* 0/8 "this network" */
    if (a[0] == 127) return WEIR_EGRESS_LOOPBACK;                    /* 127/8 */
    if (a[0] == 10) return WEIR_EGRESS_PRIVATE;                      /* 10/8 */
    if (a[0] == 172 && (a[1] & 0xf0) == 16) return WEIR_EGRESS_PRIVATE; /* 172.16/12 */
    if (a[0] == 192 && a[1] == 168) return WEIR_EGRESS_PRIVATE;      /* 192.168/16 */
    if (a[0] == 100 && (a[1] & 0xc0) == 64) return WEIR_EGRESS_PRIVATE; /* 100.64/10 CGNAT */
    if (a[0] == 169 && a[1] == 254) return WEIR_EGRESS_LINK_LOCAL;   /* 169.254/16 */
    if ((a[0] & 0xf0) == 224) return WEIR_EGRESS_MULTICAST;          /* 224/4 */
    if ((a[0] & 0xf0) == 240) return WEIR_EGRESS_RESERVED;           /* 240/4, 255.255.255.255 */
    return WEIR_EGRESS_PUBLIC;
}

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

weir_egress_class weir__egress_classify_v6(const unsigned char a[16]) {
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    if (all_zero(a, 10)) {
        if (a[10] == 0xff && a[11] == 0xff) return weir__egress_classify_v4(a + 12); /* mapped */
        if (a[10] == 0 && a[11] == 0) {
            if (all_zero(a + 12, 3)) {
                if (a[15] == 0) return WEIR_EGRESS_UNSPECIFIED; /* :: */
                if (a[15] == 1) return WEIR_EGRESS_LOOPBACK;    /* ::1 */
            }
            return weir__egress_classify_v4(a + 12); /* compatible ::a.b.c.d */
        }
    }
    if (all_zero(a, 8) && a[8] == 0xff && a[9] == 0xff && a[10] == 0 && a[11] == 0)
        return weir__egress_classify_v4(a + 12); /* translated ::ffff:0:a.b.c.d */
    if (memcmp(a, nat64, sizeof nat64) == 0) return weir__egress_classify_v4(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) { /* 6to4: 2002:AABB:CCDD::/48 */
        weir_egress_class c = weir__egress_classify_v4(a + 2);
        if (c != WEIR_EGRESS_PUBLIC) return c;
    }
    if ((a[0] & 0xfe) == 0xfc) return WEIR_EGRESS_PRIVATE;                    /* fc00::/7 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) return WEIR_EGRESS_LINK_LOCAL; /* fe80::/10 */
    if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0) return WEIR_EGRESS_PRIVATE;    /* fec0::/10 site-local */
    if (a[0] == 0xff) return WEIR_EGRESS_MULTICAST;                           /* ff00::/8 */
    return WEIR_EGRESS_PUBLIC;
}

weir_egress_class weir__egress_classify_sockaddr(const struct sockaddr *sa) {
    if (!sa) return WEIR_EGRESS_RESERVED;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return weir__egress_classify_v4((const unsigned char *)&in.sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return weir__egress_classify_v6(in6.sin6_addr.s6_addr);
    }
    return WEIR_EGRESS_RESERVED;
}

int weir__egress_classify_text(const char *ip, weir_egress_class *out) {
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = ip ? strlen(ip) : 0;
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']') {
        ip++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf) return WEIR_EINVAL;
    memcpy(buf, ip, len);
    buf[len] = '\0';
    unsigned char a[16];
    if (inet_pton(AF_INET, buf, a) == 1) {
        *out = weir__egress_classify_v4(a);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, a) == 1) {
        *out = weir__egress_classify_v6(a);
        return 0;
    }
    return WEIR_EINVAL;
}

const char *weir__egress_class_phrase(weir_egress_class c) {
    switch (c) {
    case WEIR_EGRESS_PUBLIC: return "a public address";
    case WEIR_EGRESS_LOOPBACK: return "a loopback address";
    case WEIR_EGRESS_PRIVATE: return "a private address";
    case WEIR_EGRESS_LINK_LOCAL: return "a link-local address";
    case WEIR_EGRESS_MULTICAST: return "a multicast address";
    case WEIR_EGRESS_UNSPECIFIED: return "an unspecified address";
    case WEIR_EGRESS_RESERVED: return "a reserved address";
    }
    return "a reserved address";
}

char *weir__egress_format(const struct sockaddr *sa, bool with_port, char *buf, size_t n) {
    char ip[INET6_ADDRSTRLEN];
    if (n == 0) return buf;
    if (sa && sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        inet_ntop(AF_INET, &in.sin_addr, ip, sizeof ip);
        if (with_port) snprintf(buf, n, "%s:%u", ip, (unsigned)ntohs(in.sin_port));
        else snprintf(buf, n, "%s", ip);
    } else if (sa && sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        inet_ntop(AF_INET6, &in6.sin6_addr, ip, sizeof ip);
        if (with_port) snprintf(buf, n, "[%s]:%u", ip, (unsigned)ntohs(in6.sin6_port));
        else snprintf(buf, n, "%s", ip);
    } else {
        snprintf(buf, n, "?");
    }
    return buf;
}

static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Case-insensitive equality of two counted strings. */
static bool same(const char *a, size_t alen, const char *b, size_t blen) {
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

/* Strip brackets and one trailing dot: "[::1]" → "::1", "a.com." → "a.com". */
static void normalise(const char **s, size_t *len) {
    if (*len >= 2 && (*s)[0] == '[' && (*s)[*len - 1] == ']') {
        (*s)++;
        *len -= 2;
    }
    if (*len > 1 && (*s)[*len - 1] == '.') (*len)--;
}

static bool item_matches(const char *item, size_t ilen, const char *host, size_t hlen) {
    normalise(&item, &ilen);
    if (ilen == 1 && item[0] == '*') return true;
    if (ilen > 2 && item[0] == '*' && item[1] == '.') {
        const char *suffix = item + 1; /* ".example.com" */
        size_t slen = ilen - 1;
        return hlen > slen && same(host + hlen - slen, slen, suffix, slen);
    }
    return same(item, ilen, host, hlen);
}

bool weir__egress_host_allowed(const char *allowlist, const char *host) {
    if (!allowlist) return true;
    size_t hlen = host ? strlen(host) : 0;
    if (host) normalise(&host, &hlen);
    bool any_item = false;
    const char *p = allowlist;
    while (*p) {
        while (is_blank(*p) || *p == ',') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',') p++;
        const char *end = p;
        while (end > start && is_blank(end[-1])) end--;
        any_item = true;
        if (hlen > 0 && item_matches(start, (size_t)(end - start), host, hlen)) return true;
    }
    return !any_item;
}
