/* The egress guard's pure parts: the special-purpose ranges of the IANA
 * registries one by one, address classes, and the host allowlist. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/egress.h"

static weir_egress_class cls(const char *ip) {
    weir_egress_class c = WEIR_EGRESS_PUBLIC;
    int rc = weir__egress_classify_text(ip, &c);
    cr_assert_eq(rc, 0, "'%s' should parse as an address", ip);
    return c;
}

#define EXPECT(ip, want) cr_expect_eq(cls(ip), (want), "%s: got %d, want %s", (ip), (int)cls(ip), #want)

/*
 * Every range of the special-purpose table, one by one: an address inside,
 * the first and the last, and the addresses just outside (below and above),
 * each with the range that must decide it (NULL: none, the address is
 * public) and the class that follows.  Where a more specific range nests in
 * another, its edges are decided by it.  IPv6 forms embedding an IPv4
 * address are decided by that address's range when it is special.
 */
typedef struct row {
    const char *ip, *range;
    weir_egress_class cls;
} row;

#define PUB WEIR_EGRESS_PUBLIC
#define LOOP WEIR_EGRESS_LOOPBACK
#define PRIV WEIR_EGRESS_PRIVATE
#define LL WEIR_EGRESS_LINK_LOCAL
#define MC WEIR_EGRESS_MULTICAST
#define UNSPEC WEIR_EGRESS_UNSPECIFIED
#define RES WEIR_EGRESS_RESERVED

