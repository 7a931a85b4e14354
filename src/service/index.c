#include "service/index.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "weir/weir.h"

struct svc_index_node {
    const char *key;
    void *value;
    svc_index_node *next;
};

static size_t hash(const char *s) {
    uint64_t h = 14695981039346656037u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return (size_t)h;
}

static int grow(svc_index *ix) {
    size_t n = ix->nbuckets ? ix->nbuckets * 2 : 64;
    svc_index_node **b = weir__calloc(n, sizeof *b);
    if (!b) return WEIR_ENOMEM;
    for (size_t i = 0; i < ix->nbuckets; i++)
        for (svc_index_node *e = ix->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t k = hash(e->key) & (n - 1);
            e->next = b[k];
            b[k] = e;
        }
    weir__free(ix->buckets);
    ix->buckets = b;
    ix->nbuckets = n;
    return 0;
}

int svc_index_put(svc_index *ix, const char *key, void *value) {
    if (ix->count >= ix->nbuckets && grow(ix)) return WEIR_ENOMEM;
    svc_index_node *e = weir__malloc(sizeof *e);
    if (!e) return WEIR_ENOMEM;
    size_t k = hash(key) & (ix->nbuckets - 1);
    *e = (svc_index_node){key, value, ix->buckets[k]};
    ix->buckets[k] = e;
    ix->count++;
    return 0;
}

void *svc_index_get(const svc_index *ix, const char *key) {
    if (!ix->nbuckets) return NULL;
    for (svc_index_node *e = ix->buckets[hash(key) & (ix->nbuckets - 1)]; e; e = e->next)
        if (strcmp(e->key, key) == 0) return e->value;
    return NULL;
}

void svc_index_del(svc_index *ix, const char *key) {
    if (!ix->nbuckets) return;
    for (svc_index_node **p = &ix->buckets[hash(key) & (ix->nbuckets - 1)]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0) {
            svc_index_node *e = *p;
            *p = e->next;
            weir__free(e);
            ix->count--;
            return;
        }
}

void svc_index_free(svc_index *ix) {
    for (size_t i = 0; i < ix->nbuckets; i++)
        for (svc_index_node *e = ix->buckets[i], *next; e; e = next) {
            next = e->next;
            weir__free(e);
        }
    weir__free(ix->buckets);
    *ix = (svc_index){0};
}
