/* The per-address connection counts of the HTTP server (http_peers.c). */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "failalloc.h"
#include "net/http_internal.h"

static weir__http_peer v4(const char *a) {
    struct sockaddr_in in = {.sin_family = AF_INET};
    cr_assert_eq(inet_pton(AF_INET, a, &in.sin_addr), 1);
    weir__http_peer k;
    cr_assert(weir__http_peer_key((struct sockaddr *)&in, &k));
    return k;
}

static weir__http_peer v6(const char *a) {
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    cr_assert_eq(inet_pton(AF_INET6, a, &in6.sin6_addr), 1);
    weir__http_peer k;
    cr_assert(weir__http_peer_key((struct sockaddr *)&in6, &k));
    return k;
}

Test(http_peers, ipv4_is_one_address_ipv6_one_slash_64) {
    weir__http_peer a = v4("10.0.0.1"), b = v4("10.0.0.2"), m = v6("::ffff:10.0.0.1");
    cr_assert_neq(memcmp(&a, &b, sizeof a), 0);
    cr_assert_eq(memcmp(&a, &m, sizeof a), 0, "a v4-mapped address is its IPv4 address");
    weir__http_peer x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff:1:2:3"), z = v6("2001:db8:1:3::1");
    cr_assert_eq(memcmp(&x, &y, sizeof x), 0, "one /64");
    cr_assert_neq(memcmp(&x, &z, sizeof x), 0);
    struct sockaddr sa = {.sa_family = AF_UNIX};
    weir__http_peer k;
    cr_assert_not(weir__http_peer_key(&sa, &k));
}

Test(http_peers, counts_match_a_reference_through_adds_and_removes) {
    fa_install(0, 0);
    enum { KEYS = 500, OPS = 20000 };
    static unsigned ref[KEYS];
    static weir__http_peer keys[KEYS];
    for (int i = 0; i < KEYS; i++) {
        char a[32];
        snprintf(a, sizeof a, "10.%d.%d.%d", i % 7, i / 7 % 251, i % 253);
        keys[i] = v4(a);
        ref[i] = 0;
    }
    weir__http_peers p = {0};
    srand(9);
    for (int op = 0; op < OPS; op++) {
        int i = rand() % KEYS;
        if (ref[i] && rand() % 2) {
            weir__http_peers_remove(&p, &keys[i]);
            ref[i]--;
        } else {
            cr_assert_eq(weir__http_peers_add(&p, &keys[i]), 0);
            ref[i]++;
        }
        if (op % 997 == 0)
            for (int j = 0; j < KEYS; j++) cr_assert_eq(weir__http_peers_count(&p, &keys[j]), ref[j], "key %d", j);
    }
    for (int j = 0; j < KEYS; j++) cr_assert_eq(weir__http_peers_count(&p, &keys[j]), ref[j]);
    for (int j = 0; j < KEYS; j++)
        while (ref[j]--) weir__http_peers_remove(&p, &keys[j]);
    cr_assert_eq(p.used, 0);
    cr_assert_null(p.slots, "empty: freed");
    weir__http_peers_remove(&p, &keys[0]); /* nothing there: no-op */
    cr_assert_eq(weir__http_peers_count(&p, &keys[0]), 0);
    cr_assert_eq(fa_live(), 0, "every allocation freed");
    fa_uninstall();
}
