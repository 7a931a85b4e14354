#include "graphs.h"

#include <criterion/criterion.h>
#include <stdio.h>

char *tg_lattice(int layers) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    fprintf(f, "{\"symbia\":\"1.0\",\"name\":\"lattice\",\"nodes\":[");
    for (int l = 0; l < layers; l++)
        for (int i = 0; i < 2; i++)
            fprintf(f, "%s{\"id\":\"n%d_%d\",\"component\":\"symbia.core.passthrough\"}", l || i ? "," : "", l, i);
    fprintf(f, "],\"edges\":[");
    for (int l = 0; l + 1 < layers; l++)
        for (int k = 0; k < 4; k++)
            fprintf(f,
                    "%s{\"source\":{\"node\":\"n%d_%d\",\"port\":\"out\"},\"target\":{\"node\":\"n%d_%d\","
                    "\"port\":\"in\"}}",
                    l || k ? "," : "", l, k / 2, l + 1, k % 2);
    fprintf(f, "]}");
    fclose(f);
    return text;
}
