/* The service's id index. */
#include <stdio.h>

#include "service/index.h"
#include "shell.h"

Test(index, put_get_delete_through_growth) {
    static char keys[3000][16];
    svc_index ix = {0};
    for (int i = 0; i < 3000; i++) {
        snprintf(keys[i], sizeof keys[i], "id-%d", i);
        cr_assert_eq(svc_index_put(&ix, keys[i], &keys[i]), 0);
    }
    cr_assert_eq(ix.count, 3000);
    for (int i = 0; i < 3000; i++) cr_assert_eq(svc_index_get(&ix, keys[i]), &keys[i], "%s", keys[i]);
    cr_assert_null(svc_index_get(&ix, "id-3000"));
    for (int i = 0; i < 3000; i += 2) svc_index_del(&ix, keys[i]);
    svc_index_del(&ix, "never-there");
    cr_assert_eq(ix.count, 1500);
    for (int i = 0; i < 3000; i++) {
        if (i % 2) cr_assert_eq(svc_index_get(&ix, keys[i]), &keys[i]);
        else cr_assert_null(svc_index_get(&ix, keys[i]));
    }
    svc_index_free(&ix);
    cr_assert_null(svc_index_get(&ix, "id-1"));
}
