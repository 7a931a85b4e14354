#include "runtime/egress.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "weir/weir.h"

/*
 * The special-purpose ranges: the IANA IPv4 and IPv6 Special-Purpose Address
 * Registries (those not globally reachable are refused; the globally
 * reachable exceptions inside them are listed as allowed), plus multicast
 * and, for IPv6, everything outside global unicast 2000::/3 (reserved by the
 * IETF).  The most specific range containing an address decides.  IPv6 forms
 * that carry an IPv4 address (EMBED) are judged by that address: a special
 * one refuses them with its own range; a public one leaves them the class
 * given here (allowed for the mapped, NAT64 and 6to4 forms, which reach it).
 */
#define RANGE WEIR_EGRESS_RANGE
#define EMBED WEIR_EGRESS_EMBED
typedef weir_egress_range special;

static const special V4[] = {
    {"0.0.0.0/8", WEIR_EGRESS_UNSPECIFIED, "\"this network\" (RFC 791)", RANGE, 0},
    {"10.0.0.0/8", WEIR_EGRESS_PRIVATE, "private-use (RFC 1918)", RANGE, 0},
    {"100.64.0.0/10", WEIR_EGRESS_PRIVATE, "shared address space (RFC 6598)", RANGE, 0},
    {"127.0.0.0/8", WEIR_EGRESS_LOOPBACK, "loopback (RFC 1122)", RANGE, 0},
    {"169.254.0.0/16", WEIR_EGRESS_LINK_LOCAL, "link-local (RFC 3927)", RANGE, 0},
    {"172.16.0.0/12", WEIR_EGRESS_PRIVATE, "private-use (RFC 1918)", RANGE, 0},
    {"192.0.0.0/24", WEIR_EGRESS_RESERVED, "IETF protocol assignments (RFC 6890)", RANGE, 0},
    {"192.0.0.0/29", WEIR_EGRESS_RESERVED, "IPv4 service continuity prefix (RFC 7335)", RANGE, 0},
    {"192.0.0.8/32", WEIR_EGRESS_RESERVED, "IPv4 dummy address (RFC 7600)", RANGE, 0},
    {"192.0.0.9/32", WEIR_EGRESS_PUBLIC, "port control protocol anycast (RFC 7723)", RANGE, 0},
    {"192.0.0.10/32", WEIR_EGRESS_PUBLIC, "traversal using relays around NAT anycast (RFC 8155)", RANGE, 0},
    {"192.0.0.170/32", WEIR_EGRESS_RESERVED, "NAT64/DNS64 discovery (RFC 8880)", RANGE, 0},
    {"192.0.0.171/32", WEIR_EGRESS_RESERVED, "NAT64/DNS64 discovery (RFC 8880)", RANGE, 0},
    {"192.0.2.0/24", WEIR_EGRESS_RESERVED, "documentation, TEST-NET-1 (RFC 5737)", RANGE, 0},
    {"192.88.99.0/24", WEIR_EGRESS_RESERVED, "deprecated 6to4 relay anycast (RFC 7526)", RANGE, 0},
    {"192.168.0.0/16", WEIR_EGRESS_PRIVATE, "private-use (RFC 1918)", RANGE, 0},
    {"198.18.0.0/15", WEIR_EGRESS_RESERVED, "benchmarking (RFC 2544)", RANGE, 0},
    {"198.51.100.0/24", WEIR_EGRESS_RESERVED, "documentation, TEST-NET-2 (RFC 5737)", RANGE, 0},
    {"203.0.113.0/24", WEIR_EGRESS_RESERVED, "documentation, TEST-NET-3 (RFC 5737)", RANGE, 0},
    {"224.0.0.0/4", WEIR_EGRESS_MULTICAST, "multicast (RFC 5771)", RANGE, 0},
    {"240.0.0.0/4", WEIR_EGRESS_RESERVED, "reserved (RFC 1112)", RANGE, 0},
    {"255.255.255.255/32", WEIR_EGRESS_RESERVED, "limited broadcast (RFC 919, RFC 8190)", RANGE, 0},
};

