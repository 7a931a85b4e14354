/* Graph documents the tests build by the size they need. */
#ifndef WEIR_TEST_GRAPHS_H
#define WEIR_TEST_GRAPHS_H

/* `layers` layers of two passthroughs n<l>_0, n<l>_1; each node feeds both
 * nodes of the next layer.  One inject into n0_0 makes 2^layers - 1 hops.
 * The JSON text, from libc's malloc (the test allocator may be installed):
 * free() it. */
char *tg_lattice(int layers);

#endif
