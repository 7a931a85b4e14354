/* Graph texts shared by the benchmarks. */
#ifndef WEIR_BENCH_GRAPHS_H
#define WEIR_BENCH_GRAPHS_H
#include <stdio.h>

/* A chain of n passthrough nodes (n0 → n1 → ...), written into buf;
 * `metadata` is inserted as is (e.g. ",\"metadata\":{...}" or ""). */
static inline const char *bench_chain(char *buf, int n, const char *metadata) {
    char *p = buf;
    p += sprintf(p, "{\"symbia\":\"1\",\"name\":\"chain\"%s,\"nodes\":[", metadata);
    for (int i = 0; i < n; i++) p += sprintf(p, "%s{\"id\":\"n%d\",\"component\":\"symbia.core.passthrough\"}", i ? "," : "", i);
    p += sprintf(p, "],\"edges\":[");
    for (int i = 0; i + 1 < n; i++)
        p += sprintf(p, "%s{\"source\":{\"node\":\"n%d\",\"port\":\"out\"},\"target\":{\"node\":\"n%d\",\"port\":\"in\"}}",
                     i ? "," : "", i, i + 1);
    sprintf(p, "]}");
    return buf;
}

#endif
