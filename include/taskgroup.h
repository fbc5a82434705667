/*
 * taskgroup.h - the umbrella header: task groups, error groups,
 * cooperative cancellation and a runner on a work-stealing pool.
 * See README.md and docs/ for the guide.
 */
#ifndef TASKGROUP_H
#define TASKGROUP_H

#include "taskgroup/common.h"
#include "taskgroup/version.h"
#include "taskgroup/error.h"
#include "taskgroup/group.h"
#include "taskgroup/cancel.h"
#include "taskgroup/runner.h"
#include "taskgroup/blocking.h"
#include "taskgroup/barrier.h"
#include "taskgroup/trace.h"

#endif /* TASKGROUP_H */
