/*
 * test_tree.h - building error trees in tests: group("msg", n, e1, ...)
 * is Python's ExceptionGroup("msg", [e1, ...]) (consumes the children).
 * Include it once per test program (it defines a static function).
 */
#ifndef TG_TEST_TREE_H
#define TG_TEST_TREE_H

#include <stdarg.h>
#include <stddef.h>

#include "taskgroup/error.h"

#define TEST_TREE_MAX_CHILDREN 32

static tg_error *
group(const char *msg, size_t n, ...)
{
	tg_error *kids[TEST_TREE_MAX_CHILDREN];
	va_list ap;
	size_t i;

	if (n > TEST_TREE_MAX_CHILDREN)
		return NULL;
	va_start(ap, n);
	for (i = 0; i < n; i++)
		kids[i] = va_arg(ap, tg_error *);
	va_end(ap);
	return tg_error_group_new(msg, n, kids);
}

#endif /* TG_TEST_TREE_H */
