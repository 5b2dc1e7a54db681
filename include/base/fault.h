/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Named fault points, for the crash tests (tests/system/test_faults.py).
 *
 * FAULT("snapshot.created") marks the moment between two durable steps. In a
 * build with -DSNAPROTATE_FAULTS (`make faults`: build/faults/snaprotate, never
 * installed) the environment chooses what happens there:
 *   SNAPROTATE_FAULT=NAME[@N]  SIGKILL the process the Nth time (default the
 *                              first) it reaches point NAME;
 *   SNAPROTATE_FAULT_LOG=FILE  append each point reached, a line each.
 * A process that FAULT_ROLE("serve") named prefixes its points with "serve:"
 * (in the log and in SNAPROTATE_FAULT): a file:// target's serve is a child
 * that inherits the environment, and each process counts its own hits.
 * In every other build FAULT() and FAULT_ROLE() compile to nothing.
 */
#ifndef SNAPROTATE_FAULT_H
#define SNAPROTATE_FAULT_H

#ifdef SNAPROTATE_FAULTS
/**
 * fault_point() - Log @name and kill the process if the environment says so.
 * @name: The point's name, a string literal: "OPERATION.MOMENT".
 */
void fault_point(const char *name);

/**
 * fault_role() - Name the role of this process, the prefix of its points.
 * @role: A string literal ("serve").
 */
void fault_role(const char *role);
#define FAULT(name) fault_point("" name "")
#define FAULT_ROLE(role) fault_role("" role "")
#else
#define FAULT(name) do { } while (0)
#define FAULT_ROLE(role) do { } while (0)
#endif

#endif
