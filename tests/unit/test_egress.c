/* The egress guard's pure parts: address classes and the host allowlist. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "runtime/egress.h"

static weir_egress_class cls(const char *ip) {
    weir_egress_class c = WEIR_EGRESS_PUBLIC;
    int rc = weir__egress_classify_text(ip, &c);
    cr_assert_eq(rc, 0, "'%s' should parse as an address", ip);
    return c;
}

#define EXPECT(ip, want) cr_expect_eq(cls(ip), (want), "%s: got %d, want %s", (ip), (int)cls(ip), #want)

Test(egress, ipv4_public) {
    EXPECT("8.8.8.8", WEIR_EGRESS_PUBLIC);
    EXPECT("1.1.1.1", WEIR_EGRESS_PUBLIC);
    EXPECT("93.184.216.34", WEIR_EGRESS_PUBLIC);
    EXPECT("172.15.255.255", WEIR_EGRESS_PUBLIC); /* just below 172.16/12 */
    EXPECT("172.32.0.0", WEIR_EGRESS_PUBLIC);     /* just above */
    EXPECT("100.63.255.255", WEIR_EGRESS_PUBLIC); /* just below 100.64/10 */
    EXPECT("100.128.0.0", WEIR_EGRESS_PUBLIC);    /* just above */
    EXPECT("169.253.1.1", WEIR_EGRESS_PUBLIC);
    EXPECT("192.167.1.1", WEIR_EGRESS_PUBLIC);
    EXPECT("223.255.255.255", WEIR_EGRESS_PUBLIC);
    EXPECT("11.0.0.1", WEIR_EGRESS_PUBLIC);
    EXPECT("126.255.255.255", WEIR_EGRESS_PUBLIC);
    EXPECT("128.0.0.1", WEIR_EGRESS_PUBLIC);
}

Test(egress, ipv4_refused) {
    EXPECT("127.0.0.1", WEIR_EGRESS_LOOPBACK);
    EXPECT("127.255.255.254", WEIR_EGRESS_LOOPBACK);
    EXPECT("10.0.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("10.255.255.255", WEIR_EGRESS_PRIVATE);
    EXPECT("172.16.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("172.31.255.255", WEIR_EGRESS_PRIVATE);
    EXPECT("192.168.1.1", WEIR_EGRESS_PRIVATE);
    EXPECT("100.64.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("100.127.255.255", WEIR_EGRESS_PRIVATE);
    EXPECT("169.254.169.254", WEIR_EGRESS_LINK_LOCAL); /* cloud metadata */
    EXPECT("224.0.0.1", WEIR_EGRESS_MULTICAST);
    EXPECT("239.255.255.250", WEIR_EGRESS_MULTICAST);
    EXPECT("0.0.0.0", WEIR_EGRESS_UNSPECIFIED);
    EXPECT("0.1.2.3", WEIR_EGRESS_UNSPECIFIED);
    EXPECT("240.0.0.1", WEIR_EGRESS_RESERVED);
    EXPECT("255.255.255.255", WEIR_EGRESS_RESERVED);
}

Test(egress, ipv6) {
    EXPECT("2001:4860:4860::8888", WEIR_EGRESS_PUBLIC);
    EXPECT("2606:4700::1111", WEIR_EGRESS_PUBLIC);
    EXPECT("::1", WEIR_EGRESS_LOOPBACK);
    EXPECT("[::1]", WEIR_EGRESS_LOOPBACK);
    EXPECT("::", WEIR_EGRESS_UNSPECIFIED);
    EXPECT("fc00::1", WEIR_EGRESS_PRIVATE);
    EXPECT("fd12:3456::1", WEIR_EGRESS_PRIVATE);
    EXPECT("fec0::1", WEIR_EGRESS_PRIVATE);
    EXPECT("fe80::1", WEIR_EGRESS_LINK_LOCAL);
    EXPECT("febf::1", WEIR_EGRESS_LINK_LOCAL);
    EXPECT("ff02::1", WEIR_EGRESS_MULTICAST);
    EXPECT("fbff::1", WEIR_EGRESS_PUBLIC); /* just below fc00::/7 */
}

Test(egress, ipv6_embedding_ipv4) {
    /* IPv4-mapped */
    EXPECT("::ffff:127.0.0.1", WEIR_EGRESS_LOOPBACK);
    EXPECT("::ffff:10.1.2.3", WEIR_EGRESS_PRIVATE);
    EXPECT("::ffff:169.254.169.254", WEIR_EGRESS_LINK_LOCAL);
    EXPECT("::ffff:0.0.0.0", WEIR_EGRESS_UNSPECIFIED);
    EXPECT("::ffff:7f00:1", WEIR_EGRESS_LOOPBACK); /* hex spelling of the same */
    EXPECT("::ffff:8.8.8.8", WEIR_EGRESS_PUBLIC);
    /* translated, compatible, NAT64, 6to4 */
    EXPECT("::ffff:0:192.168.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("::127.0.0.1", WEIR_EGRESS_LOOPBACK);
    EXPECT("64:ff9b::10.0.0.1", WEIR_EGRESS_PRIVATE);
    EXPECT("64:ff9b::8.8.8.8", WEIR_EGRESS_PUBLIC);
    EXPECT("2002:7f00:1::1", WEIR_EGRESS_LOOPBACK);
    EXPECT("2002:0808:0808::1", WEIR_EGRESS_PUBLIC);
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
