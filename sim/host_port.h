/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The host port: the simulator-side implementation of the OS services layer
 * (include/irqkit/osl.h).  It plays the part of the operating system around
 * the library: it owns the IDT, the call-function IPI vector and the work
 * queue, and it forwards device vectors to the library's entry point.
 */
#ifndef IKSIM_HOST_PORT_H
#define IKSIM_HOST_PORT_H

#include "sim.h"

/*
 * Install the IDT of the current machine.  Vectors SIM_VECTOR_CALL_FUNCTION
 * and SIM_VECTOR_SPURIOUS are handled by the port; every other vector is
 * passed to @entry (the library's ik_x86_common_interrupt), which must EOI.
 * With @entry NULL the port EOIs and counts the vector as unhandled.
 */
void sim_port_install(struct sim_machine *m, void (*entry)(unsigned int vector));

/* Number of vectors the port saw with no entry installed. */
uint64_t sim_port_unhandled(void);
/* Number of spurious-vector (SIM_VECTOR_SPURIOUS) entries; never EOIed. */
uint64_t sim_port_spurious(void);

/* Log lines at or below @level go to stderr (default IK_LOG_WARN). */
void sim_port_set_log_level(int level);
/* Number of log lines emitted at IK_LOG_WARN or worse, and the last one. */
uint64_t sim_port_warnings(void);
const char *sim_port_last_log(void);

#endif /* IKSIM_HOST_PORT_H */