static const row ROWS[] = {
    /* 0.0.0.0/8 "this network" */
    {"0.0.0.0", "0.0.0.0/8", UNSPEC}, {"0.1.2.3", "0.0.0.0/8", UNSPEC}, {"0.255.255.255", "0.0.0.0/8", UNSPEC},
    {"1.0.0.0", NULL, PUB},
    /* 10.0.0.0/8 */
    {"9.255.255.255", NULL, PUB}, {"10.0.0.0", "10.0.0.0/8", PRIV}, {"10.1.2.3", "10.0.0.0/8", PRIV},
    {"10.255.255.255", "10.0.0.0/8", PRIV}, {"11.0.0.0", NULL, PUB},
    /* 100.64.0.0/10 */
    {"100.63.255.255", NULL, PUB}, {"100.64.0.0", "100.64.0.0/10", PRIV}, {"100.100.1.1", "100.64.0.0/10", PRIV},
    {"100.127.255.255", "100.64.0.0/10", PRIV}, {"100.128.0.0", NULL, PUB},
    /* 127.0.0.0/8 */
    {"126.255.255.255", NULL, PUB}, {"127.0.0.0", "127.0.0.0/8", LOOP}, {"127.0.0.1", "127.0.0.0/8", LOOP},
    {"127.255.255.255", "127.0.0.0/8", LOOP}, {"128.0.0.0", NULL, PUB},
    /* 169.254.0.0/16 */
    {"169.253.255.255", NULL, PUB}, {"169.254.0.0", "169.254.0.0/16", LL},
    {"169.254.169.254", "169.254.0.0/16", LL}, {"169.254.255.255", "169.254.0.0/16", LL}, {"169.255.0.0", NULL, PUB},
    /* 172.16.0.0/12 */
    {"172.15.255.255", NULL, PUB}, {"172.16.0.0", "172.16.0.0/12", PRIV}, {"172.20.1.1", "172.16.0.0/12", PRIV},
    {"172.31.255.255", "172.16.0.0/12", PRIV}, {"172.32.0.0", NULL, PUB},
    /* 192.0.0.0/24 and what nests in it */
    {"191.255.255.255", NULL, PUB}, {"192.0.0.0", "192.0.0.0/29", RES}, {"192.0.0.3", "192.0.0.0/29", RES},
    {"192.0.0.7", "192.0.0.0/29", RES}, {"192.0.0.8", "192.0.0.8/32", RES}, {"192.0.0.9", "192.0.0.9/32", PUB},
    {"192.0.0.10", "192.0.0.10/32", PUB}, {"192.0.0.11", "192.0.0.0/24", RES}, {"192.0.0.100", "192.0.0.0/24", RES},
    {"192.0.0.169", "192.0.0.0/24", RES}, {"192.0.0.170", "192.0.0.170/32", RES},
    {"192.0.0.171", "192.0.0.171/32", RES}, {"192.0.0.172", "192.0.0.0/24", RES},
    {"192.0.0.255", "192.0.0.0/24", RES}, {"192.0.1.0", NULL, PUB},
    /* 192.0.2.0/24 */
    {"192.0.1.255", NULL, PUB}, {"192.0.2.0", "192.0.2.0/24", RES}, {"192.0.2.123", "192.0.2.0/24", RES},
    {"192.0.2.255", "192.0.2.0/24", RES}, {"192.0.3.0", NULL, PUB},
    /* 192.88.99.0/24 */
    {"192.88.98.255", NULL, PUB}, {"192.88.99.0", "192.88.99.0/24", RES}, {"192.88.99.1", "192.88.99.0/24", RES},
    {"192.88.99.255", "192.88.99.0/24", RES}, {"192.88.100.0", NULL, PUB},
    /* 192.168.0.0/16 */
    {"192.167.255.255", NULL, PUB}, {"192.168.0.0", "192.168.0.0/16", PRIV}, {"192.168.1.1", "192.168.0.0/16", PRIV},
    {"192.168.255.255", "192.168.0.0/16", PRIV}, {"192.169.0.0", NULL, PUB},
    /* 198.18.0.0/15 */
    {"198.17.255.255", NULL, PUB}, {"198.18.0.0", "198.18.0.0/15", RES}, {"198.18.0.1", "198.18.0.0/15", RES},
    {"198.19.255.255", "198.18.0.0/15", RES}, {"198.20.0.0", NULL, PUB},
    /* 198.51.100.0/24 */
    {"198.51.99.255", NULL, PUB}, {"198.51.100.0", "198.51.100.0/24", RES}, {"198.51.100.7", "198.51.100.0/24", RES},
    {"198.51.100.255", "198.51.100.0/24", RES}, {"198.51.101.0", NULL, PUB},
    /* 203.0.113.0/24 */
    {"203.0.112.255", NULL, PUB}, {"203.0.113.0", "203.0.113.0/24", RES}, {"203.0.113.9", "203.0.113.0/24", RES},
    {"203.0.113.255", "203.0.113.0/24", RES}, {"203.0.114.0", NULL, PUB},
    /* 224.0.0.0/4, 240.0.0.0/4, 255.255.255.255/32 */
    {"223.255.255.255", NULL, PUB}, {"224.0.0.0", "224.0.0.0/4", MC}, {"239.255.255.250", "224.0.0.0/4", MC},
    {"239.255.255.255", "224.0.0.0/4", MC}, {"240.0.0.0", "240.0.0.0/4", RES}, {"250.1.2.3", "240.0.0.0/4", RES},
    {"255.255.255.254", "240.0.0.0/4", RES}, {"255.255.255.255", "255.255.255.255/32", RES},
    /* public, globally reachable special-purpose blocks included */
    {"8.8.8.8", NULL, PUB}, {"1.1.1.1", NULL, PUB}, {"93.184.216.34", NULL, PUB},
    {"192.31.196.1", NULL, PUB}, {"192.52.193.1", NULL, PUB}, {"192.175.48.1", NULL, PUB},

    /* ::/128, ::1/128 */
    {"::", "::/128", UNSPEC}, {"::1", "::1/128", LOOP},
    /* ::/96 IPv4-compatible: refused either way */
    {"::2", "0.0.0.0/8", UNSPEC}, {"::8.8.8.8", "::/96", RES}, {"::10.0.0.1", "10.0.0.0/8", PRIV},
    {"::127.0.0.1", "127.0.0.0/8", LOOP}, {"::255.255.255.255", "255.255.255.255/32", RES}, {"::1:0:0", "::/3", RES},
    /* ::ffff:0:0/96 IPv4-mapped */
    {"::fffe:ffff:ffff", "::/3", RES}, {"::ffff:0.0.0.0", "0.0.0.0/8", UNSPEC}, {"::ffff:8.8.8.8", "::ffff:0:0/96", PUB},
    {"::ffff:10.1.2.3", "10.0.0.0/8", PRIV}, {"::ffff:7f00:1", "127.0.0.0/8", LOOP},
    {"::ffff:169.254.169.254", "169.254.0.0/16", LL}, {"::ffff:198.18.0.1", "198.18.0.0/15", RES},
    {"::ffff:255.255.255.255", "255.255.255.255/32", RES}, {"::1:0:0:0", "::/3", RES},
    /* ::ffff:0:0:0/96 IPv4-translated: refused either way */
    {"::fffe:ffff:ffff:ffff", "::/3", RES}, {"::ffff:0:0.0.0.0", "0.0.0.0/8", UNSPEC},
    {"::ffff:0:8.8.8.8", "::ffff:0:0:0/96", RES}, {"::ffff:0:192.168.0.1", "192.168.0.0/16", PRIV},
    {"::ffff:0:255.255.255.255", "255.255.255.255/32", RES}, {"::ffff:1:0.0.0.0", "::/3", RES},
    /* 64:ff9b::/96 NAT64 */
    {"64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff", "::/3", RES}, {"64:ff9b::", "0.0.0.0/8", UNSPEC},
    {"64:ff9b::8.8.8.8", "64:ff9b::/96", PUB}, {"64:ff9b::10.0.0.1", "10.0.0.0/8", PRIV},
    {"64:ff9b::ffff:ffff", "255.255.255.255/32", RES}, {"64:ff9b::1:0:0", "::/3", RES},
    /* 64:ff9b:1::/48 local-use NAT64: not globally reachable */
    {"64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "::/3", RES}, {"64:ff9b:1::", "64:ff9b:1::/48", RES},
    {"64:ff9b:1:abcd::8.8.8.8", "64:ff9b:1::/48", RES}, {"64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48", RES},
    {"64:ff9b:2::", "::/3", RES},
    /* 100::/64, 100:0:0:1::/64 */
    {"ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3", RES}, {"100::", "100::/64", RES}, {"100::1", "100::/64", RES},
    {"100::ffff:ffff:ffff:ffff", "100::/64", RES}, {"100:0:0:1::", "100:0:0:1::/64", RES},
    {"100:0:0:1::7", "100:0:0:1::/64", RES}, {"100:0:0:1:ffff:ffff:ffff:ffff", "100:0:0:1::/64", RES},
    {"100:0:0:2::", "::/3", RES},
    /* 2001::/23 and what nests in it */
    {"2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, PUB}, {"2001::", "2001::/32", RES},
    {"2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::/32", RES}, {"2001:0:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/32", RES},
    {"2001:1::", "2001::/23", RES}, {"2001:1::1", "2001:1::1/128", PUB}, {"2001:1::2", "2001:1::2/128", PUB},
    {"2001:1::3", "2001:1::3/128", PUB}, {"2001:1::4", "2001::/23", RES},
    {"2001:1:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23", RES}, {"2001:2::", "2001:2::/48", RES},
    {"2001:2::1", "2001:2::/48", RES}, {"2001:2:0:ffff:ffff:ffff:ffff:ffff", "2001:2::/48", RES},
    {"2001:2:1::", "2001::/23", RES}, {"2001:2:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23", RES},
    {"2001:3::", "2001:3::/32", PUB}, {"2001:3::1", "2001:3::/32", PUB},
    {"2001:3:ffff:ffff:ffff:ffff:ffff:ffff", "2001:3::/32", PUB}, {"2001:4::", "2001::/23", RES},
    {"2001:4:111:ffff:ffff:ffff:ffff:ffff", "2001::/23", RES}, {"2001:4:112::", "2001:4:112::/48", PUB},
    {"2001:4:112::1", "2001:4:112::/48", PUB}, {"2001:4:112:ffff:ffff:ffff:ffff:ffff", "2001:4:112::/48", PUB},
    {"2001:4:113::", "2001::/23", RES}, {"2001:f:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23", RES},
    {"2001:10::", "2001:10::/28", RES}, {"2001:10::1", "2001:10::/28", RES},
    {"2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:10::/28", RES}, {"2001:20::", "2001:20::/28", PUB},
    {"2001:20::1", "2001:20::/28", PUB}, {"2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:20::/28", PUB},
    {"2001:30::", "2001:30::/28", PUB}, {"2001:30::1", "2001:30::/28", PUB},
    {"2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:30::/28", PUB}, {"2001:40::", "2001::/23", RES},
    {"2001:100::1", "2001::/23", RES}, {"2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23", RES},
    {"2001:200::", NULL, PUB},
    /* 2001:db8::/32 */
    {"2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL, PUB}, {"2001:db8::", "2001:db8::/32", RES},
    {"2001:db8::1", "2001:db8::/32", RES}, {"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32", RES},
    {"2001:db9::", NULL, PUB},
    /* 2002::/16 6to4 */
    {"2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, PUB}, {"2002::", "0.0.0.0/8", UNSPEC},
    {"2002:808:808::1", "2002::/16", PUB}, {"2002:7f00:1::1", "127.0.0.0/8", LOOP},
    {"2002:c612:1::1", "198.18.0.0/15", RES}, {"2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "255.255.255.255/32", RES},
    {"2003::", NULL, PUB},
    /* 3fff::/20 */
    {"3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, PUB}, {"3fff::", "3fff::/20", RES},
    {"3fff:123::1", "3fff::/20", RES}, {"3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20", RES},
    {"3fff:1000::", NULL, PUB},
    /* ::/3, 4000::/2, 8000::/1: outside global unicast 2000::/3 */
    {"1::1", "::/3", RES}, {"1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::/3", RES}, {"2000::", NULL, PUB},
    {"3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, PUB}, {"4000::", "4000::/2", RES}, {"4abc::1", "4000::/2", RES},
    {"7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::/2", RES}, {"8000::", "8000::/1", RES},
    {"abcd::1", "8000::/1", RES},
    /* 5f00::/16 */
    {"5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "4000::/2", RES}, {"5f00::", "5f00::/16", RES},
    {"5f00::1", "5f00::/16", RES}, {"5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f00::/16", RES},
    {"5f01::", "4000::/2", RES},
    /* fc00::/7, fe80::/10, fec0::/10, ff00::/8 */
    {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "8000::/1", RES}, {"fc00::", "fc00::/7", PRIV},
    {"fd12:3456::1", "fc00::/7", PRIV}, {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7", PRIV},
    {"fe00::", "8000::/1", RES}, {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "8000::/1", RES},
    {"fe80::", "fe80::/10", LL}, {"fe80::1", "fe80::/10", LL}, {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10", LL},
    {"fec0::", "fec0::/10", PRIV}, {"fec0::1", "fec0::/10", PRIV},
    {"feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::/10", PRIV}, {"ff00::", "ff00::/8", MC},
    {"ff02::1", "ff00::/8", MC}, {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8", MC},
    /* public */
    {"2001:4860:4860::8888", NULL, PUB}, {"2606:4700::1111", NULL, PUB}, {"2a00:1450:4001::1", NULL, PUB},
    {"[2a03:2880:f12f:83:face:b00c::25de]", NULL, PUB},
};

#define N_ROWS (sizeof ROWS / sizeof *ROWS)

Test(egress, every_range_one_by_one) {
    for (size_t i = 0; i < N_ROWS; i++) {
        const row *r = &ROWS[i];
        weir_egress_verdict v;
        cr_assert_eq(weir__egress_check_text(r->ip, &v), 0, "'%s' should parse", r->ip);
        cr_expect_eq(v.cls, r->cls, "%s: class %d, want %d (%s)", r->ip, (int)v.cls, (int)r->cls,
                     v.range ? v.range : "no range");
        if (r->range)
            cr_expect(v.range && strcmp(v.range, r->range) == 0, "%s: decided by %s, want %s", r->ip,
                      v.range ? v.range : "no range", r->range);
        else cr_expect_null(v.range, "%s: decided by %s, want no range (public)", r->ip, v.range);
        weir_egress_class c = PUB;
        cr_expect_eq(weir__egress_classify_text(r->ip, &c), 0);
        cr_expect_eq(c, r->cls, "%s: the class alone agrees", r->ip);
    }
}

/* The table itself: every entry a valid prefix with no host bits set, no
 * entry twice, every one decided at least once by the rows above. */
static void table_sound(bool v6) {
    size_t n;
    const weir_egress_range *t = weir__egress_table(v6, &n);
    cr_assert_gt(n, 10);
    for (size_t i = 0; i < n; i++) {
        char text[64];
        const char *slash = strchr(t[i].cidr, '/');
        cr_assert_not_null(slash, "%s", t[i].cidr);
        snprintf(text, sizeof text, "%.*s", (int)(slash - t[i].cidr), t[i].cidr);
        unsigned char a[16];
        cr_assert_eq(inet_pton(v6 ? AF_INET6 : AF_INET, text, a), 1, "%s", t[i].cidr);
        int bits = atoi(slash + 1);
        int max = v6 ? 128 : 32;
        cr_assert(bits >= 1 && bits <= max, "%s", t[i].cidr);
        for (int b = bits; b < max; b++)
            cr_assert_eq(a[b / 8] & (0x80 >> (b % 8)), 0, "%s has host bits set", t[i].cidr);
        cr_assert(strstr(t[i].name, "(RFC "), "%s names its RFC: %s", t[i].cidr, t[i].name);
        for (size_t j = 0; j < i; j++) cr_assert_str_neq(t[i].cidr, t[j].cidr);
        bool decided = false;
        for (size_t k = 0; k < N_ROWS && !decided; k++) decided = ROWS[k].range && !strcmp(ROWS[k].range, t[i].cidr);
        cr_expect(decided, "%s is not tested", t[i].cidr);
    }
}

Test(egress, the_table_is_sound_and_tested_whole) {
    table_sound(false);
    table_sound(true);
}

Test(egress, the_verdict_names_the_range) {
    weir_egress_verdict v;
    char buf[256];
    cr_assert_eq(weir__egress_check_text("198.18.0.1", &v), 0);
    cr_expect_str_eq(weir__egress_verdict_text(&v, buf, sizeof buf), "198.18.0.0/15: benchmarking (RFC 2544)");
    cr_assert_eq(weir__egress_check_text("64:ff9b::10.0.0.1", &v), 0);
    cr_expect_str_eq(weir__egress_verdict_text(&v, buf, sizeof buf),
                     "64:ff9b::/96: IPv4/IPv6 translation (RFC 6052), embedding an IPv4 address in 10.0.0.0/8: "
                     "private-use (RFC 1918)");
    cr_assert_eq(weir__egress_check_text("2001:db8::1", &v), 0);
    cr_expect_str_eq(weir__egress_verdict_text(&v, buf, sizeof buf), "2001:db8::/32: documentation (RFC 3849)");
    cr_assert_eq(weir__egress_check_text("8.8.8.8", &v), 0);
    cr_expect_str_eq(weir__egress_verdict_text(&v, buf, sizeof buf), "globally reachable");
}

Test(egress, ipv4_refused_classes) {
    EXPECT("127.0.0.1", WEIR_EGRESS_LOOPBACK);
    EXPECT("10.0.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("169.254.169.254", WEIR_EGRESS_LINK_LOCAL); /* cloud metadata */
    EXPECT("224.0.0.1", WEIR_EGRESS_MULTICAST);
    EXPECT("0.0.0.0", WEIR_EGRESS_UNSPECIFIED);
    EXPECT("198.18.0.1", WEIR_EGRESS_RESERVED);
    EXPECT("[::1]", WEIR_EGRESS_LOOPBACK);
}

Test(egress, not_an_address) {
    weir_egress_class c;
    cr_expect_neq(weir__egress_classify_text("example.com", &c), 0);
    cr_expect_neq(weir__egress_classify_text("", &c), 0);
    cr_expect_neq(weir__egress_classify_text(NULL, &c), 0);
    cr_expect_neq(weir__egress_classify_text("256.1.1.1", &c), 0);
    cr_expect_neq(weir__egress_classify_text("[]", &c), 0);
}

Test(egress, sockaddr_and_format) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
    inet_pton(AF_INET, "10.0.0.1", &in.sin_addr);
    cr_expect_eq(weir__egress_classify_sockaddr((struct sockaddr *)&in), WEIR_EGRESS_PRIVATE);
    char buf[64];
    cr_expect_str_eq(weir__egress_format((struct sockaddr *)&in, true, buf, sizeof buf), "10.0.0.1:8080");
    cr_expect_str_eq(weir__egress_format((struct sockaddr *)&in, false, buf, sizeof buf), "10.0.0.1");

    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "::ffff:192.168.1.1", &in6.sin6_addr);
    cr_expect_eq(weir__egress_classify_sockaddr((struct sockaddr *)&in6), WEIR_EGRESS_PRIVATE);
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    cr_expect_str_eq(weir__egress_format((struct sockaddr *)&in6, true, buf, sizeof buf), "[2001:db8::1]:443");

    struct sockaddr other = {.sa_family = AF_UNIX};
    cr_expect_eq(weir__egress_classify_sockaddr(&other), WEIR_EGRESS_RESERVED);
    cr_expect_eq(weir__egress_classify_sockaddr(NULL), WEIR_EGRESS_RESERVED);
}

Test(egress, phrases) {
    cr_expect_str_eq(weir__egress_class_phrase(WEIR_EGRESS_PRIVATE), "a private address");
    cr_expect_str_eq(weir__egress_class_phrase(WEIR_EGRESS_LOOPBACK), "a loopback address");
    cr_expect_str_eq(weir__egress_class_phrase(WEIR_EGRESS_UNSPECIFIED), "an unspecified address");
}

Test(egress, allowlist_unset_allows_all) {
    cr_expect(weir__egress_host_allowed(NULL, "example.com"));
    cr_expect(weir__egress_host_allowed("", "example.com"));
    cr_expect(weir__egress_host_allowed(" , ,", "example.com"));
}

Test(egress, allowlist_exact_case_insensitive) {
    const char *list = "api.example.com, Other.ORG ,10.0.0.5,[2001:db8::1]";
    cr_expect(weir__egress_host_allowed(list, "api.example.com"));
    cr_expect(weir__egress_host_allowed(list, "API.Example.Com"));
    cr_expect(weir__egress_host_allowed(list, "other.org"));
    cr_expect(weir__egress_host_allowed(list, "other.org.")); /* trailing dot */
    cr_expect(weir__egress_host_allowed(list, "10.0.0.5"));
    cr_expect(weir__egress_host_allowed(list, "[2001:db8::1]"));
    cr_expect(weir__egress_host_allowed(list, "2001:db8::1"));
    cr_expect_not(weir__egress_host_allowed(list, "example.com"));
    cr_expect_not(weir__egress_host_allowed(list, "evil-api.example.com"));
    cr_expect_not(weir__egress_host_allowed(list, "api.example.com.evil.net"));
    cr_expect_not(weir__egress_host_allowed(list, "other.or"));
    cr_expect_not(weir__egress_host_allowed(list, "10.0.0.50"));
    cr_expect_not(weir__egress_host_allowed(list, ""));
    cr_expect_not(weir__egress_host_allowed(list, NULL));
}

Test(egress, allowlist_wildcards) {
    const char *list = "*.example.com";
    cr_expect(weir__egress_host_allowed(list, "a.example.com"));
    cr_expect(weir__egress_host_allowed(list, "a.b.EXAMPLE.com"));
    cr_expect_not(weir__egress_host_allowed(list, "example.com"));
    cr_expect_not(weir__egress_host_allowed(list, "badexample.com"));
    cr_expect_not(weir__egress_host_allowed(list, ".example.com.evil"));
    cr_expect(weir__egress_host_allowed("*", "anything.at.all"));
    cr_expect(weir__egress_host_allowed("x.org, *", "anything.at.all"));
}
