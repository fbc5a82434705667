/* bench/nqueens_tg.c - nqueens(n) on taskgroup: each node opens a group
 * and spawns one child per valid column of the next row. */
#include "bench_tg.h"
#include "kernels.h"

typedef struct nq_node {
	int n, j;     /* board size; rows 0..j-1 are placed */
	long count;   /* solutions below this node */
	char a[NQ_MAX];
} nq_node;

static tg_error *nq_task(void *p)
{
	nq_node *node = p;
	int n = node->n, j = node->j;
	if (j == n) {
		node->count = 1;
		return NULL;
	}
	nq_node kids[NQ_MAX];
	tg_group g;
	int rc = tg_group_init(&g, NULL);
	if (rc != TG_OK)
		return TG_RAISE(&tg_RuntimeError, "tg_group_init: %s",
				tg_status_name(rc));
	for (int i = 0; i < n; i++) {
		nq_node *k = &kids[i];
		memcpy(k->a, node->a, (size_t)j);
		k->a[j] = (char)i;
		k->count = 0;
		if (nq_ok(j, k->a)) {
			k->n = n;
			k->j = j + 1;
			BENCH_TG_SPAWN(&g, nq_task, k);
		}
	}
	tg_error *err = tg_group_join(&g, NULL);
	if (err != NULL)
		return err;
	long count = 0;
	for (int i = 0; i < n; i++)
		count += kids[i].count;
	node->count = count;
	return NULL;
}

int main(int argc, char **argv)
{
	bench_args a;
	bench_parse(argc, argv, &a, 12);
	if (a.n < 1 || a.n >= NQ_MAX) {
		fprintf(stderr, "n must be 1..%d\n", NQ_MAX - 1);
		return 2;
	}
	tg_runner *r = bench_tg_runner(&a);
	for (int rep = -a.warmup; rep < a.reps; rep++) {
		nq_node root;
		memset(&root, 0, sizeof root);
		root.n = (int)a.n;
		uint64_t ns = bench_tg_run(r, nq_task, &root);
		if (rep >= 0)
			bench_report("nqueens", &a, a.threads, rep, ns,
				     nq_spawns(a.n), root.count,
				     root.count == nq_expected(a.n));
	}
	bench_tg_destroy(r);
	return 0;
}
