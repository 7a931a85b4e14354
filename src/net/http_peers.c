/*
 * Open connections per client address, for max_connections_per_ip: an
 * open-addressing table (linear probing, deletion by backward shift) of
 * address keys with their counts; a slot with count 0 is empty.  It holds
 * at most one entry per open connection and shrinks back to nothing.
 *
 * The key is 16 bytes: IPv4 as ::ffff:a.b.c.d, IPv6 cut to its /64 (one
 * host usually owns a whole /64, so counting addresses would let it open
 * 2^64 times the limit).
 */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/alloc.h"
#include "net/http_internal.h"

#define MIN_CAP 16

bool weir__http_peer_key(const struct sockaddr *sa, weir__http_peer *k) {
    memset(k, 0, sizeof *k);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        k->b[10] = k->b[11] = 0xff;
        memcpy(k->b + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        memcpy(k->b, &in6->sin6_addr, 16);
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(k->b, mapped, 12) != 0) memset(k->b + 8, 0, 8); /* the /64 */
        return true;
    }
    return false;
}

static size_t hash(const weir__http_peer *k) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (int i = 0; i < 16; i++) h = (h ^ k->b[i]) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The slot holding k, or the empty slot where it would go. */
static size_t find(const weir__http_peers *p, const weir__http_peer *k) {
    size_t m = p->cap - 1, i = hash(k) & m;
    while (p->slots[i].n && memcmp(p->slots[i].key.b, k->b, 16) != 0) i = (i + 1) & m;
    return i;
}

unsigned weir__http_peers_count(const weir__http_peers *p, const weir__http_peer *k) {
    return p->cap ? p->slots[find(p, k)].n : 0;
}

static int resize(weir__http_peers *p, size_t cap) {
    weir__http_peers_slot *old = p->slots;
    size_t old_cap = p->cap;
    weir__http_peers_slot *s = weir__calloc(cap, sizeof *s);
    if (!s) return WEIR_ENOMEM;
    p->slots = s;
    p->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].n) p->slots[find(p, &old[i].key)] = old[i];
    weir__free(old);
    return 0;
}

int weir__http_peers_add(weir__http_peers *p, const weir__http_peer *k) {
    if ((p->used + 1) * 2 > p->cap && resize(p, p->cap ? p->cap * 2 : MIN_CAP)) return WEIR_ENOMEM;
    size_t i = find(p, k);
    if (!p->slots[i].n) {
        p->slots[i].key = *k;
        p->used++;
    }
    p->slots[i].n++;
    return 0;
}

void weir__http_peers_remove(weir__http_peers *p, const weir__http_peer *k) {
    if (!p->cap) return;
    size_t m = p->cap - 1, i = find(p, k);
    if (!p->slots[i].n || --p->slots[i].n) return;
    p->used--;
    /* Backward shift: move later entries of the run into the hole when
     * their home slot is not between the hole and them. */
    for (size_t j = (i + 1) & m; p->slots[j].n; j = (j + 1) & m) {
        size_t home = hash(&p->slots[j].key) & m;
        if (((j - home) & m) >= ((j - i) & m)) {
            p->slots[i] = p->slots[j];
            p->slots[j].n = 0;
            i = j;
        }
    }
    if (!p->used) weir__http_peers_free(p);
}

void weir__http_peers_free(weir__http_peers *p) {
    weir__free(p->slots);
    p->slots = NULL;
    p->cap = p->used = 0;
}