static const special V6[] = {
    {"::/3", WEIR_EGRESS_RESERVED, "reserved by the IETF, outside global unicast 2000::/3 (RFC 4291)", RANGE, 0},
    {"::/128", WEIR_EGRESS_UNSPECIFIED, "unspecified (RFC 4291)", RANGE, 0},
    {"::1/128", WEIR_EGRESS_LOOPBACK, "loopback (RFC 4291)", RANGE, 0},
    {"::/96", WEIR_EGRESS_RESERVED, "IPv4-compatible, deprecated (RFC 4291)", EMBED, 12},
    {"::ffff:0:0/96", WEIR_EGRESS_PUBLIC, "IPv4-mapped (RFC 4291)", EMBED, 12},
    {"::ffff:0:0:0/96", WEIR_EGRESS_RESERVED, "IPv4-translated (RFC 2765)", EMBED, 12},
    {"64:ff9b::/96", WEIR_EGRESS_PUBLIC, "IPv4/IPv6 translation (RFC 6052)", EMBED, 12},
    {"64:ff9b:1::/48", WEIR_EGRESS_RESERVED, "local-use IPv4/IPv6 translation (RFC 8215)", RANGE, 0},
    {"100::/64", WEIR_EGRESS_RESERVED, "discard-only (RFC 6666)", RANGE, 0},
    {"100:0:0:1::/64", WEIR_EGRESS_RESERVED, "dummy IPv6 prefix (RFC 9780)", RANGE, 0},
    {"2001::/23", WEIR_EGRESS_RESERVED, "IETF protocol assignments (RFC 2928)", RANGE, 0},
    {"2001::/32", WEIR_EGRESS_RESERVED, "Teredo (RFC 4380)", RANGE, 0},
    {"2001:1::1/128", WEIR_EGRESS_PUBLIC, "port control protocol anycast (RFC 7723)", RANGE, 0},
    {"2001:1::2/128", WEIR_EGRESS_PUBLIC, "traversal using relays around NAT anycast (RFC 8155)", RANGE, 0},
    {"2001:1::3/128", WEIR_EGRESS_PUBLIC, "DNS-SD service registration protocol anycast (RFC 9665)", RANGE, 0},
    {"2001:2::/48", WEIR_EGRESS_RESERVED, "benchmarking (RFC 5180)", RANGE, 0},
    {"2001:3::/32", WEIR_EGRESS_PUBLIC, "AMT (RFC 7450)", RANGE, 0},
    {"2001:4:112::/48", WEIR_EGRESS_PUBLIC, "AS112-v6 (RFC 7535)", RANGE, 0},
    {"2001:10::/28", WEIR_EGRESS_RESERVED, "deprecated ORCHID (RFC 4843)", RANGE, 0},
    {"2001:20::/28", WEIR_EGRESS_PUBLIC, "ORCHIDv2 (RFC 7343)", RANGE, 0},
    {"2001:30::/28", WEIR_EGRESS_PUBLIC, "drone remote ID protocol entity tags (RFC 9374)", RANGE, 0},
    {"2001:db8::/32", WEIR_EGRESS_RESERVED, "documentation (RFC 3849)", RANGE, 0},
    {"2002::/16", WEIR_EGRESS_PUBLIC, "6to4 (RFC 3056)", EMBED, 2},
    {"3fff::/20", WEIR_EGRESS_RESERVED, "documentation (RFC 9637)", RANGE, 0},
    {"4000::/2", WEIR_EGRESS_RESERVED, "reserved by the IETF, outside global unicast 2000::/3 (RFC 4291)", RANGE, 0},
    {"5f00::/16", WEIR_EGRESS_RESERVED, "segment routing SIDs (RFC 9602)", RANGE, 0},
    {"8000::/1", WEIR_EGRESS_RESERVED, "reserved by the IETF, outside global unicast 2000::/3 (RFC 4291)", RANGE, 0},
    {"fc00::/7", WEIR_EGRESS_PRIVATE, "unique-local (RFC 4193)", RANGE, 0},
    {"fe80::/10", WEIR_EGRESS_LINK_LOCAL, "link-local unicast (RFC 4291)", RANGE, 0},
    {"fec0::/10", WEIR_EGRESS_PRIVATE, "site-local, deprecated (RFC 3879)", RANGE, 0},
    {"ff00::/8", WEIR_EGRESS_MULTICAST, "multicast (RFC 4291)", RANGE, 0},
};

#define COUNT(a) (sizeof(a) / sizeof *(a))

const weir_egress_range *weir__egress_table(bool v6, size_t *n) {
    *n = v6 ? COUNT(V6) : COUNT(V4);
    return v6 ? V6 : V4;
}

