/*
 * The egress guard of SPEC §2.1: which addresses and host names an http
 * effect may reach.  Pure: no I/O, no DNS, no globals.  The realtime runtime
 * applies the address check to the address it is about to connect to (after
 * DNS, so rebinding cannot bypass it) and the host check to every URL it
 * requests, redirects included.
 */
#ifndef WEIR_RUNTIME_EGRESS_H
#define WEIR_RUNTIME_EGRESS_H
#include <stdbool.h>
#include <stddef.h>

struct sockaddr;

typedef enum weir_egress_class {
    WEIR_EGRESS_PUBLIC = 0,  /* globally reachable: allowed */
    WEIR_EGRESS_LOOPBACK,    /* 127/8, ::1 */
    WEIR_EGRESS_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7, fec0::/10 */
    WEIR_EGRESS_LINK_LOCAL,  /* 169.254/16, fe80::/10 */
    WEIR_EGRESS_MULTICAST,   /* 224/4, ff00::/8 */
    WEIR_EGRESS_UNSPECIFIED, /* 0/8, :: */
    WEIR_EGRESS_RESERVED,    /* every other special-purpose range (documentation,
                                benchmarking, 240/4, ...), unknown families */
} weir_egress_class;

/* One range of the special-purpose table (egress.c): the IANA IPv4 and IPv6
 * Special-Purpose Address Registries, multicast, and IPv6 outside 2000::/3.
 * The most specific range containing an address decides. */
enum { WEIR_EGRESS_RANGE, WEIR_EGRESS_EMBED };
typedef struct weir_egress_range {
    const char *cidr;      /* "198.18.0.0/15" */
    weir_egress_class cls; /* WEIR_EGRESS_PUBLIC: a globally reachable exception */
    const char *name;      /* "benchmarking (RFC 2544)" */
    int kind;              /* WEIR_EGRESS_EMBED: an IPv6 form carrying an IPv4 address */
    unsigned embed;        /* where that IPv4 address starts (byte) */
} weir_egress_range;
/* The table (static), IPv4's or IPv6's. */
const weir_egress_range *weir__egress_table(bool v6, size_t *n);

/* Why an address is allowed or refused (all strings static). */
typedef struct weir_egress_verdict {
    weir_egress_class cls;
    const char *range, *name; /* the deciding range and its name; NULL: no special range */
    const char *via, *via_name; /* an IPv6 form embedding the IPv4 address judged, or NULL */
} weir_egress_verdict;

/* `a` in network byte order.  IPv6 forms that embed an IPv4 address
 * (mapped ::ffff:0:0/96, translated ::ffff:0:0:0/96, compatible ::/96, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are refused with the embedded address's
 * range when it is special; else they keep their own class (the mapped,
 * NAT64 and 6to4 forms of a public address are allowed). */
weir_egress_verdict weir__egress_check_v4(const unsigned char a[4]);
weir_egress_verdict weir__egress_check_v6(const unsigned char a[16]);
/* AF_INET / AF_INET6; any other family is WEIR_EGRESS_RESERVED. */
weir_egress_verdict weir__egress_check_sockaddr(const struct sockaddr *sa);
/* An IPv4 or IPv6 literal (brackets allowed).  0, or WEIR_EINVAL if `ip` is
 * not an address literal. */
int weir__egress_check_text(const char *ip, weir_egress_verdict *out);
/* "198.18.0.0/15: benchmarking (RFC 2544)", or for an embedding form
 * "64:ff9b::/96: IPv4/IPv6 translation (RFC 6052), embedding an IPv4 address
 * in 10.0.0.0/8: private-use (RFC 1918)"; returns buf. */
char *weir__egress_verdict_text(const weir_egress_verdict *v, char *buf, size_t n);

/* The class alone (the verdict's cls). */
weir_egress_class weir__egress_classify_v4(const unsigned char a[4]);
weir_egress_class weir__egress_classify_v6(const unsigned char a[16]);
weir_egress_class weir__egress_classify_sockaddr(const struct sockaddr *sa);
int weir__egress_classify_text(const char *ip, weir_egress_class *out);

/* "a private address", "a loopback address", ... (static). */
const char *weir__egress_class_phrase(weir_egress_class c);

/* Write the address (and ":port" when with_port; IPv6 as "[addr]:port") to
 * buf; returns buf ("?" for an unknown family). */
char *weir__egress_format(const struct sockaddr *sa, bool with_port, char *buf, size_t n);

/*
 * Is `host` (a URL's host: a name, an IPv4 literal or a bracketed IPv6
 * literal) in `allowlist`?  The list is comma-separated, blanks around items
 * ignored; matching is exact and case-insensitive, ignoring one trailing dot;
 * an item `*.example.com` matches every name under example.com (not the name
 * itself); an item `*` matches everything.  A NULL or empty list allows every
 * host.
 */
bool weir__egress_host_allowed(const char *allowlist, const char *host);

#endif
