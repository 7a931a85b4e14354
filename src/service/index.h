/* A string-keyed index (chained hash) from ids to the service's records.
 * Keys are BORROWED: they must live as long as their entry (the records'
 * own id arrays). */
#ifndef WEIR_SERVICE_INDEX_H
#define WEIR_SERVICE_INDEX_H
#include <stddef.h>

typedef struct svc_index_node svc_index_node;

typedef struct svc_index {
    svc_index_node **buckets;
    size_t nbuckets, count;
} svc_index;

/* 0 or WEIR_ENOMEM (the index is unchanged). */
int svc_index_put(svc_index *ix, const char *key, void *value);
void *svc_index_get(const svc_index *ix, const char *key);
void svc_index_del(svc_index *ix, const char *key);
void svc_index_free(svc_index *ix);

#endif