/* Does the n-byte address a lie in cidr?  *plen receives its length. */
static bool in_cidr(const char *cidr, int family, const unsigned char *a, size_t n, unsigned *plen) {
    char text[INET6_ADDRSTRLEN];
    const char *slash = strchr(cidr, '/');
    size_t len = (size_t)(slash - cidr);
    unsigned char p[16];
    memcpy(text, cidr, len);
    text[len] = '\0';
    if (inet_pton(family, text, p) != 1) return false; /* the table is checked by its test */
    unsigned bits = (unsigned)atoi(slash + 1);
    *plen = bits;
    size_t whole = bits / 8;
    if (whole > n || memcmp(a, p, whole) != 0) return false;
    unsigned rest = bits % 8;
    if (!rest) return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[whole] & mask) == (p[whole] & mask);
}

/* The most specific range of the table containing a, or NULL. */
static const special *lookup(const special *t, size_t nt, int family, const unsigned char *a, size_t n) {
    const special *best = NULL;
    unsigned best_len = 0;
    for (size_t i = 0; i < nt; i++) {
        unsigned plen;
        if (in_cidr(t[i].cidr, family, a, n, &plen) && (!best || plen > best_len)) {
            best = &t[i];
            best_len = plen;
        }
    }
    return best;
}

static weir_egress_verdict verdict_of(const special *s) {
    weir_egress_verdict v = {WEIR_EGRESS_PUBLIC, NULL, NULL, NULL, NULL};
    if (s) {
        v.cls = s->cls;
        v.range = s->cidr;
        v.name = s->name;
    }
    return v;
}

weir_egress_verdict weir__egress_check_v4(const unsigned char a[4]) { return verdict_of(lookup(V4, COUNT(V4), AF_INET, a, 4)); }

weir_egress_verdict weir__egress_check_v6(const unsigned char a[16]) {
    const special *s = lookup(V6, COUNT(V6), AF_INET6, a, 16);
    if (!s || s->kind != EMBED) return verdict_of(s);
    weir_egress_verdict v = weir__egress_check_v4(a + s->embed);
    if (v.cls == WEIR_EGRESS_PUBLIC) v = verdict_of(s); /* the form's own class */
    v.via = s->cidr;
    v.via_name = s->name;
    return v;
}

weir_egress_verdict weir__egress_check_sockaddr(const struct sockaddr *sa) {
    weir_egress_verdict none = {WEIR_EGRESS_RESERVED, NULL, "not an IPv4 or IPv6 address", NULL, NULL};
    if (!sa) return none;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        return weir__egress_check_v4((const unsigned char *)&in.sin_addr);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        return weir__egress_check_v6(in6.sin6_addr.s6_addr);
    }
    return none;
}

char *weir__egress_verdict_text(const weir_egress_verdict *v, char *buf, size_t n) {
    if (n == 0) return buf;
    const char *name = v->name ? v->name : "globally reachable";
    if (v->via && v->range && v->range != v->via)
        snprintf(buf, n, "%s: %s, embedding an IPv4 address in %s: %s", v->via, v->via_name, v->range, name);
    else if (v->range) snprintf(buf, n, "%s: %s", v->range, name);
    else snprintf(buf, n, "%s", name);
    return buf;
}

weir_egress_class weir__egress_classify_v4(const unsigned char a[4]) { return weir__egress_check_v4(a).cls; }
weir_egress_class weir__egress_classify_v6(const unsigned char a[16]) { return weir__egress_check_v6(a).cls; }
weir_egress_class weir__egress_classify_sockaddr(const struct sockaddr *sa) {
    return weir__egress_check_sockaddr(sa).cls;
}

static int parse_text(const char *ip, unsigned char a[16], int *family) {
    char buf[INET6_ADDRSTRLEN + 2];
    size_t len = ip ? strlen(ip) : 0;
    if (len >= 2 && ip[0] == '[' && ip[len - 1] == ']') {
        ip++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof buf) return WEIR_EINVAL;
    memcpy(buf, ip, len);
    buf[len] = '\0';
    if (inet_pton(AF_INET, buf, a) == 1) *family = AF_INET;
    else if (inet_pton(AF_INET6, buf, a) == 1) *family = AF_INET6;
    else return WEIR_EINVAL;
    return 0;
}

int weir__egress_check_text(const char *ip, weir_egress_verdict *out) {
    unsigned char a[16];
    int family;
    int rc = parse_text(ip, a, &family);
    if (rc) return rc;
    *out = family == AF_INET ? weir__egress_check_v4(a) : weir__egress_check_v6(a);
    return 0;
}

int weir__egress_classify_text(const char *ip, weir_egress_class *out) {
    weir_egress_verdict v;
    int rc = weir__egress_check_text(ip, &v);
    if (!rc) *out = v.cls;
    return rc;
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
